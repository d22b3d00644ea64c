/* tail_call.bpf.c - bpf_tail_call through a statically initialised program array.
 *
 * Exercises: bpf_tail_call (helper 12) on a BPF_MAP_TYPE_PROG_ARRAY whose slot 0 libbpf
 * fills with tail_target at load time (`.values`, a relocation in .rel.maps against the
 * program symbol). Two programs in SEC("tc"): tail_entry and tail_target. If the tail
 * call succeeds it never returns; if the slot is empty, execution falls through.
 *
 * Fast-path twin: a tail call is an early exit already (it cannot loop more than the
 * kernel's 33-call limit); the twin keeps it, or drops it to take the fall-through path.
 *
 * The kernel empties a program array when its last user-space reference goes away, so
 * after a plain `bpftool prog loadall` (maps not pinned) slot 0 is empty again; pin the
 * maps (`pinmaps DIR`) or keep the object open to keep the tail call in place.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes):
 *   tail_entry:  0xb200 (45568), returned by tail_target after the tail call (maps
 *                pinned); 0xb1ee (45550) if the slot was empty and the call fell through
 *                (plain loadall).
 *   tail_target: 0xb200 (45568) when run directly.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int tail_target(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	/* key_size, not __type(key): the kernel refuses BTF key/value types for a program
	 * array, and libbpf 1.1 would retry map creation without BTF after a warning. */
	__uint(key_size, sizeof(__u32));
	__array(values, int (struct __sk_buff *));
} jump_table SEC(".maps") = {
	.values = { [0] = (void *)&tail_target },
};

SEC("tc")
int tail_target(struct __sk_buff *skb)
{
	return 0xb200;
}

SEC("tc")
int tail_entry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jump_table, 0);
	return 0xb1ee;
}

char LICENSE[] SEC("license") = "GPL";
