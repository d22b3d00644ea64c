/* res_spin_lock_bad_unchecked.bpf.c - bpf_res_spin_lock whose result is ignored
 * (non-compliant; linter fixture).
 *
 * Exercises: the same map and kfuncs as res_spin_lock_checked.bpf.c, but the program
 * enters the critical section and unlocks without testing the result. The linter must
 * report the unchecked result. The kernel verifier rejects it too (measured: see
 * testdata/README.md), which is why the object's name contains `_bad`: it is kept as a
 * fixture, not as something to load.
 *
 * Fast-path twin: none; the program must be fixed first (test the result, as in
 * res_spin_lock_checked.bpf.c).
 */
#include "vmlinux.h"
#include "kfuncs.h"

struct res_locked_counter {
	struct bpf_res_spin_lock lock;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct res_locked_counter);
} res_counters SEC(".maps");

SEC("tc")
int res_spin_lock_unchecked(struct __sk_buff *skb)
{
	struct res_locked_counter *c;
	__u32 key = 0;

	c = bpf_map_lookup_elem(&res_counters, &key);
	if (!c)
		return 0x71ff;
	bpf_res_spin_lock(&c->lock);
	c->count++;
	bpf_res_spin_unlock(&c->lock);
	return 0x7100;
}

char LICENSE[] SEC("license") = "GPL";
