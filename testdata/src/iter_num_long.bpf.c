/* iter_num_long.bpf.c - tc program running an open-coded numeric iterator 1 << 20 times.
 *
 * Exercises: the bpf_iter_num_new / bpf_iter_num_next / bpf_iter_num_destroy kfuncs
 * (kernel 6.4+, .ksyms externs, `call` with src_reg BPF_PSEUDO_KFUNC_CALL). The loop has
 * no static bound: it ends when bpf_iter_num_next returns NULL. The range end comes from
 * .data so it is not a verifier constant.
 *
 * Fast-path twin: the iterator loop is the long-running part; the twin should end it
 * early (after at most one bpf_iter_num_next) while keeping the new/destroy pairing the
 * verifier demands, so `count` comes out short.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes): 0x1100 (4352) when every value in [0, iter_end)
 * was visited, 0x11ee (4590) if the loop ended early.
 */
#include "vmlinux.h"
#include "kfuncs.h"

int iter_end = 1 << 20;
__u64 iter_seed = 7;
__u64 iter_result;

SEC("tc")
int iter_num_long(struct __sk_buff *skb)
{
	struct bpf_iter_num it;
	int end = iter_end;
	__u64 acc = iter_seed;
	int count = 0;
	int *v;

	bpf_iter_num_new(&it, 0, end);
	while ((v = bpf_iter_num_next(&it))) {
		acc = acc * 31 + *v;
		count++;
	}
	bpf_iter_num_destroy(&it);

	iter_result = acc;
	return count == end ? 0x1100 : 0x11ee;
}

char LICENSE[] SEC("license") = "GPL";
