/* loop_lookup_break.bpf.c - a counted loop that leaves when a map lookup fails (lint fixture).
 *
 * The fast path replaces bpf_map_lookup_elem by `r0 = 0`, so the `break` below ends the loop
 * at once: loop-without-exit must NOT report this loop (unlike plain_loop.bpf.c).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} lookup_table SEC(".maps");

__u64 lookup_sum;

SEC("tc")
int loop_lookup_break(struct __sk_buff *skb)
{
	__u64 sum = 0;
	__u32 i;

#pragma clang loop unroll(disable)
	for (i = 0; i < 64; i++) {
		__u64 *v = bpf_map_lookup_elem(&lookup_table, &i);

		if (!v)
			break;
		sum += *v;
	}
	lookup_sum = sum;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
