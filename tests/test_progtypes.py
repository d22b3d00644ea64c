"""Program types from section names: libbpf's section_defs[] and matching rule, checked against
libbpf's source (hand-derived cases) and against the libbpf installed here (the loader's oracle)."""
from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from bpfrewrite.elf.progtypes import NEWER_THAN_1_1, SECTION_DEFS, program_type, section_def
from bpfrewrite.elf.reader import read_object
from bpfrewrite.errors import BpfrewriteError
from conftest import unavailable

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"

# (section name, type libbpf gives it), worked out by hand from libbpf's SEC_DEF lines and
# sec_def_matches(): "x+" takes "x" or "x/..."; "x" alone is exact; first match wins.
FROM_LIBBPF_SOURCE = [
    # exact entries refuse a suffix
    ("socket", "socket_filter"),
    ("socket/filter", None),
    ("tc", "sched_cls"),
    ("tc/foo", None),
    ("classifier", "sched_cls"),
    ("classifier/x", None),
    ("action", "sched_act"),
    ("xdp", "xdp"),
    ("xdp/foo", None),
    ("xdp_devmap", None),
    ("xdp.frags", "xdp"),
    ("xdp.frags/devmap", "xdp"),
    ("xdp.frags/devmap/x", None),
    ("xdp/cpumap", "xdp"),
    ("syscall", "syscall"),
    ("syscall/x", None),
    ("sk_lookup", "sk_lookup"),
    ("sk_lookup/x", None),
    ("sk_reuseport/migrate", "sk_reuseport"),
    ("sk_skb", "sk_skb"),
    ("sk_skb/stream_verdict", "sk_skb"),
    ("sk_skb/verdict", None),
    ("sockops", "sock_ops"),
    ("perf_event", "perf_event"),
    ("lwt_seg6local", "lwt_seg6local"),
    ("flow_dissector", "flow_dissector"),
    ("netfilter", "netfilter"),
    # "+" entries: the name alone or name/...
    ("kprobe", "kprobe"),
    ("kprobe/do_unlinkat", "kprobe"),
    ("kprobex", None),
    ("kprobe.multi/vfs_*", "kprobe"),
    ("kretprobe.multi", "kprobe"),
    ("kprobe.session/bpf_fentry_test*", "kprobe"),
    ("uprobe.s//bin/sh:main", "kprobe"),
    ("usdt/libc:probe", "kprobe"),
    ("ksyscall/openat", "kprobe"),
    ("tracepoint/syscalls/sys_enter_openat", "tracepoint"),
    ("tp/sched/sched_switch", "tracepoint"),
    ("tpx", None),
    ("raw_tp/sched_switch", "raw_tracepoint"),
    ("raw_tp.w/bpf_test_finish", "raw_tracepoint_writable"),
    ("tp_btf/sched_switch", "tracing"),
    ("fentry/do_unlinkat", "tracing"),
    ("fexit.s/x", "tracing"),
    ("fmod_ret/x", "tracing"),
    ("freplace/handler", "ext"),
    ("lsm/file_open", "lsm"),
    ("lsm.s/bprm_committed_creds", "lsm"),
    ("lsm_cgroup/socket_bind", "lsm"),
    ("iter/task", "tracing"),
    ("iter.s/task", "tracing"),
    ("struct_ops/init", "struct_ops"),
    ("struct_ops.s", "struct_ops"),
    # the tc/tcx/netkit hooks are exact names
    ("tcx/ingress", "sched_cls"),
    ("tc/ingress", "sched_cls"),
    ("tcx/ingress/x", None),
    ("netkit/primary", "sched_cls"),
    ("netkit/peer", "sched_cls"),
    ("netkit/other", None),
    # cgroup: each hook is exact; there is no catch-all
    ("cgroup/skb", "cgroup_skb"),
    ("cgroup_skb/ingress", "cgroup_skb"),
    ("cgroup/sock", "cgroup_sock"),
    ("cgroup/sock_create", "cgroup_sock"),
    ("cgroup/sock_release", "cgroup_sock"),
    ("cgroup/post_bind4", "cgroup_sock"),
    ("cgroup/bind4", "cgroup_sock_addr"),
    ("cgroup/connect6", "cgroup_sock_addr"),
    ("cgroup/connect_unix", "cgroup_sock_addr"),
    ("cgroup/recvmsg_unix", "cgroup_sock_addr"),
    ("cgroup/getsockname4", "cgroup_sock_addr"),
    ("cgroup/sysctl", "cgroup_sysctl"),
    ("cgroup/getsockopt", "cgroup_sockopt"),
    ("cgroup/dev", "cgroup_device"),
    ("cgroup/foo", None),
    ("cgroup/", None),
    ("cgroup/skb/x", None),
    # not program sections at all
    (".text", None),
    ("license", None),
    ("", None),
]


@pytest.mark.parametrize("section,expected", FROM_LIBBPF_SOURCE)
def test_program_type_follows_libbpf_source(section, expected):
    assert program_type(section) == expected


def test_first_match_wins_not_longest():
    # "sk_reuseport/migrate" precedes "sk_reuseport"; "kprobe+" does not swallow "kprobe.multi".
    assert section_def("sk_reuseport/migrate").sec == "sk_reuseport/migrate"
    assert section_def("kprobe.multi/x").sec == "kprobe.multi+"
    assert section_def("uprobe.s/x").sec == "uprobe.s+"


def test_entry_shape():
    secs = [d.sec for d in SECTION_DEFS]
    assert len(secs) == len(set(secs))
    assert NEWER_THAN_1_1 <= set(secs)
    kprobe = section_def("kprobe")
    assert (kprobe.prefix, kprobe.allows_suffix) == ("kprobe", True)
    tc = section_def("tc")
    assert (tc.prefix, tc.allows_suffix) == ("tc", False)


# ----- the installed libbpf as oracle --------------------------------------------------------


def _libbpf():
    from bpfrewrite.kernel.libbpf import library

    try:
        lib = library()
    except BpfrewriteError as exc:
        unavailable(str(exc))
    fn = lib.libbpf_prog_type_by_name
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    return lib


def _machine_type(name: str) -> str | None:
    from bpfrewrite.kernel.libbpf import prog_type_name

    prog_type, attach_type = ctypes.c_int(), ctypes.c_int()
    if _libbpf().libbpf_prog_type_by_name(name.encode(), ctypes.byref(prog_type), ctypes.byref(attach_type)):
        return None
    return prog_type_name(prog_type.value)


def _probe_names() -> list[str]:
    names = {s for s, _ in FROM_LIBBPF_SOURCE}
    for d in SECTION_DEFS:
        names |= {d.prefix, d.prefix + "/x", d.prefix + "x", d.prefix + ".s", d.prefix + "/"}
    return sorted(names)


def test_machine_libbpf_agrees_except_on_newer_entries():
    newer = []
    for name in _probe_names():
        ours = section_def(name)
        machine = _machine_type(name)
        if ours is not None and ours.sec in NEWER_THAN_1_1:
            newer.append(name)
            assert machine is None, f"{name!r}: libbpf here knows it ({machine}); drop it from NEWER_THAN_1_1"
        else:
            assert machine == program_type(name), name
    assert "netkit/primary" in newer and "kprobe.session" in newer


def test_newer_entries_are_unknown_to_the_machine_and_others_known():
    for d in SECTION_DEFS:
        assert (_machine_type(d.prefix) is None) == (d.sec in NEWER_THAN_1_1), d.sec


def _testdata_objects() -> list[Path]:
    return sorted(p for p in TESTDATA.rglob("*.o") if p.parent.name != "repro")  # repro/: corrupt on purpose


@pytest.mark.parametrize("path", _testdata_objects(), ids=lambda p: str(p.relative_to(TESTDATA)))
def test_testdata_programs_get_the_type_libbpf_gives(path):
    from bpfrewrite.kernel.libbpf import BpfObject, captured_messages, prog_type_name

    _libbpf()
    model = read_object(path)
    for func in model.programs:
        assert func.prog_type == _machine_type(func.section.name), func.name
    try:
        with captured_messages(), BpfObject(path) as obj:
            opened = {p.name: (p.section, prog_type_name(p.prog_type)) for p in obj.programs()}
    except BpfrewriteError:
        return  # libbpf cannot open it for another reason (an unresolved extern): names checked above
    assert opened == {f.name: (f.section.name, f.prog_type) for f in model.programs}
