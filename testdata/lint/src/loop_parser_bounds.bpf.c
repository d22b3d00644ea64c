/* loop_parser_bounds.bpf.c - parser loops of the kind bcc's libbpf-tools write (lint fixture).
 *
 * comm_hash walks the 16 bytes of a task name and the 64 bytes of a path prefix: short
 * counted loops whose iterations x body stay under loop-cost-threshold (10000 by default), so
 * loop-without-exit must stay quiet on them. The rule reports sum_records, capped at 4000
 * iterations (4000 x its body is above the threshold), and drain_records, which counts down
 * from a value read from a map: the linter cannot count it (the verifier can: the value is
 * masked to 15). The verifier accepts all three programs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} record_count SEC(".maps");

__u64 comm_hash_out;
__u64 records_out;
char path_prefix[64];

SEC("tc")
int comm_hash(struct __sk_buff *skb)
{
	char comm[16];
	__u64 h = skb->len;
	int i;

	bpf_get_current_comm(comm, sizeof(comm));
#pragma clang loop unroll(disable)
	for (i = 0; i < 16; i++)
		h = h * 31 + comm[i];
#pragma clang loop unroll(disable)
	for (i = 0; i < 64; i++) {
		if (!path_prefix[i])
			break;
		h = (h ^ path_prefix[i]) * 0x100000001b3ULL;
	}
	comm_hash_out = h;
	return 0;
}

SEC("tc")
int sum_records(struct __sk_buff *skb)
{
	__u32 key = 0, *n, i;
	__u64 sum = 0;

	n = bpf_map_lookup_elem(&record_count, &key);
	if (!n)
		return 0;
	for (i = 0; i < *n && i < 4000; i++)
		sum += i ^ skb->len;
	records_out = sum;
	return 0;
}

SEC("tc")
int drain_records(struct __sk_buff *skb)
{
	__u32 key = 0, *n;
	__u64 sum = skb->len, i;

	n = bpf_map_lookup_elem(&record_count, &key);
	if (!n)
		return 0;
	for (i = *n & 15; i > 0; i--)
		sum = sum * 3 + i;
	records_out = sum;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
