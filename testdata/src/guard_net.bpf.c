/* guard_net.bpf.c - XDP and tc programs whose work per packet user space sets (for `bpfrewrite guard`).
 *
 * Exercises: bpf_loop (helper 181) with a static callback, as loop.bpf.c, but the iteration
 * count `work_loops` lives in .data, an array map user space rewrites while the program is
 * attached (`bpftool map update`), so a test can push the time per packet over a budget.
 *   guard_xdp  SEC("xdp"): writes a mark into the first byte after the Ethernet header
 *              (0x11 after all iterations, 0xee when bpf_loop ran fewer) and bpf_ktime_get_ns()
 *              (CLOCK_MONOTONIC, little-endian) into bytes 20-27, then passes the frame.
 *   guard_tc   SEC("tc"): the same work and mark, on the skb (bpf_skb_store_bytes).
 *
 * Fast-path twin: the callback's twin returns 1, so bpf_loop stops after one call and the twin
 * marks 0xee. Both programs fail open (every frame passes), so a receiver sees the mark change
 * when `guard` switches to the twin.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes, work_loops as compiled): guard_xdp returns XDP_PASS (2),
 * guard_tc TC_ACT_OK (0), original and twin alike; `seen` counts the runs of each kind.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define MARK_FULL 0x11
#define MARK_SHORT 0xee
#define ETH_HLEN 14
#define STAMP_OFF 20 /* after the mark (14) and the sender's sequence number (15-18) */

__u32 work_loops = 1 << 16;
__u64 seed = 0x9e3779b97f4a7c15ULL;
__u64 full_runs;
__u64 short_runs;
__u64 result;

struct loop_state {
	__u64 acc;
	__u64 mul;
};

static long mix_step(__u32 index, void *data)
{
	struct loop_state *st = data;

	st->acc = (st->acc ^ index) * st->mul;
	st->acc ^= st->acc >> 29;
	return 0;
}

static __always_inline __u8 do_work(void)
{
	struct loop_state st = { .acc = seed, .mul = seed | 1 };
	__u32 want = work_loops;
	long done;

	done = bpf_loop(want, mix_step, &st, 0);
	result = st.acc;
	if (done != want) {
		__sync_fetch_and_add(&short_runs, 1);
		return MARK_SHORT;
	}
	__sync_fetch_and_add(&full_runs, 1);
	return MARK_FULL;
}

SEC("xdp")
int guard_xdp(struct xdp_md *ctx)
{
	__u8 mark = do_work();
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;

	if (data + STAMP_OFF + sizeof(__u64) <= end) {
		data[ETH_HLEN] = mark;
		__builtin_memcpy(data + STAMP_OFF, &(__u64){ bpf_ktime_get_ns() }, sizeof(__u64));
	}
	return XDP_PASS;
}

SEC("tc")
int guard_tc(struct __sk_buff *skb)
{
	__u8 mark = do_work();

	bpf_skb_store_bytes(skb, ETH_HLEN, &mark, 1, 0);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
