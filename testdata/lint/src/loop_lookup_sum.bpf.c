/* loop_lookup_sum.bpf.c - a counted loop whose failed map lookups stay inside it (lint fixture).
 *
 * The fast path replaces bpf_map_lookup_elem by `r0 = 0`, but the NULL branch only skips the
 * addition and the loop goes on: the twin still runs all 5000 iterations, so
 * loop-without-exit must report this loop (compare loop_lookup_break.bpf.c, which leaves).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} sum_table SEC(".maps");

__u64 lookup_total;

SEC("tc")
int loop_lookup_sum(struct __sk_buff *skb)
{
	__u64 sum = 0;
	__u32 key = 3;
	int i;

#pragma clang loop unroll(disable)
	for (i = 0; i < 5000; i++) {
		__u64 *v = bpf_map_lookup_elem(&sum_table, &key);

		if (v)
			sum += *v;
	}
	lookup_total = sum;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
