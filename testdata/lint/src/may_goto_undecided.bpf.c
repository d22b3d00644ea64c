/* may_goto_undecided.bpf.c - a may_goto loop the fast path cannot make its twin leave.
 *
 * No register holds one known constant on every path to the may_goto, so it cannot become a
 * constant compare; the code after it is reached only through it, so it cannot become a plain
 * `goto`; and clang-19 enters this loop through a block shared with the initialisation of m
 * (`m = 0` and `m = m + 1` store the same slot), which the end of the body reaches by falling
 * through: no same-width jump can redirect that back edge. The twin keeps may_goto and runs
 * until its budget: patch reports a problem and loop-without-exit reports the loop.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int may_goto_undecided(struct xdp_md *ctx)
{
	volatile __u64 x = ctx->ingress_ifindex;
	volatile __u32 n = 0, m = 0;

	for (;;) {
		n = n + 1;
		x = x * 3 + 1;
		asm volatile goto("may_goto %l[out]" :::: out);
		if (x & 2)
			continue;
		m = m + 1;
	}
out:
	return n == 1 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
