/* may_goto_undecided.bpf.c - a may_goto loop the fast path cannot make its twin leave.
 *
 * No register holds one known constant on every path to the may_goto, so it cannot become a
 * constant compare; and `last`, read after the loop, is set again after the may_goto, so at the
 * loop's back edge it holds a value the may_goto's exit path was never verified with: the back
 * edge is not retargeted either. The twin keeps may_goto and runs until its budget: patch
 * reports a problem and loop-without-exit reports the loop.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u32 nr_outer = 1000;
__u64 total;

SEC("xdp")
int may_goto_undecided(struct xdp_md *ctx)
{
	__u64 s = 0, last = 0;
	__u32 i = 0;
	__u32 lim = nr_outer;

	while (i < lim) {
		last = i * 7;
		asm volatile goto("may_goto %l[out]" :::: out);
		last = last ^ s;
		s += last;
		i++;
	}
out:
	total = s + last;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
