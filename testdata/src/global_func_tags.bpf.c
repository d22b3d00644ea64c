/* global_func_tags.bpf.c - a global subprogram whose arguments carry BTF decl tags.
 *
 * Exercises: __arg_ctx / __arg_nonnull (btf_decl_tag("arg:ctx"), "arg:nonnull") on the
 * arguments of a global function. The verifier checks a global function on its own, from
 * its BTF prototype and these DECL_TAGs; without them it cannot size the `void *ctx` argument.
 *
 * Fast-path twin: global_sub__fast gets its own BTF FUNC *and* copies of the DECL_TAGs that
 * point at the original's FUNC. Without the copies the verifier rejects the twin ("arg#0
 * reference type('UNKNOWN ') size cannot be determined"; measured on 6.18).
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 2 (XDP_PASS) for the original and the twin alike; there
 * is nothing to stub.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define __arg_ctx __attribute__((btf_decl_tag("arg:ctx")))
#define __arg_nonnull __attribute__((btf_decl_tag("arg:nonnull")))

__noinline int global_sub(void *ctx __arg_ctx, int *p __arg_nonnull)
{
	return *p + (ctx != 0);
}

SEC("xdp")
int global_func_tags(struct xdp_md *ctx)
{
	int v = 3;

	return global_sub(ctx, &v) == 4 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
