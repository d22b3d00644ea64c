/* fentry_bad_eperm.bpf.c - fentry and fexit programs on do_nanosleep.
 *
 * Exercises: SEC("fentry/do_nanosleep") and SEC("fexit/do_nanosleep")
 * (BPF_PROG_TYPE_TRACING, expected_attach_type BPF_TRACE_FENTRY / BPF_TRACE_FEXIT; libbpf
 * resolves do_nanosleep's BTF id in /sys/kernel/btf/vmlinux at load time). Arguments are
 * BTF-typed (BPF_PROG), so `t->task->pid` is a direct, verifier-checked pointer walk
 * (no bpf_probe_read); fexit also sees the return value.
 *
 * The C compiles and is written to pass the verifier, but that could not be checked:
 * this machine refuses every trampoline-based program (fentry, fexit, fmod_ret, lsm)
 * with EPERM before verification (empty verifier log), so the name carries `_bad`: it is a fixture for the section names, not
 * something the load test can load here. tp_btf programs (same program type) do load;
 * see find_vma.bpf.c.
 *
 * Fast-path twin: nothing long-running; no twin needed.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u32 last_sleeper_pid;
__s64 last_sleep_ret;

SEC("fentry/do_nanosleep")
int BPF_PROG(fentry_nanosleep, struct hrtimer_sleeper *t, enum hrtimer_mode mode)
{
	struct task_struct *task = t->task;

	if (task)
		last_sleeper_pid = task->pid;
	return 0;
}

SEC("fexit/do_nanosleep")
int BPF_PROG(fexit_nanosleep, struct hrtimer_sleeper *t, enum hrtimer_mode mode, int ret)
{
	last_sleep_ret = ret;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
