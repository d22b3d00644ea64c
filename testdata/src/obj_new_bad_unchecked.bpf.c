/* obj_new_bad_unchecked.bpf.c - bpf_obj_new result used without a NULL test
 * (non-compliant; linter fixture).
 *
 * Exercises: the same kfuncs as obj_new_checked.bpf.c, but the pointer returned by
 * bpf_obj_new is written through before it is tested. The linter must report the
 * untested result. The verifier rejects the dereference of a maybe-NULL pointer
 * (measured: see testdata/README.md), so the object's name contains `_bad` and it is
 * kept as a fixture, not as something to load.
 *
 * Fast-path twin: none; the program must test the result first.
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
int obj_new_unchecked(struct __sk_buff *skb)
{
	struct refcounted_node *n;

	n = bpf_obj_new(struct refcounted_node);
	n->key = skb->len;
	n->value = skb->protocol;
	node_sum = n->key + n->value;
	bpf_obj_drop(n);
	return 0x8100;
}

char LICENSE[] SEC("license") = "GPL";
