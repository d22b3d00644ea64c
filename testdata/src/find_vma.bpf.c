/* find_vma.bpf.c - BTF-enabled tracing program calling bpf_find_vma with a callback.
 *
 * Exercises: SEC("tp_btf/sys_enter") (BPF_PROG_TYPE_TRACING with BTF-typed arguments via
 * BPF_PROG; libbpf resolves the tracepoint's BTF id in /sys/kernel/btf/vmlinux at load
 * time; the same program type and context as fentry, which this machine refuses to load,
 * see fentry_bad_eperm.bpf.c); bpf_get_current_task_btf
 * (helper 158, a trusted never-NULL task pointer); bpf_find_vma (helper 180) with a
 * static callback (task, vma, ctx) that records the VMA holding the task's stack start.
 * The callback runs at most once, so bpf_find_vma is not a loop, but it is a callback the
 * linter must find and check like bpf_loop's.
 *
 * Fast-path twin: bpf_find_vma may be replaced by `r0 = -ENOENT` (its "no VMA" result);
 * bpf_get_current_task_btf must stay (replacing a never-NULL pointer by 0 is rejected,
 * per the kernel facts file).
 *
 * Load only (tracing programs are not test-run here); never attach it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct vma_seen {
	__u64 start;
	__u64 end;
	__u64 flags;
};

__u64 find_vma_calls;
__s64 find_vma_ret;
struct vma_seen last_vma;

static long record_vma(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_seen *seen = data;

	seen->start = vma->vm_start;
	seen->end = vma->vm_end;
	seen->flags = vma->vm_flags;
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(find_vma_sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct vma_seen seen = {};
	struct mm_struct *mm = task->mm;
	__u64 addr;

	if (!mm)
		return 0;
	addr = mm->start_stack;
	find_vma_ret = bpf_find_vma(task, addr, record_vma, &seen, 0);
	find_vma_calls++;
	last_vma = seen;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
