/* callback_const_ret.bpf.c - bpf_loop callback that always returns the constant 0.
 *
 * Exercises: a callback whose every `exit` is preceded by `r0 = 0` ("continue"). This is
 * the compliant shape for the linter: a constant return the rewriter can flip to 1
 * ("stop") in the fast-path twin; the kernel facts file measured this rewrite accepted.
 * Iteration count 1000 from .data.
 *
 * Fast-path twin: change the callback's `r0 = 0` to `r0 = 1` (bpf_loop stops after one
 * call) or replace `call bpf_loop` by `r0 = 0`.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x4100 (16640) when all iterations ran,
 * 0x41ee (16878) when bpf_loop stopped early.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u32 cb_iters = 1000;
__u64 cb_seed = 11;
__u64 cb_result;

static long add_index(__u32 index, void *data)
{
	__u64 *acc = data;

	*acc += index * 3 + 1;
	return 0;
}

SEC("tc")
int callback_const_ret(struct __sk_buff *skb)
{
	__u64 acc = cb_seed;
	__u32 n = cb_iters;
	long done;

	done = bpf_loop(n, add_index, &acc, 0);
	cb_result = acc;
	return done == n ? 0x4100 : 0x41ee;
}

char LICENSE[] SEC("license") = "GPL";
