/* obj_new_checked.bpf.c - local kptr allocation with every nullable result tested
 * (compliant).
 *
 * Exercises: the bpf_obj_new_impl, bpf_refcount_acquire_impl and bpf_obj_drop_impl
 * kfuncs (kernel 6.4+). bpf_obj_new's first argument is the program-local BTF id of
 * struct refcounted_node, filled in by a CO-RE BPF_CORE_TYPE_ID_LOCAL relocation
 * (bpf_core_type_id_local); the type embeds struct bpf_refcount so it can be
 * refcount-acquired. Both bpf_obj_new and bpf_refcount_acquire may return NULL and the
 * program tests each before use; every owned reference is dropped on every path.
 *
 * Fast-path twin: bpf_obj_new may be replaced by `r0 = 0` (its NULL path already exists);
 * the kfunc's relocation must go with it.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x8100 (33024) when both allocations succeeded,
 * 0x81ee (33262) if bpf_obj_new returned NULL, 0x81ef (33263) if bpf_refcount_acquire
 * returned NULL.
 */
#include "vmlinux.h"
#include "kfuncs.h"

struct refcounted_node {
	struct bpf_refcount ref;
	__u64 key;
	__u64 value;
};

__u64 node_sum;

SEC("tc")
int obj_new_checked(struct __sk_buff *skb)
{
	struct refcounted_node *n, *m;

	n = bpf_obj_new(struct refcounted_node);
	if (!n)
		return 0x81ee;
	n->key = skb->len;
	n->value = skb->protocol;

	m = bpf_refcount_acquire(n);
	bpf_obj_drop(n);
	if (!m)
		return 0x81ef;
	node_sum = m->key + m->value;
	bpf_obj_drop(m);
	return 0x8100;
}

char LICENSE[] SEC("license") = "GPL";
