/* res_lock_unlocked_access.bpf.c - a map value written whether or not bpf_res_spin_lock took
 * the lock (lint fixture; the verifier accepts this program).
 *
 * The result is tested, but only after the increment: when the lock fails (deadlock or
 * timeout in the original, always in the fast-path twin) the slot is written without the
 * lock. unchecked-lock-result must report the access at line 37, and nothing in
 * count_checked, which tests the result first.
 */
#include "vmlinux.h"
#include "kfuncs.h"

struct histogram {
	struct bpf_res_spin_lock lock;
	__u64 slots[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct histogram);
} histograms SEC(".maps");

SEC("tc")
int count_unlocked(struct __sk_buff *skb)
{
	struct histogram *h;
	__u32 key = 0;
	__u32 idx = skb->len & 15;
	int ret;

	h = bpf_map_lookup_elem(&histograms, &key);
	if (!h)
		return 0;

	ret = bpf_res_spin_lock(&h->lock);
	h->slots[idx]++;	/* written whether or not the lock was taken */
	if (!ret)
		bpf_res_spin_unlock(&h->lock);
	return 0;
}

SEC("tc")
int count_checked(struct __sk_buff *skb)
{
	struct histogram *h;
	__u32 key = 0;
	__u32 idx = skb->len & 15;

	h = bpf_map_lookup_elem(&histograms, &key);
	if (!h)
		return 0;

	if (bpf_res_spin_lock(&h->lock))
		return 0;
	h->slots[idx]++;
	bpf_res_spin_unlock(&h->lock);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
