/* may_goto_undecided.bpf.c - a may_goto loop the fast path cannot turn into an exit.
 *
 * No register holds one known constant on every path to the may_goto (the only constants
 * are redefined in the loop), so the twin keeps may_goto and runs until its budget: patch
 * reports a problem and loop-without-exit reports the loop.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u32 nr_outer = 1000;
__u64 total;

SEC("xdp")
int may_goto_undecided(struct xdp_md *ctx)
{
	__u64 s = 0;
	__u32 i = 0;
	__u32 lim = nr_outer;

	while (i < lim) {
		asm volatile goto("may_goto %l[out]" :::: out);
		s += i * i;
		i++;
	}
out:
	total = s;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
