/* may_goto_iter.bpf.c - an open-coded iterator loop (bpf_iter_num_*) that also contains may_goto.
 *
 * Exercises: bpf_iter_num_new / _next / _destroy (kfuncs) over [0, iter_end) with a may_goto
 * (opcode 0xe5) in the body whose exit leaves the loop; no register holds a known constant at
 * the may_goto. The original visits every value or stops when the may_goto budget runs out.
 *
 * Fast-path twin: bpf_iter_num_next is stubbed to NULL, so the loop ends at its first test; the
 * back edge also jumps to the may_goto's exit (which destroys the iterator), so the twin would
 * leave after one iteration even with next kept.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x3800 (14336) when every value was visited, 0x38ee (14574)
 * when may_goto cut the loop short, 0x38ef (14575) when next ended it before any value.
 */
#include "vmlinux.h"
#include "kfuncs.h"

int iter_end2 = 1 << 23;

SEC("tc")
int may_goto_iter(struct __sk_buff *skb)
{
	struct bpf_iter_num it;
	volatile __u64 x = skb->len;
	volatile int n = 0;
	int *v;
	int ret = 0x3800;

	bpf_iter_num_new(&it, 0, iter_end2);
	while ((v = bpf_iter_num_next(&it))) {
		n = n + 1;
		x = x * 3 + *v;
		asm volatile goto("may_goto %l[out]" :::: out);
	}
	goto done;
out:
	ret = 0x38ee;
done:
	bpf_iter_num_destroy(&it);
	return n == 0 ? 0x38ef : ret;
}

char LICENSE[] SEC("license") = "GPL";
