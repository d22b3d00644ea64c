/* res_spin_lock_spill.bpf.c - bpf_res_spin_lock result spilled to the stack and
 * reloaded before it is tested.
 *
 * Exercises: the result goes into a `volatile long`, which forces an 8-byte store to
 * the stack right after the call and a load from it before the test, with other work in
 * between (reading skb fields). A "checked result" analysis must follow the value
 * through the stack slot; the verifier tracks spilled scalars precisely, so the program
 * is compliant and loads.
 *
 * Fast-path twin: as res_spin_lock_checked.bpf.c, replace the kfunc call by
 * `r0 = -110` (-ETIMEDOUT) and drop its relocation.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x7300 (29440) when the lock was taken,
 * 0x73ee (29678) when bpf_res_spin_lock failed, 0x73ff (29695) if the map lookup
 * failed (it cannot for key 0).
 */
#include "vmlinux.h"
#include "kfuncs.h"

struct res_locked_counter {
	struct bpf_res_spin_lock lock;
	__u64 count;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct res_locked_counter);
} res_counters SEC(".maps");

SEC("tc")
int res_spin_lock_spill(struct __sk_buff *skb)
{
	struct res_locked_counter *c;
	volatile long err;
	__u32 key = 0;
	__u64 len;

	c = bpf_map_lookup_elem(&res_counters, &key);
	if (!c)
		return 0x73ff;
	err = bpf_res_spin_lock(&c->lock);
	len = skb->len + skb->protocol;
	if (err)
		return 0x73ee;
	c->count++;
	c->bytes += len;
	bpf_res_spin_unlock(&c->lock);
	return 0x7300;
}

char LICENSE[] SEC("license") = "GPL";
