/* callback_ret1_reused.bpf.c - a bpf_loop callback that already returns the constant 1 on the
 * path where it stops, with the compiler reusing that register for a store (lint fixture).
 *
 * Shaped like a path-walking callback of a security agent: when the walk is done it marks
 * the context resolved and returns 1. clang stores the `1` it loaded into r0 for the return
 * as the `true` of `resolved`; the twin needs no change there (r0 is 1 already), so
 * callback-cannot-stop must stay quiet. The verifier accepts the program.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct walk_state {
	__u64 seen;
	__u32 depth;
	__u32 max_depth;
	bool resolved;
};

__u32 walk_iters = 64;

static long walk_step(__u32 index, void *arg)
{
	struct walk_state *st = arg;

	if (st->depth >= st->max_depth) {
		st->resolved = true;
		return 1;
	}
	st->depth++;
	st->seen += index;
	return 0;
}

SEC("tc")
int walk_path(struct __sk_buff *skb)
{
	struct walk_state st = { .max_depth = skb->len & 31 };

	bpf_loop(walk_iters, walk_step, &st, 0);
	return st.resolved ? 1 : 0;
}

char LICENSE[] SEC("license") = "GPL";
