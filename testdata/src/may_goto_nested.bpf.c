/* may_goto_nested.bpf.c - nested may_goto loops where no register holds a known constant.
 *
 * Exercises: may_goto (opcode 0xe5) in nested `for (;;)` loops, state in volatile stack slots.
 *   may_goto_nested        the inner loop's may_goto leaves both loops; the inner loop also
 *                          breaks to the outer one on a data-dependent test, and the outer
 *                          loop has a may_goto to the same exit (the verifier rejects a cycle
 *                          without one: "infinite loop detected").
 *   may_goto_nested_inner  the inner loop's may_goto leaves the inner loop only; the outer loop
 *                          has a may_goto of its own that leaves it.
 * Both originals run until the kernel's may_goto budget ends them (about 250 ms per run).
 *
 * Fast-path twin: every back edge of each loop a may_goto guards jumps to that may_goto's exit,
 * so each loop runs at most once: n (inner iterations) and m (outer ones) end at 1.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes):
 *   may_goto_nested:       0x3300 (13056) after many iterations, 0x33ee (13294) after one.
 *   may_goto_nested_inner: 0x3400 (13312) after many iterations, 0x34ee (13550) after one.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int may_goto_nested(struct __sk_buff *skb)
{
	volatile __u64 x = skb->len;
	volatile __u32 n = 0, m = 0;

	for (;;) {
		m = m + 1;
		x = x ^ 0x55;
		asm volatile goto("may_goto %l[out]" :::: out);
		for (;;) {
			n = n + 1;
			x = x * 3 + 1;
			if (x & 0x100)
				break;
			asm volatile goto("may_goto %l[out]" :::: out);
		}
	}
out:
	return n == 1 && m == 1 ? 0x33ee : 0x3300;
}

SEC("tc")
int may_goto_nested_inner(struct __sk_buff *skb)
{
	volatile __u64 x = skb->len;
	volatile __u32 n = 0, m = 0;

	for (;;) {
		m = m + 1;
		for (;;) {
			n = n + 1;
			x = x * 3 + 1;
			asm volatile goto("may_goto %l[next]" :::: next);
		}
next:
		x = x ^ 0x55;
		asm volatile goto("may_goto %l[out]" :::: out);
	}
out:
	return n == 1 && m == 1 ? 0x34ee : 0x3400;
}

char LICENSE[] SEC("license") = "GPL";
