/* plain_loop.bpf.c - a bounded C loop with no exit helper, kept as a real back edge.
 *
 * Exercises: `for (i = 0; i < 100; i++)` with `#pragma clang loop unroll(disable)`, so
 * the object has a backward jump the verifier bounds by walking all 100 iterations. No
 * helper, kfunc or may_goto can end it early: the linter should report a loop without an
 * early-exit point, and a fast-path twin has nothing to rewrite (its cost is fixed by the
 * constant bound).
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): always 0x5100 (20736); the program has no early
 * exit, so it has no other outcome.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 plain_seed = 5;
__u64 plain_result;

SEC("tc")
int plain_loop(struct __sk_buff *skb)
{
	__u64 acc = plain_seed;
	int i;

#pragma clang loop unroll(disable)
	for (i = 0; i < 100; i++) {
		acc = acc * 131 + (acc >> 7) + i;
	}
	plain_result = acc;
	return 0x5100;
}

char LICENSE[] SEC("license") = "GPL";
