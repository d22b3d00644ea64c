/* two_progs_one_section.bpf.c - two XDP programs in the same ELF section.
 *
 * Exercises: SEC("xdp") holding two STT_FUNC symbols (xdp_first, then xdp_second), each
 * its own program (libbpf 0.2+ splits a section by symbol), both calling the static
 * subprogram parse_len in .text (libbpf appends a copy to each program). xdp_second also
 * uses bpf_loop with a callback, so a rewriter that appends a fast-path twin must keep
 * instruction offsets, relocations and .BTF.ext records right for the program that does
 * not start at offset 0 of its section.
 *
 * Fast-path twin: only xdp_second has an exit point (the bpf_loop callback's `r0 = 0`);
 * xdp_first has none and needs no twin.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): xdp_first returns 0xd100 + 64 = 0xd140 (53568)
 * (the clamped packet length added to a base); xdp_second returns 0xd200 (53760) when its
 * 32 iterations completed, 0xd2ee (53998) when bpf_loop stopped early.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u32 second_turns = 32;
__u64 second_result;

static __noinline int parse_len(struct xdp_md *ctx)
{
	int len = ctx->data_end - ctx->data;

	return len > 255 ? 255 : len;
}

SEC("xdp")
int xdp_first(struct xdp_md *ctx)
{
	return 0xd100 + parse_len(ctx);
}

static long double_it(__u32 index, void *data)
{
	__u64 *v = data;

	*v = *v * 2 + index;
	return 0;
}

SEC("xdp")
int xdp_second(struct xdp_md *ctx)
{
	__u64 v = parse_len(ctx);
	__u32 n = second_turns;

	if (bpf_loop(n, double_it, &v, 0) != n)
		return 0xd2ee;
	second_result = v;
	return 0xd200;
}

char LICENSE[] SEC("license") = "GPL";
