/* shared_callback.bpf.c - one static function that is both a bpf_loop and a timer callback.
 *
 * Exercises: the same callback handed to bpf_loop (an iterating helper, callback may return
 * 0 or 1) and to bpf_timer_set_callback (an async callback the verifier requires to return 0).
 *
 * Fast-path twin: the callback's `r0 = 0` must NOT become `r0 = 1`: the twin would be rejected
 * ("At async callback return the register R0 has smin=1 smax=1 should have been in [0, 0]",
 * measured on 6.18). The plan reports it instead (callback-cannot-stop / a patch problem).
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x6100 (24832) for the original; 0x61ff (25087) for the
 * twin, whose map lookup fails first.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CLOCK_BOOTTIME 7

struct elem {
	struct bpf_timer t;
	__u64 n;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct elem);
} timers SEC(".maps");

volatile __u32 n_iter = 10;
__u64 hits;

static int shared(void *a, void *b, void *c)
{
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

SEC("tc")
int shared_callback(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct elem *e = bpf_map_lookup_elem(&timers, &k);

	if (!e)
		return 0x61ff;
	bpf_timer_init(&e->t, &timers, CLOCK_BOOTTIME);
	bpf_timer_set_callback(&e->t, shared);
	bpf_loop(n_iter, shared, 0, 0);
	return 0x6100;
}

char LICENSE[] SEC("license") = "GPL";
