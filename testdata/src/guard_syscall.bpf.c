/* guard_syscall.bpf.c - a raw tracepoint program whose work per call user space sets.
 *
 * Exercises: SEC("raw_tp/task_rename"), which fires in prctl(PR_SET_NAME) (and writes to
 * /proc/PID/comm), filtered on one process chosen by user space through .bss (`target_tgid`;
 * nothing runs while it is 0), then bpf_loop over `work_loops` iterations (.data), as
 * guard_net.bpf.c. For the `bpfrewrite guard` test of the attach-then-detach switch (raw_tp
 * links cannot be updated). Not raw_tp/sys_enter: every syscall of the machine would run the
 * program, and their cheap filtered-out runs would dilute the mean time per run guard watches.
 *
 * Fast-path twin: the callback's twin returns 1, so bpf_loop stops after one call; `short_runs`
 * counts those runs, `full_runs` the complete ones. Returns 0 (raw_tp return values are ignored).
 *
 * Load only in the corpus tests; attached only by the guard test, on its own pid.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u32 target_tgid;
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

SEC("raw_tp/task_rename")
int guard_rename(struct bpf_raw_tracepoint_args *ctx)
{
	struct loop_state st = { .acc = seed, .mul = seed | 1 };
	__u32 want = work_loops;
	long done;

	if (!target_tgid || (bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	done = bpf_loop(want, mix_step, &st, 0);
	result = st.acc;
	if (done != want)
		__sync_fetch_and_add(&short_runs, 1);
	else
		__sync_fetch_and_add(&full_runs, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
