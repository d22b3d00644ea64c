/* core_kprobe.bpf.c - kprobe with CO-RE field reads through kernel structures.
 *
 * Exercises: SEC("kprobe/do_nanosleep") with the BPF_KPROBE argument macro (x86 pt_regs,
 * hence -D__TARGET_ARCH_x86); BPF_CORE_READ chains (task->real_parent->tgid,
 * task->mm->start_stack) that become bpf_probe_read_kernel calls with CO-RE field-offset
 * relocations in .BTF.ext; bpf_core_field_exists (a FIELD_EXISTS relocation); a
 * per-CPU array map for the result.
 *
 * Fast-path twin: nothing long-running; no twin needed. The object checks that a rewriter
 * keeps CO-RE relocation records attached to the right instructions.
 *
 * Load only (kprobe programs have no BPF_PROG_TEST_RUN); never attach it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

struct sleeper_info {
	__u64 parent_tgid;
	__u64 start_stack;
	__u64 mode;
	__u64 has_flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sleeper_info);
} last_sleeper SEC(".maps");

SEC("kprobe/do_nanosleep")
int BPF_KPROBE(kprobe_nanosleep, struct hrtimer_sleeper *t, enum hrtimer_mode mode)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct sleeper_info *info;
	__u32 key = 0;

	info = bpf_map_lookup_elem(&last_sleeper, &key);
	if (!info)
		return 0;
	info->parent_tgid = BPF_CORE_READ(task, real_parent, tgid);
	info->start_stack = BPF_CORE_READ(task, mm, start_stack);
	info->mode = mode;
	info->has_flags = bpf_core_field_exists(task->flags);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
