/* res_spin_lock_zext.bpf.c - bpf_res_spin_lock result tested after zero-extension.
 *
 * Exercises: the result is kept in a __u32, so clang-19 (-mcpu=v1, no 32-bit jumps)
 * tests it as `r0 <<= 32; r0 >>= 32; if r0 != 0 goto fail` (the move/shift chain may
 * go through another register). A "checked result" analysis must follow the value
 * through the move and both shifts; the program is compliant and loads.
 *
 * Fast-path twin: as res_spin_lock_checked.bpf.c, replace the kfunc call by
 * `r0 = -110` (-ETIMEDOUT) and drop its relocation.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x7200 (29184) when the lock was taken,
 * 0x72ee (29422) when bpf_res_spin_lock failed, 0x72ff (29439) if the map lookup
 * failed (it cannot for key 0).
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
int res_spin_lock_zext(struct __sk_buff *skb)
{
	struct res_locked_counter *c;
	__u32 key = 0;
	__u32 err;

	c = bpf_map_lookup_elem(&res_counters, &key);
	if (!c)
		return 0x72ff;
	err = bpf_res_spin_lock(&c->lock);
	if (err != 0)
		return 0x72ee;
	c->count++;
	bpf_res_spin_unlock(&c->lock);
	return 0x7200;
}

char LICENSE[] SEC("license") = "GPL";
