/* callback_leaks_r0.bpf.c - bpf_loop callback whose return value is also stored (lint fixture).
 *
 * The value the callback returns is computed by one instruction whose result is also written
 * to memory, so that instruction cannot be replaced by `r0 = 1` without changing the store:
 * callback-cannot-stop must report the callback `store_and_return`.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u32 leak_iters = 1000;
__u64 leak_result;

static long store_and_return(__u32 index, void *data)
{
	__u64 *slot = data;
	long v = (*slot >> 3) & 1;

	*slot = v + index;
	return v;
}

SEC("tc")
int callback_leaks_r0(struct __sk_buff *skb)
{
	__u64 acc = skb->len;

	bpf_loop(leak_iters, store_and_return, &acc, 0);
	leak_result = acc;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
