#!/usr/bin/env python3
"""Generate bpfrewrite/kernel/helpers.json and kfuncs.json from the system headers.

Inputs (Debian packages linux-libc-dev and libbpf-dev):
  linux/bpf.h           the helper id list (__BPF_FUNC_MAPPER, or ___BPF_FUNC_MAPPER in newer
                        headers, whose FN() entries carry explicit ids)
  bpf/bpf_helper_defs.h every helper's C prototype, id and uapi doc (its "Returns" section)
  asm-generic/errno*.h  errno names, so curated facts can say -ENOENT instead of -2

The bulk comes from the headers; the facts that need the kernel source (what the verifier
tracks, what may be replaced by `r0 = imm`) live in CURATED_HELPERS and KFUNCS below, each with
its source. Helpers not curated follow DEFAULT RULES (see default_helper). The output is
deterministic: same headers, same bytes. `--check` fails when the checked-in JSON is stale.

Usage: python3 tools/gen_helper_table.py [--check | --markdown]
                                          [--bpf-h P] [--defs-h P] [--out-dir D]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bpfrewrite" / "kernel"
BPF_H = Path("/usr/include/linux/bpf.h")
DEFS_H = Path("/usr/include/bpf/bpf_helper_defs.h")
ERRNO_H = (Path("/usr/include/asm-generic/errno-base.h"), Path("/usr/include/asm-generic/errno.h"))
SCHEMA = 1

# ---------------------------------------------------------------------------------------------
# Header parsing


@dataclass(frozen=True)
class Proto:
    """A helper as bpf_helper_defs.h declares it."""

    name: str  # without the bpf_ prefix
    id: int
    ret: str  # C return type, e.g. "long", "void *", "struct bpf_sock *"
    args: str
    returns_doc: str  # the doc's "Returns" section, whitespace-collapsed


def parse_func_ids(text: str) -> dict[int, str]:
    """Helper id -> name (without bpf_) from linux/bpf.h's FUNC_MAPPER macro."""
    m = re.search(r"#define\s+_{2,3}BPF_FUNC_MAPPER\(FN[^)]*\)\s*\\\n(.*?)\n\s*/\* \*/", text, re.S)
    if not m:
        raise SystemExit("linux/bpf.h: no __BPF_FUNC_MAPPER / ___BPF_FUNC_MAPPER list found")
    ids: dict[int, str] = {}
    for i, fn in enumerate(re.finditer(r"FN\(\s*(\w+)\s*(?:,\s*(\d+)\s*)?(?:,[^)]*)?\)", m[1])):
        ident = int(fn[2]) if fn[2] is not None else i
        if ident in ids:
            raise SystemExit(f"linux/bpf.h: helper id {ident} listed twice")
        ids[ident] = fn[1]
    return ids


_PROTO = re.compile(
    r"/\*\n((?: \*.*\n)*?) \*/\nstatic (.+?)\(\*bpf_(\w+)\)\((.*?)\) = \(void \*\) (\d+);"
)


def parse_helper_defs(text: str) -> dict[str, Proto]:
    """Helper name (without bpf_) -> Proto, from bpf_helper_defs.h."""
    protos: dict[str, Proto] = {}
    for m in _PROTO.finditer(text):
        doc = [line[3:] if line.startswith(" * ") else line[2:] for line in m[1].splitlines()]
        returns: list[str] = []
        if "Returns" in doc:
            returns = doc[doc.index("Returns") + 1 :]
        protos[m[3]] = Proto(
            name=m[3], id=int(m[5]), ret=m[2].strip(), args=m[4],
            returns_doc=" ".join(" ".join(returns).split()),
        )
    if not protos:
        raise SystemExit("bpf_helper_defs.h: no helper prototypes found")
    return protos


def parse_errno(texts: list[str]) -> dict[str, int]:
    """Errno name -> positive value from asm-generic/errno*.h."""
    names: dict[str, int] = {}
    for text in texts:
        for m in re.finditer(r"#define\s+(E[A-Z0-9]+)\s+(\d+)", text):
            names[m[1]] = int(m[2])
    return names


# ---------------------------------------------------------------------------------------------
# Curated facts. Sources name the kernel file and the bpf_func_proto (or BTF_ID_FLAGS line);
# the kernel here is 6.18 and the verifier facts in /work/shared/notes/kernel-facts.md were
# measured on it. Failure values are errno names (resolved from the headers) or integers.

HELPERS_C = "kernel/bpf/helpers.c"
TRACE_C = "kernel/trace/bpf_trace.c"
FILTER_C = "net/core/filter.c"
RINGBUF_C = "kernel/bpf/ringbuf.c"
ITER_C = "kernel/bpf/bpf_iter.c"
STACKMAP_C = "kernel/bpf/stackmap.c"
CGROUP_C = "kernel/bpf/cgroup.c"

R_UNINIT = (
    "Fills an output buffer the verifier marks as written (ARG_PTR_TO_UNINIT_MEM / MEM_UNINIT); "
    "without the call, later reads of a never-initialised stack buffer can be rejected."
)
R_NONNULL = (
    "Returns a pointer the verifier treats as never NULL, so a program may use it unchecked; "
    "`r0 = 0` in its place is rejected (R0 invalid mem access 'scalar')."
)
R_OR_NULL = (
    "Returns a pointer or NULL; `r0 = 0` sends the program down the NULL branch the verifier "
    "already made it write."
)
R_ACQUIRE_OR_NULL = (
    "Acquires a reference or returns NULL; `r0 = 0` means nothing was acquired, so the NULL "
    "branch has nothing to release."
)
R_RELEASE = (
    "Releases a reference the verifier tracks; it must run on every path or the program leaks "
    "it (Unreleased reference)."
)
R_VERDICT = (
    "Returns a verdict or action code, not an errno, and its failure value depends on the program "
    "type; the call is cheap, so the twin keeps it."
)
# Any call that takes a callback: stubbing it leaves the callback unvisited, opt_remove_dead_code
# drops it, and jit_subprogs then finds no subprogram for the callback's ld_imm64 whenever
# another subprogram is live ("verifier bug: No program to jit", measured on 6.18).
_CB_UNVISITED = ("Stubbing it would leave its callback unvisited: the verifier removes the "
                 "callback as dead code and then fails at JIT ('No program to jit') whenever another "
                 "subprogram is live (measured on kernel 6.18).")
R_ITER_KEEP = ("Kept: the twin of its callback returns 1, so the iteration stops after one step. "
               + _CB_UNVISITED)
R_VALUE = "Cannot fail and returns data the program uses; nothing to skip, so it is kept."


def _h(fast, reason, source, *, returns="int", roles=(), cb=None, fail=None):
    return {
        "returns": returns, "roles": list(roles), "callback_arg": cb, "fast_path": fast,
        "failure_value": fail, "reason": reason, "source": source,
    }


def _uninit(src: str, proto: str, roles=()) -> dict:
    source = f"{src} {proto} (out-buffer is ARG_PTR_TO_UNINIT_MEM or MEM_UNINIT)"
    return _h("keep", R_UNINIT, source, roles=roles)


def _or_null(src: str, proto: str, ret: str) -> dict:
    return _h("stub", R_OR_NULL, f"{src} {proto} (.ret_type = {ret})", returns="ptr_or_null",
              fail=0)


def _value(src: str, proto: str) -> dict:
    return _h("keep", R_VALUE, f"{src} {proto} (RET_INTEGER, no error return)")


CURATED_HELPERS: dict[str, dict] = {
    "unspec": _h("keep", "Id 0 is not a helper; the verifier refuses calls to it.",
                 "include/uapi/linux/bpf.h BPF_FUNC_unspec"),
    # Maps.
    "map_lookup_elem": _or_null(HELPERS_C, "bpf_map_lookup_elem_proto",
                                "RET_PTR_TO_MAP_VALUE_OR_NULL; kernel-facts: r0 = 0 accepted"),
    "map_lookup_percpu_elem": _or_null(HELPERS_C, "bpf_map_lookup_percpu_elem_proto",
                                       "RET_PTR_TO_MAP_VALUE_OR_NULL"),
    "map_update_elem": _h(
        "stub", "Can fail (-E2BIG when the map is full) and only reads its key and value, so the "
        "program takes its 'update failed' path and the verifier tracks nothing the call set up.",
        f"{HELPERS_C} bpf_map_update_elem_proto (RET_INTEGER; ARG_PTR_TO_MAP_KEY/VALUE read only)",
        fail="-E2BIG"),
    "map_delete_elem": _h(
        "stub", "Can fail (-ENOENT when the key is absent) and only reads its key; the program "
        "takes its 'not found' path.", f"{HELPERS_C} bpf_map_delete_elem_proto (RET_INTEGER)",
        fail="-ENOENT"),
    "map_push_elem": _h(
        "stub", "Can fail (-E2BIG when the queue or stack is full) and only reads its value.",
        f"{HELPERS_C} bpf_map_push_elem_proto (RET_INTEGER; ARG_PTR_TO_MAP_VALUE read only)",
        fail="-E2BIG"),
    "map_pop_elem": _uninit(HELPERS_C, "bpf_map_pop_elem_proto"),
    "map_peek_elem": _uninit(HELPERS_C, "bpf_map_peek_elem_proto"),
    "get_local_storage": _h("keep", R_NONNULL,
                            f"{CGROUP_C} bpf_get_local_storage_proto (.ret_type = "
                            "RET_PTR_TO_MAP_VALUE, not _OR_NULL)", returns="ptr_nonnull"),
    "sk_storage_get": _or_null("net/core/bpf_sk_storage.c", "bpf_sk_storage_get_proto",
                               "RET_PTR_TO_MAP_VALUE_OR_NULL"),
    "inode_storage_get": _or_null("kernel/bpf/bpf_inode_storage.c",
                                  "bpf_inode_storage_get_proto", "RET_PTR_TO_MAP_VALUE_OR_NULL"),
    "task_storage_get": _or_null("kernel/bpf/bpf_task_storage.c", "bpf_task_storage_get_proto",
                                 "RET_PTR_TO_MAP_VALUE_OR_NULL"),
    "cgrp_storage_get": _or_null("kernel/bpf/bpf_cgrp_storage.c", "bpf_cgrp_storage_get_proto",
                                 "RET_PTR_TO_MAP_VALUE_OR_NULL"),
    "sk_storage_delete": _h("stub", "Can fail with -ENOENT (no storage) and touches nothing the "
                            "verifier tracks.", "net/core/bpf_sk_storage.c "
                            "bpf_sk_storage_delete_proto (RET_INTEGER)", fail="-ENOENT"),
    "inode_storage_delete": _h("stub", "Can fail with -ENOENT (no storage) and touches nothing "
                               "the verifier tracks.", "kernel/bpf/bpf_inode_storage.c "
                               "bpf_inode_storage_delete_proto (RET_INTEGER)", fail="-ENOENT"),
    "task_storage_delete": _h("stub", "Can fail with -ENOENT (no storage) and touches nothing "
                              "the verifier tracks.", "kernel/bpf/bpf_task_storage.c "
                              "bpf_task_storage_delete_proto (RET_INTEGER)", fail="-ENOENT"),
    "cgrp_storage_delete": _h("stub", "Can fail with -ENOENT (no storage) and touches nothing "
                              "the verifier tracks.", "kernel/bpf/bpf_cgrp_storage.c "
                              "bpf_cgrp_storage_delete_proto (RET_INTEGER)", fail="-ENOENT"),
    "per_cpu_ptr": _or_null(HELPERS_C, "bpf_per_cpu_ptr_proto",
                            "RET_PTR_TO_MEM_OR_BTF_ID | PTR_MAYBE_NULL | MEM_RDONLY"),
    "this_cpu_ptr": _h("keep", R_NONNULL, f"{HELPERS_C} bpf_this_cpu_ptr_proto (.ret_type = "
                       "RET_PTR_TO_MEM_OR_BTF_ID | MEM_RDONLY, never NULL)", returns="ptr_nonnull"),
    "kptr_xchg": _h(
        "keep", "Moves ownership both ways (releases its argument, OBJ_RELEASE, and acquires the "
        "old kptr); without it the reference passed in is leaked.",
        f"{HELPERS_C} bpf_kptr_xchg_proto (RET_PTR_TO_BTF_ID_OR_NULL; arg2 "
        "ARG_PTR_TO_BTF_ID_OR_NULL | OBJ_RELEASE)", returns="ptr_or_null",
        roles=("acquire", "release")),
    # Locks.
    "spin_lock": _h("keep", "Void to the verifier (reading r0 after it is rejected, R0 !read_ok) "
                    "and it opens a critical section the program must close; only "
                    "bpf_res_spin_lock can be checked and stubbed.",
                    f"{HELPERS_C} bpf_spin_lock_proto (RET_VOID); kernel-facts", returns="void",
                    roles=("lock", "spins")),
    "spin_unlock": _h("keep", "Closes the critical section opened by bpf_spin_lock; it must run.",
                      f"{HELPERS_C} bpf_spin_unlock_proto (RET_VOID)", returns="void",
                      roles=("unlock",)),
    # Ring buffers.
    "ringbuf_reserve": _h("stub", R_ACQUIRE_OR_NULL, f"{RINGBUF_C} bpf_ringbuf_reserve_proto "
                          "(RET_PTR_TO_RINGBUF_MEM_OR_NULL); kernel-facts: r0 = 0 accepted",
                          returns="ptr_or_null", roles=("acquire",), fail=0),
    "ringbuf_submit": _h("keep", R_RELEASE, f"{RINGBUF_C} bpf_ringbuf_submit_proto (RET_VOID; "
                         "ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE)", returns="void",
                         roles=("release",)),
    "ringbuf_discard": _h("keep", R_RELEASE, f"{RINGBUF_C} bpf_ringbuf_discard_proto (RET_VOID; "
                          "ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE)", returns="void",
                          roles=("release",)),
    "ringbuf_output": _h("stub", "Can fail with -EAGAIN when the buffer has no room; it only reads "
                         "the data, so the program takes its 'dropped' path.",
                         f"{RINGBUF_C} bpf_ringbuf_output_proto (RET_INTEGER; data MEM_RDONLY)",
                         fail="-EAGAIN"),
    "ringbuf_query": _value(RINGBUF_C, "bpf_ringbuf_query_proto"),
    "ringbuf_reserve_dynptr": _h(
        "keep", "Initialises a dynptr (MEM_UNINIT) and acquires a reference that must be released "
        "by submit/discard_dynptr even when the reservation fails; the verifier requires both.",
        f"{RINGBUF_C} bpf_ringbuf_reserve_dynptr_proto (arg4 ARG_PTR_TO_DYNPTR | "
        "DYNPTR_TYPE_RINGBUF | MEM_UNINIT)", roles=("acquire",)),
    "ringbuf_submit_dynptr": _h("keep", R_RELEASE, f"{RINGBUF_C} bpf_ringbuf_submit_dynptr_proto "
                                "(RET_VOID; ARG_PTR_TO_DYNPTR | OBJ_RELEASE)", returns="void",
                                roles=("release",)),
    "ringbuf_discard_dynptr": _h("keep", R_RELEASE, f"{RINGBUF_C} "
                                 "bpf_ringbuf_discard_dynptr_proto (RET_VOID; ARG_PTR_TO_DYNPTR | "
                                 "OBJ_RELEASE)", returns="void", roles=("release",)),
    "user_ringbuf_drain": _h(
        "keep", R_ITER_KEEP, f"{RINGBUF_C} bpf_user_ringbuf_drain_proto (arg2 ARG_PTR_TO_FUNC)",
        roles=("iterate", "long_running"), cb=2),
    # Callbacks and loops.
    "loop": _h("keep", R_ITER_KEEP, f"{ITER_C} bpf_loop_proto (arg2 ARG_PTR_TO_FUNC); kernel-facts",
               roles=("iterate", "long_running"), cb=2),
    "for_each_map_elem": _h("keep", R_ITER_KEEP,
                            f"{ITER_C} bpf_for_each_map_elem_proto (arg2 ARG_PTR_TO_FUNC)",
                            roles=("iterate", "long_running"), cb=2),
    "find_vma": _h("keep", "Calls its callback at most once, for the vma holding addr, under the "
                   "mmap lock. " + _CB_UNVISITED,
                   "kernel/bpf/task_iter.c bpf_find_vma_proto (arg3 ARG_PTR_TO_FUNC)",
                   roles=("callback_once", "long_running"), cb=3),
    "timer_set_callback": _h("keep", "Registers (does not call) its callback; the twin stubs "
                             "bpf_timer_start, so nothing is armed. " + _CB_UNVISITED,
                             f"{HELPERS_C} bpf_timer_set_callback_proto (arg2 ARG_PTR_TO_FUNC)",
                             cb=2),
    "timer_init": _h("stub", "Allocates the timer; -ENOMEM is one of its documented failures "
                     "and means nothing was set up, so later timer calls fail too.",
                     f"{HELPERS_C} bpf_timer_init_proto / __bpf_async_init (RET_INTEGER)",
                     fail="-ENOMEM"),
    "timer_start": _h("stub", "Arms the timer; -EINVAL (not initialised or no callback) is "
                      "documented and means no callback will run later.",
                      f"{HELPERS_C} bpf_timer_start_proto (RET_INTEGER)", fail="-EINVAL"),
    "timer_cancel": _h("keep", "Cancels earlier arming and may wait for a running callback; like a "
                       "release, this cleanup must still happen in the twin.",
                       f"{HELPERS_C} bpf_timer_cancel (hrtimer_cancel waits for the callback)",
                       roles=("long_running",)),
    "tail_call": _h("stub", "Void to the verifier, which always explores the fall-through taken "
                    "when a tail call fails; removing the call takes that path.",
                    "kernel/bpf/core.c bpf_tail_call_proto (RET_VOID)", returns="void",
                    roles=("tail_call",), fail="-ENOENT"),
    # Sockets.
    "sk_lookup_tcp": _h("stub", R_ACQUIRE_OR_NULL, f"{FILTER_C} bpf_sk_lookup_tcp_proto "
                        "(RET_PTR_TO_SOCKET_OR_NULL, acquires)", returns="ptr_or_null",
                        roles=("acquire",), fail=0),
    "sk_lookup_udp": _h("stub", R_ACQUIRE_OR_NULL, f"{FILTER_C} bpf_sk_lookup_udp_proto "
                        "(RET_PTR_TO_SOCKET_OR_NULL, acquires)", returns="ptr_or_null",
                        roles=("acquire",), fail=0),
    "skc_lookup_tcp": _h("stub", R_ACQUIRE_OR_NULL, f"{FILTER_C} bpf_skc_lookup_tcp_proto "
                         "(RET_PTR_TO_SOCK_COMMON_OR_NULL, acquires)", returns="ptr_or_null",
                         roles=("acquire",), fail=0),
    "sk_release": _h("keep", R_RELEASE, f"{FILTER_C} bpf_sk_release_proto "
                     "(ARG_PTR_TO_BTF_ID_SOCK_COMMON | OBJ_RELEASE)", roles=("release",)),
    "sk_fullsock": _or_null(FILTER_C, "bpf_sk_fullsock_proto", "RET_PTR_TO_SOCKET_OR_NULL"),
    "tcp_sock": _or_null(FILTER_C, "bpf_tcp_sock_proto", "RET_PTR_TO_TCP_SOCK_OR_NULL"),
    "get_listener_sock": _or_null(FILTER_C, "bpf_get_listener_sock_proto",
                                  "RET_PTR_TO_SOCKET_OR_NULL"),
    "sock_from_file": _or_null(TRACE_C, "bpf_sock_from_file_proto", "RET_PTR_TO_BTF_ID_OR_NULL"),
    **{
        f"skc_to_{t}": _or_null(FILTER_C, f"bpf_skc_to_{t}_proto", "RET_PTR_TO_BTF_ID_OR_NULL")
        for t in ("tcp6_sock", "tcp_sock", "tcp_timewait_sock", "tcp_request_sock", "udp6_sock",
                  "unix_sock", "mptcp_sock")
    },
    # Tasks.
    "get_current_task_btf": _h("keep", R_NONNULL, f"{TRACE_C} bpf_get_current_task_btf_proto "
                               "(RET_PTR_TO_BTF_ID_TRUSTED); kernel-facts: r0 = 0 rejected",
                               returns="ptr_nonnull"),
    "task_pt_regs": _h("keep", R_NONNULL, f"{TRACE_C} bpf_task_pt_regs_proto (RET_PTR_TO_BTF_ID, "
                       "not _OR_NULL)", returns="ptr_nonnull"),
    "get_current_task": _value(TRACE_C, "bpf_get_current_task_proto"),
    # Dynptrs.
    "dynptr_from_mem": _h("keep", "Initialises a dynptr (MEM_UNINIT) whose state the verifier "
                          "tracks; later dynptr calls on it are rejected without it.",
                          f"{HELPERS_C} bpf_dynptr_from_mem_proto (arg4 ARG_PTR_TO_DYNPTR | "
                          "DYNPTR_TYPE_LOCAL | MEM_UNINIT)"),
    "dynptr_read": _uninit(HELPERS_C, "bpf_dynptr_read_proto"),
    "dynptr_data": _or_null(HELPERS_C, "bpf_dynptr_data_proto", "RET_PTR_TO_DYNPTR_MEM_OR_NULL"),
    # Out-buffers the verifier counts as written.
    "probe_read": _uninit(TRACE_C, "bpf_probe_read_compat_proto"),
    "probe_read_str": _uninit(TRACE_C, "bpf_probe_read_compat_str_proto"),
    "probe_read_user": _uninit(TRACE_C, "bpf_probe_read_user_proto"),
    "probe_read_kernel": _uninit(TRACE_C, "bpf_probe_read_kernel_proto"),
    "probe_read_user_str": _uninit(TRACE_C, "bpf_probe_read_user_str_proto"),
    "probe_read_kernel_str": _uninit(TRACE_C, "bpf_probe_read_kernel_str_proto"),
    "get_current_comm": _uninit(HELPERS_C, "bpf_get_current_comm_proto"),
    "skb_load_bytes": _uninit(FILTER_C, "bpf_skb_load_bytes_proto"),
    "skb_load_bytes_relative": _uninit(FILTER_C, "bpf_skb_load_bytes_relative_proto"),
    "skb_get_tunnel_key": _uninit(FILTER_C, "bpf_skb_get_tunnel_key_proto"),
    "skb_get_tunnel_opt": _uninit(FILTER_C, "bpf_skb_get_tunnel_opt_proto"),
    "skb_get_xfrm_state": _uninit(FILTER_C, "bpf_skb_get_xfrm_state_proto"),
    "xdp_load_bytes": _uninit(FILTER_C, "bpf_xdp_load_bytes_proto"),
    "getsockopt": _uninit(FILTER_C, "bpf_sk_getsockopt_proto and its sock_ops/sock_addr twins"),
    "perf_event_read_value": _uninit(TRACE_C, "bpf_perf_event_read_value_proto"),
    "perf_prog_read_value": _uninit(TRACE_C, "bpf_perf_prog_read_value_proto"),
    "get_branch_snapshot": _uninit(TRACE_C, "bpf_get_branch_snapshot_proto"),
    "get_func_arg": _uninit(TRACE_C, "bpf_get_func_arg_proto"),
    "get_func_ret": _uninit(TRACE_C, "bpf_get_func_ret_proto"),
    "get_stack": _uninit(STACKMAP_C, "bpf_get_stack_proto"),
    "get_task_stack": _uninit(STACKMAP_C, "bpf_get_task_stack_proto"),
    "sysctl_get_current_value": _uninit(CGROUP_C, "bpf_sysctl_get_current_value_proto"),
    "sysctl_get_new_value": _uninit(CGROUP_C, "bpf_sysctl_get_new_value_proto"),
    "strtol": _uninit(HELPERS_C, "bpf_strtol_proto"),
    "strtoul": _uninit(HELPERS_C, "bpf_strtoul_proto"),
    "get_ns_current_pid_tgid": _uninit(HELPERS_C, "bpf_get_ns_current_pid_tgid_proto"),
    "copy_from_user": _uninit(HELPERS_C, "bpf_copy_from_user_proto (might_sleep)",
                              roles=("long_running",)),
    "copy_from_user_task": _uninit(HELPERS_C, "bpf_copy_from_user_task_proto (might_sleep)",
                                   roles=("long_running",)),
    "ima_inode_hash": _uninit("kernel/bpf/bpf_lsm.c", "bpf_ima_inode_hash_proto"),
    "ima_file_hash": _uninit("kernel/bpf/bpf_lsm.c", "bpf_ima_file_hash_proto (may hash the file)",
                             roles=("long_running",)),
    "kallsyms_lookup_name": _uninit("kernel/bpf/syscall.c", "bpf_kallsyms_lookup_name_proto"),
    # Verdicts: the return value is an action, not an error code.
    "redirect": _h("keep", R_VERDICT, f"{FILTER_C} bpf_redirect / bpf_xdp_redirect (TC_ACT_* or "
                   "XDP_* action)"),
    "redirect_map": _h("keep", R_VERDICT, f"{FILTER_C} bpf_xdp_redirect_map_proto (XDP_REDIRECT "
                       "or the low bits of flags)"),
    "redirect_neigh": _h("keep", R_VERDICT, f"{FILTER_C} bpf_redirect_neigh_proto (TC_ACT_*)"),
    "redirect_peer": _h("keep", R_VERDICT, f"{FILTER_C} bpf_redirect_peer_proto (TC_ACT_*)"),
    "sk_redirect_map": _h("keep", R_VERDICT, "net/core/sock_map.c bpf_sk_redirect_map_proto "
                          "(SK_PASS/SK_DROP)"),
    "sk_redirect_hash": _h("keep", R_VERDICT, "net/core/sock_map.c bpf_sk_redirect_hash_proto "
                           "(SK_PASS/SK_DROP)"),
    "msg_redirect_map": _h("keep", R_VERDICT, "net/core/sock_map.c bpf_msg_redirect_map_proto "
                           "(SK_PASS/SK_DROP)"),
    "msg_redirect_hash": _h("keep", R_VERDICT, "net/core/sock_map.c bpf_msg_redirect_hash_proto "
                            "(SK_PASS/SK_DROP)"),
    "check_mtu": _h("keep", R_VERDICT, f"{FILTER_C} bpf_skb_check_mtu_proto / "
                    "bpf_xdp_check_mtu_proto (BPF_MTU_CHK_RET_* status)"),
    # Cheap queries whose docs mention no error.
    "set_retval": _h("keep", "Sets the value the cgroup hook returns, the program's whole effect; "
                     "the kernel implementation always returns 0.",
                     f"{CGROUP_C} bpf_set_retval (returns 0)"),
    "override_return": _h("keep", "Its effect (the probed function's return value) is the point "
                          "of the program and it always returns 0.",
                          f"{TRACE_C} bpf_override_return_proto (returns 0)"),
}

# kfuncs: flags from the kernel's BTF_ID_FLAGS lists (KF_ACQUIRE, KF_RELEASE, KF_RET_NULL,
# KF_ITER_NEW/NEXT/DESTROY). Every name must be a bpf_kfunc-tagged FUNC in vmlinux BTF.
_FLAGS = "kernel/bpf/helpers.c BTF_ID_FLAGS(func, {name}{flags})"


def _k(name, fast, reason, *, returns, flags="", roles=(), cb=None, fail=None, src=None):
    source = src or _FLAGS.format(name=name, flags=f", {flags}" if flags else "")
    return {
        "name": name, "returns": returns, "roles": list(roles), "callback_arg": cb,
        "fast_path": fast, "failure_value": fail, "reason": reason, "source": source,
    }


def _iter_family(fam: str, new_flags: str, next_flags: str, destroy_flags: str) -> list[dict]:
    return [
        _k(f"bpf_iter_{fam}_new", "keep", "Initialises iterator state the verifier tracks on the "
           "stack; next/destroy on an uninitialised iterator are rejected.", returns="int",
           flags=new_flags, roles=("iter_new",)),
        _k(f"bpf_iter_{fam}_next", "stub", "Returns the next element or NULL; `r0 = 0` ends the "
           "open-coded loop at once, a path the verifier already explores.", returns="ptr_or_null",
           flags=next_flags, roles=("iter_next",), fail=0),
        _k(f"bpf_iter_{fam}_destroy", "keep", "Tears down the iterator; the verifier requires it "
           "on every path after _new.", returns="void", flags=destroy_flags,
           roles=("iter_destroy",)),
    ]


_RQ = "kernel/bpf/rqspinlock.c BTF_ID_FLAGS(func, {}{})"
_CPUMASK = "kernel/bpf/cpumask.c BTF_ID_FLAGS(func, {}{})"
_LOCKED_SECTION = "Leaves a section the verifier tracks (it must be left on every path)."

KFUNCS: list[dict] = [
    _k("bpf_res_spin_lock", "stub", "Returns 0 or an error the program must test; -ETIMEDOUT was "
       "accepted in place of the call and runs the failure path with no lock held.", returns="int",
       roles=("lock", "spins"), fail="-ETIMEDOUT",
       src=_RQ.format("bpf_res_spin_lock", ", KF_RET_NULL") + "; kernel-facts: r0 = -110 accepted"),
    _k("bpf_res_spin_lock_irqsave", "stub", "Like bpf_res_spin_lock; on failure the verifier marks "
       "neither the lock nor the irq flag (PROCESS_LOCK_FAIL), so -ETIMEDOUT skips both.",
       returns="int", roles=("lock", "spins"), fail="-ETIMEDOUT",
       src=_RQ.format("bpf_res_spin_lock_irqsave", ", KF_RET_NULL")),
    _k("bpf_res_spin_unlock", "keep", _LOCKED_SECTION, returns="void", roles=("unlock",),
       src=_RQ.format("bpf_res_spin_unlock", "")),
    _k("bpf_res_spin_unlock_irqrestore", "keep", _LOCKED_SECTION, returns="void",
       roles=("unlock",), src=_RQ.format("bpf_res_spin_unlock_irqrestore", "")),
    _k("bpf_rcu_read_lock", "keep", "Opens an RCU read section the verifier tracks; the matching "
       "unlock is kept, so the lock must be too.", returns="void", roles=("lock",)),
    _k("bpf_rcu_read_unlock", "keep", _LOCKED_SECTION, returns="void", roles=("unlock",)),
    _k("bpf_preempt_disable", "keep", "Opens a no-preemption section the verifier tracks; the "
       "matching enable is kept, so this must be too.", returns="void", roles=("lock",)),
    _k("bpf_preempt_enable", "keep", _LOCKED_SECTION, returns="void", roles=("unlock",)),
    _k("bpf_local_irq_save", "keep", "Saves irq state into a stack slot the verifier tracks; "
       "irq_restore needs it.", returns="void", roles=("lock",)),
    _k("bpf_local_irq_restore", "keep", _LOCKED_SECTION, returns="void", roles=("unlock",)),
    # Allocated objects and collections.
    _k("bpf_obj_new_impl", "stub", R_ACQUIRE_OR_NULL, returns="ptr_or_null",
       flags="KF_ACQUIRE | KF_RET_NULL", roles=("acquire",), fail=0),
    _k("bpf_percpu_obj_new_impl", "stub", R_ACQUIRE_OR_NULL, returns="ptr_or_null",
       flags="KF_ACQUIRE | KF_RET_NULL", roles=("acquire",), fail=0),
    _k("bpf_obj_drop_impl", "keep", R_RELEASE, returns="void", flags="KF_RELEASE",
       roles=("release",)),
    _k("bpf_percpu_obj_drop_impl", "keep", R_RELEASE, returns="void", flags="KF_RELEASE",
       roles=("release",)),
    _k("bpf_refcount_acquire_impl", "keep", "KF_RET_NULL is dropped by the verifier when the "
       "argument is an owning reference (is_kfunc_ret_null), so the program may use r0 unchecked "
       "and `r0 = 0` could be rejected.", returns="ptr_or_null",
       flags="KF_ACQUIRE | KF_RET_NULL | KF_RCU", roles=("acquire",)),
    _k("bpf_list_push_front_impl", "keep", "Consumes the owning reference to the node (it becomes "
       "non-owning); without the call the program still owns it and leaks it.", returns="int",
       roles=("release",)),
    _k("bpf_list_push_back_impl", "keep", "Consumes the owning reference to the node (it becomes "
       "non-owning); without the call the program still owns it and leaks it.", returns="int",
       roles=("release",)),
    _k("bpf_list_pop_front", "stub", R_ACQUIRE_OR_NULL, returns="ptr_or_null",
       flags="KF_ACQUIRE | KF_RET_NULL", roles=("acquire",), fail=0),
    _k("bpf_list_pop_back", "stub", R_ACQUIRE_OR_NULL, returns="ptr_or_null",
       flags="KF_ACQUIRE | KF_RET_NULL", roles=("acquire",), fail=0),
    _k("bpf_list_front", "stub", R_OR_NULL, returns="ptr_or_null", flags="KF_RET_NULL", fail=0),
    _k("bpf_list_back", "stub", R_OR_NULL, returns="ptr_or_null", flags="KF_RET_NULL", fail=0),
    _k("bpf_rbtree_add_impl", "keep", "Consumes the owning reference to the node and calls the "
       "less() callback once per tree level; without it the node is leaked. less() is a "
       "comparator, not an iteration: it is never rewritten (returning 1 would break the "
       "tree's order, which the original shares).", returns="int", roles=("release",), cb=3),
    _k("bpf_rbtree_remove", "stub", R_ACQUIRE_OR_NULL, returns="ptr_or_null",
       flags="KF_ACQUIRE | KF_RET_NULL", roles=("acquire",), fail=0),
    _k("bpf_rbtree_first", "stub", R_OR_NULL, returns="ptr_or_null", flags="KF_RET_NULL", fail=0),
    _k("bpf_rbtree_root", "stub", R_OR_NULL, returns="ptr_or_null", flags="KF_RET_NULL", fail=0),
    _k("bpf_rbtree_left", "stub", R_OR_NULL, returns="ptr_or_null", flags="KF_RET_NULL", fail=0),
    _k("bpf_rbtree_right", "stub", R_OR_NULL, returns="ptr_or_null", flags="KF_RET_NULL", fail=0),
    # Kernel objects.
    _k("bpf_task_acquire", "stub", R_ACQUIRE_OR_NULL, returns="ptr_or_null",
       flags="KF_ACQUIRE | KF_RCU | KF_RET_NULL", roles=("acquire",), fail=0),
    _k("bpf_task_from_pid", "stub", R_ACQUIRE_OR_NULL, returns="ptr_or_null",
       flags="KF_ACQUIRE | KF_RET_NULL", roles=("acquire",), fail=0),
    _k("bpf_task_from_vpid", "stub", R_ACQUIRE_OR_NULL, returns="ptr_or_null",
       flags="KF_ACQUIRE | KF_RET_NULL", roles=("acquire",), fail=0),
    _k("bpf_task_release", "keep", R_RELEASE, returns="void", flags="KF_RELEASE",
       roles=("release",)),
    _k("bpf_cgroup_acquire", "stub", R_ACQUIRE_OR_NULL, returns="ptr_or_null",
       flags="KF_ACQUIRE | KF_RCU | KF_RET_NULL", roles=("acquire",), fail=0),
    _k("bpf_cgroup_ancestor", "stub", R_ACQUIRE_OR_NULL, returns="ptr_or_null",
       flags="KF_ACQUIRE | KF_RCU | KF_RET_NULL", roles=("acquire",), fail=0),
    _k("bpf_cgroup_from_id", "stub", R_ACQUIRE_OR_NULL, returns="ptr_or_null",
       flags="KF_ACQUIRE | KF_RET_NULL", roles=("acquire",), fail=0),
    _k("bpf_task_get_cgroup1", "stub", R_ACQUIRE_OR_NULL, returns="ptr_or_null",
       flags="KF_ACQUIRE | KF_RCU | KF_RET_NULL", roles=("acquire",), fail=0),
    _k("bpf_cgroup_release", "keep", R_RELEASE, returns="void", flags="KF_RELEASE",
       roles=("release",)),
    _k("bpf_cpumask_create", "stub", R_ACQUIRE_OR_NULL, returns="ptr_or_null", roles=("acquire",),
       fail=0, src=_CPUMASK.format("bpf_cpumask_create", ", KF_ACQUIRE | KF_RET_NULL")),
    _k("bpf_cpumask_acquire", "keep", "Acquires a reference and never returns NULL (KF_ACQUIRE "
       "without KF_RET_NULL), so the program may use r0 unchecked.", returns="ptr_nonnull",
       roles=("acquire",), src=_CPUMASK.format("bpf_cpumask_acquire", ", KF_ACQUIRE")),
    _k("bpf_cpumask_release", "keep", R_RELEASE, returns="void", roles=("release",),
       src=_CPUMASK.format("bpf_cpumask_release", ", KF_RELEASE")),
    _k("bpf_throw", "keep", "Never returns: the verifier treats it as the end of the path, so "
       "replacing it would let execution fall into code the verifier never checked.",
       returns="void"),
    # Dynptr kfuncs.
    _k("bpf_dynptr_from_skb", "keep", "Initialises a dynptr the verifier tracks; later dynptr "
       "calls on it are rejected without it.", returns="int",
       src="net/core/filter.c BTF_ID_FLAGS(func, bpf_dynptr_from_skb, KF_TRUSTED_ARGS)"),
    _k("bpf_dynptr_from_xdp", "keep", "Initialises a dynptr the verifier tracks; later dynptr "
       "calls on it are rejected without it.", returns="int",
       src="net/core/filter.c BTF_ID_FLAGS(func, bpf_dynptr_from_xdp)"),
    _k("bpf_dynptr_clone", "keep", "Initialises the clone dynptr (clone__uninit) the verifier "
       "tracks.", returns="int"),
    _k("bpf_dynptr_slice", "stub", R_OR_NULL, returns="ptr_or_null", flags="KF_RET_NULL", fail=0),
    _k("bpf_dynptr_slice_rdwr", "stub", R_OR_NULL, returns="ptr_or_null", flags="KF_RET_NULL",
       fail=0),
    _k("bpf_dynptr_adjust", "keep", "Cheap and changes the dynptr's bounds in place; nothing to "
       "gain from skipping it.", returns="int"),
    _k("bpf_dynptr_size", "keep", R_VALUE, returns="int"),
    _k("bpf_dynptr_is_null", "keep", R_VALUE, returns="int"),
    _k("bpf_dynptr_is_rdonly", "keep", R_VALUE, returns="int"),
    # Open-coded iterators present in this kernel's BTF.
    *_iter_family("num", "KF_ITER_NEW", "KF_ITER_NEXT | KF_RET_NULL", "KF_ITER_DESTROY"),
    *_iter_family("bits", "KF_ITER_NEW", "KF_ITER_NEXT | KF_RET_NULL", "KF_ITER_DESTROY"),
    *_iter_family("task", "KF_ITER_NEW | KF_TRUSTED_ARGS | KF_RCU_PROTECTED",
                  "KF_ITER_NEXT | KF_RET_NULL", "KF_ITER_DESTROY"),
    *_iter_family("task_vma", "KF_ITER_NEW | KF_RCU", "KF_ITER_NEXT | KF_RET_NULL",
                  "KF_ITER_DESTROY"),
    *_iter_family("css", "KF_ITER_NEW | KF_TRUSTED_ARGS | KF_RCU_PROTECTED",
                  "KF_ITER_NEXT | KF_RET_NULL", "KF_ITER_DESTROY"),
    *_iter_family("css_task", "KF_ITER_NEW | KF_TRUSTED_ARGS", "KF_ITER_NEXT | KF_RET_NULL",
                  "KF_ITER_DESTROY"),
    *_iter_family("kmem_cache", "KF_ITER_NEW | KF_SLEEPABLE",
                  "KF_ITER_NEXT | KF_RET_NULL | KF_SLEEPABLE", "KF_ITER_DESTROY | KF_SLEEPABLE"),
    *_iter_family("dmabuf", "KF_ITER_NEW | KF_SLEEPABLE",
                  "KF_ITER_NEXT | KF_RET_NULL | KF_SLEEPABLE", "KF_ITER_DESTROY | KF_SLEEPABLE"),
]


# ---------------------------------------------------------------------------------------------
# Default rules for helpers not curated above.

_ERRNO_IN_DOC = re.compile(r"\*\*-(E[A-Z0-9]+)\*\*")
_FAILS_IN_DOC = re.compile(r"negative error|negative value|< 0|error code|-E[A-Z]", re.I)


def default_helper(proto: Proto) -> dict:
    """DEFAULT RULES, from the C prototype and the uapi doc's Returns section:

    - `void` return: kept (nothing to test, and the call is its effect);
    - a pointer return: ptr_or_null, stubbed with 0 (NULL);
    - an integer return whose doc names a failure: stubbed with the first errno the doc names,
      else -EINVAL;
    - any other integer return: kept (it cannot fail, so there is no failure path to take).
    Helpers that write out-buffers, initialise state or return non-NULL pointers are curated.
    """
    source = ("include/uapi/linux/bpf.h doc of bpf_{} ('Returns') and its bpf_helper_defs.h "
              "prototype (default rule)").format(proto.name)
    if proto.ret == "void":
        return _h("keep", "Returns nothing; the call is its effect.", source, returns="void")
    if proto.ret.endswith("*"):
        return _h("stub", R_OR_NULL, source, returns="ptr_or_null", fail=0)
    doc = proto.returns_doc
    named = _ERRNO_IN_DOC.search(doc)
    if named or _FAILS_IN_DOC.search(doc):
        errno = f"-{named[1]}" if named else "-EINVAL"
        return _h("stub", f"Documented to fail with a negative error ({errno} used); it sets up "
                  "nothing the verifier tracks, so the program takes its failure path.",
                  source, fail=errno)
    return _h("keep", R_VALUE, source)


# ---------------------------------------------------------------------------------------------
# Building the JSON


def _resolve(value, errnos: dict[str, int], where: str):
    if isinstance(value, str):
        if not value.startswith("-") or value[1:] not in errnos:
            raise SystemExit(f"{where}: unknown errno {value!r}")
        return -errnos[value[1:]]
    return value


def _dump(kind: str, inputs: list[str], entries: list[dict]) -> str:
    doc = {
        "schema": SCHEMA, "kind": kind, "generated_by": "tools/gen_helper_table.py",
        "inputs": inputs, "entries": entries,
    }
    return json.dumps(doc, indent=1, ensure_ascii=True) + "\n"


def build(bpf_h: str, defs_h: str, errno_texts: list[str]) -> tuple[str, str]:
    """The text of helpers.json and kfuncs.json, from header texts."""
    ids = parse_func_ids(bpf_h)
    protos = parse_helper_defs(defs_h)
    errnos = parse_errno(errno_texts)
    # bpf_helper_defs.h may be newer than linux/bpf.h (libbpf ships its own copy): take the
    # union, but the two must agree where they overlap.
    for p in protos.values():
        if ids.setdefault(p.id, p.name) != p.name:
            raise SystemExit(f"helper {p.id}: linux/bpf.h says {ids[p.id]}, defs say {p.name}")
    unknown = set(CURATED_HELPERS) - set(ids.values())
    if unknown:
        raise SystemExit(f"curated helpers not in the headers: {sorted(unknown)}")
    helpers = []
    for ident, name in sorted(ids.items()):
        if name in CURATED_HELPERS:
            facts = dict(CURATED_HELPERS[name])
        elif name in protos:
            facts = default_helper(protos[name])
        else:
            raise SystemExit(f"helper {name} ({ident}) has no prototype and no curated entry")
        facts["failure_value"] = _resolve(facts["failure_value"], errnos, name)
        helpers.append({"name": f"bpf_{name}", "id": ident, "kind": "helper", **facts})
    kfuncs = []
    for k in sorted(KFUNCS, key=lambda k: k["name"]):
        facts = dict(k)
        facts["failure_value"] = _resolve(facts["failure_value"], errnos, k["name"])
        name = facts.pop("name")
        kfuncs.append({"name": name, "id": None, "kind": "kfunc", **facts})
    inputs = ["linux/bpf.h", "bpf/bpf_helper_defs.h", "asm-generic/errno-base.h",
              "asm-generic/errno.h"]
    return _dump("helper", inputs, helpers), _dump("kfunc", ["curated in the generator"], kfuncs)


def build_from_files(bpf_h: Path = BPF_H, defs_h: Path = DEFS_H) -> tuple[str, str]:
    """build() over the installed headers."""
    return build(bpf_h.read_text(), defs_h.read_text(), [p.read_text() for p in ERRNO_H])


def render_markdown(helpers_json: str, kfuncs_json: str) -> str:
    """A Markdown table of the curated entries (every kfunc, helpers not from the default rule)."""
    rows = ["| name | id | returns | roles | cb | twin | r0 | reason |",
            "|---|---|---|---|---|---|---|---|"]
    for text in (helpers_json, kfuncs_json):
        for e in json.loads(text)["entries"]:
            if "(default rule)" in e["source"]:
                continue
            cells = [f"`{e['name']}`", "" if e["id"] is None else str(e["id"]), e["returns"],
                     ", ".join(e["roles"]), "" if e["callback_arg"] is None else
                     str(e["callback_arg"]), e["fast_path"],
                     "" if e["failure_value"] is None else str(e["failure_value"]),
                     e["reason"].replace("|", "\\|")]
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the two JSON files; exit 1 when --check finds drift."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare, do not write")
    ap.add_argument("--bpf-h", type=Path, default=BPF_H)
    ap.add_argument("--defs-h", type=Path, default=DEFS_H)
    ap.add_argument("--out-dir", type=Path, default=OUT_DIR)
    ap.add_argument("--markdown", action="store_true",
                    help="print the curated entries as a Markdown table, write nothing")
    args = ap.parse_args(argv)
    built = build_from_files(args.bpf_h, args.defs_h)
    if args.markdown:
        sys.stdout.write(render_markdown(*built))
        return 0
    texts = dict(zip(("helpers.json", "kfuncs.json"), built))
    stale = []
    for name, text in texts.items():
        path = args.out_dir / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run python3 tools/gen_helper_table.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
