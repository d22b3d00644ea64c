/* may_goto_latches.bpf.c - a may_goto loop with two back edges (a `continue` and the loop's end).
 *
 * Exercises: a `for (;;)` loop whose `continue` is a conditional jump back to the loop head and
 * whose body ends with an unconditional one; the may_goto (opcode 0xe5) comes before both (a
 * cycle without one is rejected: "infinite loop detected"), and no register holds a known
 * constant there (state in volatile stack slots; x is not read after the loop). The original runs until
 * the kernel's may_goto budget ends it (about 250 ms per run).
 *
 * Fast-path twin: both back edges jump to the may_goto's exit (the conditional one stays
 * conditional, its fall-through unchanged), so the body runs once whichever edge is taken.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x3500 (13568) after many iterations, 0x35ee (13806) after one.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int may_goto_latches(struct __sk_buff *skb)
{
	volatile __u64 x = skb->len;
	volatile __u32 n = 0;

	for (;;) {
		n = n + 1;
		x = x * 3 + 1;
		asm volatile goto("may_goto %l[out]" :::: out);
		if (x & 2)
			continue;
		x = x + 5;
	}
out:
	return n == 1 ? 0x35ee : 0x3500;
}

char LICENSE[] SEC("license") = "GPL";
