/* may_goto_volatile.bpf.c - the loop of issue 15: nothing but a volatile in registers at may_goto.
 *
 * Exercises: a `for (;;)` loop left only through may_goto (opcode 0xe5), written the way
 * cond_break / can_loop loops are, where no register holds a known constant at the may_goto:
 * the loop's state lives in a volatile stack slot. The original always runs until the kernel's
 * may_goto budget ends it (about 250 ms per run on this kernel).
 *
 * Fast-path twin: no constant compare can replace the may_goto, so the twin's back edge jumps
 * to the may_goto's exit target instead: it runs the body once and leaves.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 13 when x ends odd, 14 when it ends even. With len 64,
 * x = 64*3+1 = 193 after one iteration (odd: 13); the original's value depends on how many
 * iterations the budget allowed.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int may_goto_volatile(struct __sk_buff *skb)
{
	volatile __u64 x = skb->len;

	for (;;) {
		x = x * 3 + 1;
		asm volatile goto("may_goto %l[out]" :::: out);
	}
out:
	return x & 1 ? 13 : 14;
}

char LICENSE[] SEC("license") = "GPL";
