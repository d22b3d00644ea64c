/* spin_lock.bpf.c - the classic bpf_spin_lock helper around a map update.
 *
 * Exercises: bpf_spin_lock (helper 93) / bpf_spin_unlock (helper 94) on a struct
 * bpf_spin_lock inside an array-map value (the map's BTF must describe the lock field).
 * The helper is void to the verifier: reading r0 after it is rejected (`R0 !read_ok`), so
 * the program cannot test whether it got the lock.
 *
 * Fast-path twin: none possible; bpf_spin_lock cannot fail from the program's point of
 * view. The linter should suggest bpf_res_spin_lock, whose result can be checked.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): the counter value after the increment, which is
 * 1 on the first run of a freshly loaded program (the map starts zeroed); 0x61ee (25070)
 * if the map lookup failed (it cannot for key 0).
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
} counters SEC(".maps");

SEC("tc")
int spin_lock_counter(struct __sk_buff *skb)
{
	struct locked_counter *c;
	__u32 key = 0;
	__u64 now;

	c = bpf_map_lookup_elem(&counters, &key);
	if (!c)
		return 0x61ee;
	bpf_spin_lock(&c->lock);
	now = ++c->count;
	bpf_spin_unlock(&c->lock);
	return now;
}

char LICENSE[] SEC("license") = "GPL";
