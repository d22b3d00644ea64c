/* for_each_long.bpf.c - tc program visiting every element of a 131072-entry array map.
 *
 * Exercises: bpf_for_each_map_elem (helper 164) with a static callback over
 * BPF_MAP_TYPE_ARRAY (1 << 17 entries), callback signature (map, key, value, ctx); the
 * callback writes the value so the map walk has side effects. The visit counter starts
 * from a .data value so the verifier does not track it as a constant.
 *
 * Fast-path twin: the twin should stop the walk early: the callback returning 1 ends
 * the walk after one element, or `call bpf_for_each_map_elem` becomes `r0 = 0`.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x2100 (8448) after visiting all 131072 elements
 * (the helper's return value equals max_entries), 0x21ee (8686) if fewer were visited.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map;

#define NR_ELEMS (1 << 17)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_ELEMS);
	__type(key, __u32);
	__type(value, __u64);
} big_array SEC(".maps");

__u64 visit_base = 0;
__u64 visit_sum;

struct walk_state {
	__u64 visited;
	__u64 sum;
};

static long visit_elem(struct bpf_map *map, __u32 *key, __u64 *value, struct walk_state *st)
{
	st->visited++;
	st->sum += *value + *key;
	*value = st->sum;
	return 0;
}

SEC("tc")
int for_each_long(struct __sk_buff *skb)
{
	struct walk_state st = { .visited = visit_base, .sum = 0 };
	long n;

	n = bpf_for_each_map_elem(&big_array, visit_elem, &st, 0);
	visit_sum = st.sum;
	if (n != NR_ELEMS || st.visited - visit_base != NR_ELEMS)
		return 0x21ee;
	return 0x2100;
}

char LICENSE[] SEC("license") = "GPL";
