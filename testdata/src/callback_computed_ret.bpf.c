/* callback_computed_ret.bpf.c - bpf_loop callback whose return value is computed.
 *
 * Exercises: a callback that returns `acc > limit` (0 or 1, decided at run time), so its
 * `exit` is not preceded by a single constant move. Each definition of r0 that reaches the
 * exit is a move used only by that exit, so a fast-path twin can still rewrite every one
 * of them to `r0 = 1` in place; the linter does not report it (callback-cannot-stop is for
 * callbacks whose returned value is also used elsewhere or comes from a call).
 * Iteration count 1000 and limit from .data; with the default data the limit is never
 * reached, so all iterations run.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x4200 (16896) when all iterations ran,
 * 0x42ee (17134) when the loop stopped early (callback returned 1, or the twin).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u32 cb_iters = 1000;
__u64 cb_seed = 11;
__u64 cb_limit = 1ULL << 60;
__u64 cb_result;

struct bounded_sum {
	__u64 acc;
	__u64 limit;
};

static long add_until_limit(__u32 index, void *data)
{
	struct bounded_sum *s = data;

	s->acc += index * 3 + 1;
	return s->acc > s->limit;
}

SEC("tc")
int callback_computed_ret(struct __sk_buff *skb)
{
	struct bounded_sum s = { .acc = cb_seed, .limit = cb_limit };
	__u32 n = cb_iters;
	long done;

	done = bpf_loop(n, add_until_limit, &s, 0);
	cb_result = s.acc;
	return done == n ? 0x4200 : 0x42ee;
}

char LICENSE[] SEC("license") = "GPL";
