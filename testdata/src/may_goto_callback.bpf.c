/* may_goto_callback.bpf.c - a may_goto loop in a bpf_loop callback.
 *
 * Exercises: may_goto (opcode 0xe5) inside the callback of bpf_loop (one call), no register
 * holding a known constant there. The original's callback runs until the kernel's may_goto
 * budget ends it (about 250 ms per run).
 *
 * Fast-path twin: bpf_loop is kept and its callback's twin returns 1; inside the callback the
 * back edge jumps to the may_goto's exit, so the loop body runs once.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x3700 (14080) after many iterations, 0x37ee (14318) after one.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct cb_state {
	__u64 x;
	__u32 n;
};

static int spin(__u64 index, struct cb_state *st)
{
	volatile __u64 x = st->x;
	volatile __u32 n = 0;

	for (;;) {
		n = n + 1;
		x = x * 3 + 1;
		asm volatile goto("may_goto %l[out]" :::: out);
	}
out:
	st->x = x;
	st->n = n;
	return 0;
}

SEC("tc")
int may_goto_callback(struct __sk_buff *skb)
{
	struct cb_state st = { .x = skb->len, .n = 0 };

	bpf_loop(1, spin, &st, 0);
	return st.n == 1 ? 0x37ee : 0x3700;
}

char LICENSE[] SEC("license") = "GPL";
