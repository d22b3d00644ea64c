/* find_vma_subprog.bpf.c - bpf_find_vma in a program that also calls a static subprogram.
 *
 * Exercises: bpf_find_vma with a static callback, in a kprobe that calls one __noinline
 * static function as well (two live subprograms besides the program).
 *
 * Fast-path twin: bpf_find_vma must be KEPT (it calls its callback at most once). Stubbed, the
 * callback is never visited and the verifier fails at JIT ("No program to jit") because another
 * subprogram is live; testdata/find_vma.bpf.o, whose callback is its only subprogram, loaded
 * either way (measured on 6.18).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
struct vinfo { u64 start; u64 end; u64 flags; };
struct vinfo last;
u64 misses;

static long vma_cb(struct task_struct *task, struct vm_area_struct *vma, struct vinfo *out)
{
	out->start = vma->vm_start;
	out->end = vma->vm_end;
	out->flags = vma->vm_flags;
	return 0;
}

static __noinline u64 page_of(u64 addr)
{
	return addr & ~4095ULL;
}

SEC("kprobe/do_nanosleep")
int kp_vma_main(struct pt_regs *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct vinfo v = {};
	u64 addr = page_of(PT_REGS_SP(ctx));
	if (bpf_find_vma(t, addr, vma_cb, &v, 0)) {
		misses++;
		return 0;
	}
	last = v;
	return 1;
}
char LICENSE[] SEC("license") = "GPL";
