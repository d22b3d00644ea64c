/* Kfunc declarations for the testdata programs. Include after "vmlinux.h".
 *
 * This machine's bpftool (7.1) does not emit kfunc prototypes into vmlinux.h, so the
 * programs declare the ones they call. Each prototype was checked against
 * /sys/kernel/btf/vmlinux (kernel 6.18): libbpf compares them with the kernel's BTF
 * when it resolves the .ksyms externs.
 */
#ifndef TESTDATA_KFUNCS_H
#define TESTDATA_KFUNCS_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* Open-coded numeric iterator (kernel 6.4+). */
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

/* Resilient queued spin lock (kernel 6.15+): returns 0 when taken, a negative errno
 * (-EDEADLK, -ETIMEDOUT) when not; the verifier only lets the program unlock on the
 * path where the result was tested to be 0. */
extern int bpf_res_spin_lock(struct bpf_res_spin_lock *lock) __ksym;
extern void bpf_res_spin_unlock(struct bpf_res_spin_lock *lock) __ksym;

/* Local kptr allocation (kernel 6.2+, refcount 6.4+). The *_impl forms take the
 * program-local BTF id of the type, filled in by a CO-RE TYPE_ID_LOCAL relocation. */
extern void *bpf_obj_new_impl(__u64 local_type_id, void *meta) __ksym;
extern void bpf_obj_drop_impl(void *kptr, void *meta) __ksym;
extern void *bpf_refcount_acquire_impl(void *kptr, void *meta) __ksym;

#define bpf_obj_new(type) ((type *)bpf_obj_new_impl(bpf_core_type_id_local(type), NULL))
#define bpf_obj_drop(kptr) bpf_obj_drop_impl(kptr, NULL)
#define bpf_refcount_acquire(kptr) ((typeof(kptr))bpf_refcount_acquire_impl(kptr, NULL))

#endif
