/* subprogs.bpf.c - static and global subprograms, and callbacks inside subprograms.
 *
 * Exercises, all reached from one XDP program (subprogs_main):
 *   mix            static __noinline subprogram: bpf-to-bpf call through the .text section
 *                  symbol (imm = offset), verified in the caller's context.
 *   clamp_len      global __noinline function: call with an R_BPF_64_32 relocation against
 *                  its own symbol; the verifier checks it once, on its own, from its BTF
 *                  prototype (scalar argument, scalar result).
 *   sum_indices    static subprogram that calls bpf_loop with its own callback (add_index):
 *                  a callback referenced from inside a subprogram, not from the entry point.
 *   count_slots    global function that calls bpf_for_each_map_elem with a callback
 *                  (count_slot): a callback inside a separately verified subprogram.
 *
 * Fast-path twin: the twin needs copies of the subprograms that contain exits (sum_indices
 * and count_slots, with their callbacks) and may share mix and clamp_len with the
 * original; each callback's constant `r0 = 0` can become `r0 = 1`.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0xc100 (49408) when both the bpf_loop (64 turns)
 * and the map walk (16 slots) completed, 0xc1ee (49646) if either stopped early.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map;

#define NR_SLOTS 16

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} slots SEC(".maps");

__u32 sum_turns = 64;
__u64 sub_result;

static __noinline __u64 mix(__u64 a, __u64 b)
{
	return (a ^ (b << 7)) * 0x100000001b3ULL;
}

__noinline int clamp_len(int len)
{
	if (len < 0)
		return 0;
	if (len > 1500)
		return 1500;
	return len;
}

struct index_sum {
	__u64 sum;
	__u32 calls;
};

static long add_index(__u32 index, void *data)
{
	struct index_sum *s = data;

	s->sum += index;
	s->calls++;
	return 0;
}

static __noinline long sum_indices(__u32 n, __u64 start)
{
	struct index_sum s = { .sum = start, .calls = 0 };
	long done;

	done = bpf_loop(n, add_index, &s, 0);
	sub_result = s.sum;
	return done;
}

static long count_slot(struct bpf_map *map, __u32 *key, __u64 *value, void *data)
{
	__u64 *count = data;

	*value += *key;
	*count += 1;
	return 0;
}

__noinline int count_slots(int base)
{
	__u64 count = base;

	bpf_for_each_map_elem(&slots, count_slot, &count, 0);
	return count - base;
}

SEC("xdp")
int subprogs_main(struct xdp_md *ctx)
{
	int len = clamp_len(ctx->data_end - ctx->data);
	__u32 turns = sum_turns;
	long done;

	done = sum_indices(turns, mix(len, ctx->ingress_ifindex));
	if (done != turns)
		return 0xc1ee;
	if (count_slots(len) != NR_SLOTS)
		return 0xc1ee;
	return 0xc100;
}

char LICENSE[] SEC("license") = "GPL";
