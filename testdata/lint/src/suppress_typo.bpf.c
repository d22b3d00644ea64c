/* suppress_typo.bpf.c - a suppression comment with a misspelt slug (lint fixture).
 *
 * The comment on the bpf_spin_lock line names `spin-lock-not-terminabel`: it silences nothing,
 * so spin-lock-not-terminable is still reported there and invalid-suppression reports the
 * comment itself. The comment on the unlock line is spelt right and silences its info. The
 * verifier accepts the program.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct guarded {
	struct bpf_spin_lock lock;
	__u64 packets;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct guarded);
} guarded_map SEC(".maps");

SEC("tc")
int count_packets(struct __sk_buff *skb)
{
	struct guarded *g;
	__u32 key = 0;

	g = bpf_map_lookup_elem(&guarded_map, &key);
	if (!g)
		return 0;
	bpf_spin_lock(&g->lock); // bpfrewrite: ignore[spin-lock-not-terminabel]
	g->packets++;
	bpf_spin_unlock(&g->lock); // bpfrewrite: ignore[fast-path-keeps-helper]
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
