/* suppressed.bpf.c - findings silenced by `bpfrewrite: ignore` comments (lint fixture).
 *
 * Line 32's comment silences spin-lock-not-terminable only: fast-path-keeps-helper still
 * reports the lock there. Line 34's comment names another rule, so the unlock is still
 * reported. Line 46's bare comment silences every rule on that line.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct locked_counter {
	struct bpf_spin_lock lock;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked_counter);
} sup_counters SEC(".maps");

SEC("tc")
int suppressed_by_slug(struct __sk_buff *skb)
{
	struct locked_counter *c;
	__u32 key = 0;
	__u64 now;

	c = bpf_map_lookup_elem(&sup_counters, &key);
	if (!c)
		return 0;
	bpf_spin_lock(&c->lock); // bpfrewrite: ignore[spin-lock-not-terminable]
	now = ++c->count;
	bpf_spin_unlock(&c->lock); // bpfrewrite: ignore[loop-without-exit]
	return now;
}

SEC("tc")
int suppressed_bare(struct __sk_buff *skb)
{
	struct locked_counter *c;
	__u32 key = 0;

	c = bpf_map_lookup_elem(&sup_counters, &key);
	if (!c)
		return 0;
	bpf_spin_lock(&c->lock); /* bpfrewrite: ignore */
	c->count += 2;
	bpf_spin_unlock(&c->lock); // bpfrewrite: ignore[fast-path-keeps-helper, loop-without-exit]
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
