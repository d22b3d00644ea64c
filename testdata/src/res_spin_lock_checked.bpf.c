/* res_spin_lock_checked.bpf.c - bpf_res_spin_lock with its result tested (compliant).
 *
 * Exercises: the bpf_res_spin_lock / bpf_res_spin_unlock kfuncs (kernel 6.15+) on a
 * struct bpf_res_spin_lock in an array-map value. The result is tested right after the
 * call; the verifier forks the state there (lock held with r0 == 0, not held otherwise)
 * and only lets the "taken" path unlock. This is the idiomatic C test; note that clang-19
 * at its default -mcpu=v1 has no 32-bit jumps and emits the same zero-extending shift
 * pair as res_spin_lock_zext.bpf.c. res_spin_lock_alu32.bpf.c is the same C at -mcpu=v3.
 *
 * Fast-path twin: replace the kfunc call by `r0 = -110` (-ETIMEDOUT) and drop its
 * relocation: the critical section is skipped and the failure path runs.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x7100 (28928) when the lock was taken and the
 * counter updated, 0x71ee (29166) when bpf_res_spin_lock failed, 0x71ff (29183) if the
 * map lookup failed (it cannot for key 0).
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
int res_spin_lock_checked(struct __sk_buff *skb)
{
	struct res_locked_counter *c;
	__u32 key = 0;

	c = bpf_map_lookup_elem(&res_counters, &key);
	if (!c)
		return 0x71ff;
	if (bpf_res_spin_lock(&c->lock))
		return 0x71ee;
	c->count++;
	bpf_res_spin_unlock(&c->lock);
	return 0x7100;
}

char LICENSE[] SEC("license") = "GPL";
