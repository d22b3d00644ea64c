/* may_goto_spills.bpf.c - a may_goto loop whose back edge brings 8-byte spills the may_goto never saw.
 *
 * Exercises: after the may_goto, x and y are stored again (`*(u64 *)(r10 - 8) = r2`, opcode 0x7b)
 * from values filled from the stack (`r1 = *(u64 *)(r10 - 8)`, opcode 0x79). x is read after the
 * loop's exit, so the back edge (redirected to the exit in the twin) reaches it with a value the
 * may_goto's exit path was not verified with: the back-edge form applies only because that value
 * is a plain number on both paths (a mul, an add, a xor of filled numbers).
 *
 * Fast-path twin: the back edge jumps to the may_goto's exit; the twin runs the body once.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): the twin returns 197 (x = 64*3+1 = 193, y = 195,
 * x ^= y gives 2, and 2 + 195 = 197); the original runs until the kernel's may_goto budget ends it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int may_goto_spills(struct __sk_buff *skb)
{
	volatile __u64 x = skb->len;
	volatile __u64 y = 0;

	for (;;) {
		x = x * 3 + 1;
		asm volatile goto("may_goto %l[out]" :::: out);
		y = x + 2;
		x = x ^ y;
	}
out:
	return (x + y) & 0xff;
}

char LICENSE[] SEC("license") = "GPL";
