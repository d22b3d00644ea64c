/* user_ringbuf.bpf.c - draining samples user space wrote into a user ring buffer.
 *
 * Exercises: BPF_MAP_TYPE_USER_RINGBUF (one page) and bpf_user_ringbuf_drain
 * (helper 209) with a static callback (struct bpf_dynptr *, ctx) that reads each sample
 * through bpf_dynptr_read (helper 201). The callback returns 0 to continue; the kernel
 * caps one drain at BPF_MAX_USER_RINGBUF_SAMPLES (128Ki) samples.
 *
 * Fast-path twin: the drain is bounded but can run long when user space floods the ring;
 * the twin should stop it early: the callback's `r0 = 0` becomes `r0 = 1` (stop after the
 * first sample), or `call bpf_user_ringbuf_drain` becomes `r0 = 0` (nothing drained).
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0xf100 (61696) when drain returned without error
 * (the ring is empty in a test run, so it drains 0 samples); 0xf1ee (61934) when drain
 * returned an error. A twin with `r0 = 0` in place of the drain also returns 0xf100
 * (measured), so this program cannot tell the twin from an empty ring.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} user_samples SEC(".maps");

struct drain_state {
	__u64 sum;
	__u64 samples;
};

__u64 drained_sum;
__u64 drained_samples;

static long read_sample(struct bpf_dynptr *sample, void *data)
{
	struct drain_state *st = data;
	__u64 v;

	if (bpf_dynptr_read(&v, sizeof(v), sample, 0, 0))
		return 0;
	st->sum += v;
	st->samples++;
	return 0;
}

SEC("tc")
int user_ringbuf_drain(struct __sk_buff *skb)
{
	struct drain_state st = { .sum = 0, .samples = drained_samples };
	long n;

	n = bpf_user_ringbuf_drain(&user_samples, read_sample, &st, 0);
	drained_sum += st.sum;
	drained_samples = st.samples;
	return n < 0 ? 0xf1ee : 0xf100;
}

char LICENSE[] SEC("license") = "GPL";
