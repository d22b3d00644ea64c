/* res_spin_lock_alu32.bpf.c - bpf_res_spin_lock result tested directly by a 32-bit jump.
 *
 * Exercises: the same C as res_spin_lock_checked.bpf.c, but the Makefile builds this one
 * with -mcpu=v3 (ALU32 and JMP32, clang 20's default), so the int result is tested as
 * `w1 = w0; if w1 != 0 goto fail` with no shift pair. The object is also the corpus's
 * v3 sample for the disassembler (w-register ALU, jmp32). Compliant; loads.
 *
 * Fast-path twin: replace the kfunc call by `r0 = -110` (-ETIMEDOUT) and drop its
 * relocation.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x7400 (29696) when the lock was taken,
 * 0x74ee (29934) when bpf_res_spin_lock failed, 0x74ff (29951) if the map lookup
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
int res_spin_lock_alu32(struct __sk_buff *skb)
{
	struct res_locked_counter *c;
	__u32 key = 0;

	c = bpf_map_lookup_elem(&res_counters, &key);
	if (!c)
		return 0x74ff;
	if (bpf_res_spin_lock(&c->lock))
		return 0x74ee;
	c->count++;
	bpf_res_spin_unlock(&c->lock);
	return 0x7400;
}

char LICENSE[] SEC("license") = "GPL";
