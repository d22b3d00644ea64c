/* may_goto_long.bpf.c - tc programs whose loops are bounded only by may_goto.
 *
 * Exercises: the may_goto instruction (opcode 0xe5, BPF_JMP | BPF_JCOND, kernel 6.9+),
 * written as inline asm through can_loop (include/may_goto.h). The verifier accepts
 * these loops without proving a bound because may_goto gives the kernel a way out.
 * Two programs share SEC("tc"):
 *   may_goto_long      counts to may_goto_bound (1 << 20, from .data) with a may_goto
 *                      in the body; it normally completes.
 *   may_goto_budget    loops until may_goto_bound2 (0xffffffff): it always leaves through
 *                      may_goto, after the kernel's budget (about 250 ms per run on this
 *                      kernel's timed may_goto).
 *
 * Fast-path twin: may_goto is itself the exit; the twin should take the may_goto branch
 * at once, so both programs return their "left early" code. Measured: simply rewriting
 * the 0xe5 opcode to `goto` (0x05) is REJECTED ("unreachable insn"), because the loop
 * body becomes dead code; the twin must also remove the code only the fall-through
 * reached.
 *
 * BPF_PROG_TEST_RUN (64 zero bytes):
 *   may_goto_long:   0x3100 (12544) when the count reached the bound,
 *                    0x31ee (12782) when may_goto cut it short.
 *   may_goto_budget: 0x3200 (12800) if the bound was reached (not expected),
 *                    0x32ee (13038) when may_goto cut it short (the normal outcome).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "may_goto.h"

__u32 may_goto_bound = 1 << 20;
__u32 may_goto_bound2 = 0xffffffff;
__u64 may_goto_seed = 3;
__u64 may_goto_result;

SEC("tc")
int may_goto_long(struct __sk_buff *skb)
{
	__u32 n = may_goto_bound;
	__u64 acc = may_goto_seed;
	__u32 i;

	for (i = 0; i < n; i++) {
		if (!can_loop) {
			may_goto_result = acc;
			return 0x31ee;
		}
		acc = acc * 33 + i;
	}
	may_goto_result = acc;
	return 0x3100;
}

SEC("tc")
int may_goto_budget(struct __sk_buff *skb)
{
	__u32 n = may_goto_bound2;
	__u64 acc = may_goto_seed;
	__u32 i;

	for (i = 0; i < n; i++) {
		if (!can_loop) {
			may_goto_result = acc;
			return 0x32ee;
		}
		acc = acc * 33 + i;
	}
	may_goto_result = acc;
	return 0x3200;
}

char LICENSE[] SEC("license") = "GPL";
