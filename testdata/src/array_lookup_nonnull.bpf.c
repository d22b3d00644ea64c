/* array_lookup_nonnull.bpf.c - a map lookup the verifier proves non-NULL.
 *
 * Exercises: bpf_map_lookup_elem on a BPF_MAP_TYPE_ARRAY with a constant, in-range key. Since
 * kernel 6.13 the verifier knows such a lookup cannot fail, so the program may dereference the
 * result without a NULL test, and this one does. (The key's stack slot must be one the verifier
 * tracks as a constant: a zero store is, a 4-byte store of 2 was not, on 6.18.)
 *
 * Fast-path twin: the lookup must be KEPT. Stubbing it with `r0 = 0` leaves a scalar where the
 * program dereferences a pointer, and the verifier rejects the twin ("R0 invalid mem access
 * 'scalar'"). The fast-path plan keeps pointer-returning calls whose result is never tested.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x1300 (4864) + the map value (0 in a fresh map), for
 * the original and the twin alike.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

SEC("tc")
int array_lookup_nonnull(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	return 0x1300 + (int)*v;
}

char LICENSE[] SEC("license") = "GPL";
