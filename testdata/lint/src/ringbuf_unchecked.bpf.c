/* ringbuf_unchecked.bpf.c - bpf_ringbuf_reserve result written before the NULL test (lint fixture).
 *
 * unchecked-acquire-result must report the reserve at line 22, column 6. The verifier rejects
 * this program too; it is a fixture, not something to load.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} unchecked_events SEC(".maps");

SEC("tc")
int ringbuf_unchecked(struct __sk_buff *skb)
{
	__u32 *e;
	int len = skb->len;

	/* the store below dereferences e before anything tests it */

	e = bpf_ringbuf_reserve(&unchecked_events, sizeof(*e), 0);
	*e = len;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
