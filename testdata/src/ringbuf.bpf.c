/* ringbuf.bpf.c - BPF ring buffer reserve, then submit or discard.
 *
 * Exercises: bpf_ringbuf_reserve (helper 131), bpf_ringbuf_submit (132) and
 * bpf_ringbuf_discard (133) on a BPF_MAP_TYPE_RINGBUF of one page. The reservation is a
 * reference the verifier tracks: both branches must release it. Packets shorter than
 * min_len (in .data) are discarded, others submitted.
 *
 * Fast-path twin: replace `call bpf_ringbuf_reserve` by `r0 = 0` (measured accepted in
 * the kernel facts file); the existing NULL path then skips the event.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x9100 (37120) when the event was submitted
 * (64 >= min_len 60), 0x9101 (37121) when it was discarded, 0x91ee (37358) when the
 * reservation failed (ring full, or the twin).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct pkt_event {
	__u32 len;
	__u32 protocol;
	__u32 ifindex;
	__u32 mark;
};

__u32 min_len = 60;

SEC("tc")
int ringbuf_event(struct __sk_buff *skb)
{
	struct pkt_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0x91ee;
	e->len = skb->len;
	e->protocol = skb->protocol;
	e->ifindex = skb->ifindex;
	e->mark = skb->mark;
	if (skb->len < min_len) {
		bpf_ringbuf_discard(e, 0);
		return 0x9101;
	}
	bpf_ringbuf_submit(e, 0);
	return 0x9100;
}

char LICENSE[] SEC("license") = "GPL";
