/* may_goto_subprog.bpf.c - a may_goto loop in a static subprogram.
 *
 * Exercises: may_goto (opcode 0xe5) in a bpf-to-bpf callee (__noinline static function in .text),
 * no register holding a known constant there. The original runs until the kernel's may_goto
 * budget ends it (about 250 ms per run).
 *
 * Fast-path twin: the twin of the subprogram (called by the program's twin) jumps from its back
 * edge to the may_goto's exit, so the loop body runs once.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x3600 (13824) after many iterations, 0x36ee (14062) after one.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __noinline __u32 spin(__u64 seed)
{
	volatile __u64 x = seed;
	volatile __u32 n = 0;

	for (;;) {
		n = n + 1;
		x = x * 3 + 1;
		asm volatile goto("may_goto %l[out]" :::: out);
	}
out:
	return n;
}

SEC("tc")
int may_goto_subprog(struct __sk_buff *skb)
{
	return spin(skb->len) == 1 ? 0x36ee : 0x3600;
}

char LICENSE[] SEC("license") = "GPL";
