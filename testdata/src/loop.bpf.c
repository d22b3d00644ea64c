/* loop.bpf.c - XDP program that spends its time in bpf_loop (the README demo object).
 *
 * Exercises: bpf_loop (helper 181) with a static callback referenced by ld_imm64
 * (src_reg BPF_PSEUDO_FUNC); the iteration count (1 << 20) and the seed live in .data,
 * which stays writable, so the verifier sees neither as a constant and the callback's
 * state converges instead of being walked value by value.
 *
 * Fast-path twin: bpf_loop is the only long-running construct. The twin should leave
 * it early, either by replacing `call bpf_loop` with `r0 = 0` or by making the callback
 * return 1 so the helper stops after one call; the program then takes the "left early"
 * path below.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): XDP_PASS (2) after all nr_loops iterations,
 * XDP_DROP (1) if bpf_loop ran fewer iterations than asked.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u32 nr_loops = 1 << 20;
__u64 seed = 0x9e3779b97f4a7c15ULL;
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

SEC("xdp")
int loop_prog(struct xdp_md *ctx)
{
	struct loop_state st = { .acc = seed, .mul = seed | 1 };
	__u32 want = nr_loops;
	long done;

	done = bpf_loop(want, mix_step, &st, 0);
	result = st.acc;
	if (done != want)
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
