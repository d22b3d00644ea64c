/* loop_const_bound.bpf.c - bpf_loop with a constant iteration count (lint fixture).
 *
 * long-running-helper must report the call at line 27, column 6, naming the bound (100)
 * and the callback (count_step).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 const_result;

static long count_step(__u32 index, void *data)
{
	__u64 *acc = data;

	*acc += index;
	return 0;
}

SEC("tc")
int loop_const_bound(struct __sk_buff *skb)
{
	__u64 acc = skb->len;
	long done;

	/* the bound is the constant 100: the linter can say how long this may run */
	done =
	    bpf_loop(100, count_step, &acc, 0);
	const_result = acc;
	return done;
}

char LICENSE[] SEC("license") = "GPL";
