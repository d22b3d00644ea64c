"""libbpf's section-name conventions: which program type a SEC("...") gives.

Mirrors `section_defs[]`, `sec_def_matches()` and `find_sec_def()` of libbpf's src/libbpf.c as
of libbpf/libbpf commit 00db402f (the 1.4 line: it has netkit, tcx and the unix-socket cgroup
hooks), plus the session probes added after it: `kprobe.session+` (libbpf 1.5) and
`uprobe.session+`/`uprobe.session.s+` (libbpf 1.6).

libbpf's matching rule, per entry:
* a name ending in "+" (e.g. "kprobe+") matches the name alone or the name followed by "/..."
  ("kprobe", "kprobe/do_sys_open"; not "kprobex" nor "kprobe.multi");
* a name ending in "/" matches anything that starts with it;
* any other name matches only exactly ("tc" but not "tc/foo", "xdp" but not "xdp_foo").
The first matching entry in table order wins (not the longest), and a section no entry matches
has no type: libbpf refuses to open such a program unless the user sets a type.

This machine loads objects with libbpf 1.1.2. Every entry in NEWER_THAN_1_1 is unknown to 1.1
(it yields no type there); for every other entry 1.1 gives the same type as this table, which
tests/test_progtypes.py checks against the installed libbpf.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SectionDef:
    """One libbpf section_defs[] entry: the name as libbpf spells it ("kprobe+") and its type."""

    sec: str
    prog_type: str  # as libbpf_bpf_prog_type_str / `bpftool prog` names it

    @property
    def prefix(self) -> str:
        """The name without libbpf's trailing "+" marker."""
        return self.sec[:-1] if self.sec.endswith("+") else self.sec

    @property
    def allows_suffix(self) -> bool:
        """Whether anything may follow the prefix ("+": only after a "/"; "/": anything)."""
        return self.sec.endswith(("+", "/"))

    def matches(self, section_name: str) -> bool:
        """libbpf's sec_def_matches() for this entry."""
        if self.sec.endswith("/"):
            return section_name.startswith(self.sec)
        if self.sec.endswith("+"):
            prefix = self.sec[:-1]
            if not section_name.startswith(prefix):
                return False
            rest = section_name[len(prefix):]
            return rest == "" or rest.startswith("/")
        return section_name == self.sec


def _defs(*entries: tuple[str, str]) -> tuple[SectionDef, ...]:
    return tuple(SectionDef(sec, ptype) for sec, ptype in entries)


# In libbpf's order: the first match wins.
SECTION_DEFS: tuple[SectionDef, ...] = _defs(
    ("socket", "socket_filter"),
    ("sk_reuseport/migrate", "sk_reuseport"),
    ("sk_reuseport", "sk_reuseport"),
    ("kprobe+", "kprobe"),
    ("uprobe+", "kprobe"),
    ("uprobe.s+", "kprobe"),
    ("kretprobe+", "kprobe"),
    ("uretprobe+", "kprobe"),
    ("uretprobe.s+", "kprobe"),
    ("kprobe.multi+", "kprobe"),
    ("kretprobe.multi+", "kprobe"),
    ("kprobe.session+", "kprobe"),
    ("uprobe.multi+", "kprobe"),
    ("uretprobe.multi+", "kprobe"),
    ("uprobe.session+", "kprobe"),
    ("uprobe.multi.s+", "kprobe"),
    ("uretprobe.multi.s+", "kprobe"),
    ("uprobe.session.s+", "kprobe"),
    ("ksyscall+", "kprobe"),
    ("kretsyscall+", "kprobe"),
    ("usdt+", "kprobe"),
    ("usdt.s+", "kprobe"),
    ("tc/ingress", "sched_cls"),
    ("tc/egress", "sched_cls"),
    ("tcx/ingress", "sched_cls"),
    ("tcx/egress", "sched_cls"),
    ("tc", "sched_cls"),
    ("classifier", "sched_cls"),
    ("action", "sched_act"),
    ("netkit/primary", "sched_cls"),
    ("netkit/peer", "sched_cls"),
    ("tracepoint+", "tracepoint"),
    ("tp+", "tracepoint"),
    ("raw_tracepoint+", "raw_tracepoint"),
    ("raw_tp+", "raw_tracepoint"),
    ("raw_tracepoint.w+", "raw_tracepoint_writable"),
    ("raw_tp.w+", "raw_tracepoint_writable"),
    ("tp_btf+", "tracing"),
    ("fentry+", "tracing"),
    ("fmod_ret+", "tracing"),
    ("fexit+", "tracing"),
    ("fentry.s+", "tracing"),
    ("fmod_ret.s+", "tracing"),
    ("fexit.s+", "tracing"),
    ("freplace+", "ext"),
    ("lsm+", "lsm"),
    ("lsm.s+", "lsm"),
    ("lsm_cgroup+", "lsm"),
    ("iter+", "tracing"),
    ("iter.s+", "tracing"),
    ("syscall", "syscall"),
    ("xdp.frags/devmap", "xdp"),
    ("xdp/devmap", "xdp"),
    ("xdp.frags/cpumap", "xdp"),
    ("xdp/cpumap", "xdp"),
    ("xdp.frags", "xdp"),
    ("xdp", "xdp"),
    ("perf_event", "perf_event"),
    ("lwt_in", "lwt_in"),
    ("lwt_out", "lwt_out"),
    ("lwt_xmit", "lwt_xmit"),
    ("lwt_seg6local", "lwt_seg6local"),
    ("sockops", "sock_ops"),
    ("sk_skb/stream_parser", "sk_skb"),
    ("sk_skb/stream_verdict", "sk_skb"),
    ("sk_skb", "sk_skb"),
    ("sk_msg", "sk_msg"),
    ("lirc_mode2", "lirc_mode2"),
    ("flow_dissector", "flow_dissector"),
    ("cgroup_skb/ingress", "cgroup_skb"),
    ("cgroup_skb/egress", "cgroup_skb"),
    ("cgroup/skb", "cgroup_skb"),
    ("cgroup/sock_create", "cgroup_sock"),
    ("cgroup/sock_release", "cgroup_sock"),
    ("cgroup/sock", "cgroup_sock"),
    ("cgroup/post_bind4", "cgroup_sock"),
    ("cgroup/post_bind6", "cgroup_sock"),
    ("cgroup/bind4", "cgroup_sock_addr"),
    ("cgroup/bind6", "cgroup_sock_addr"),
    ("cgroup/connect4", "cgroup_sock_addr"),
    ("cgroup/connect6", "cgroup_sock_addr"),
    ("cgroup/connect_unix", "cgroup_sock_addr"),
    ("cgroup/sendmsg4", "cgroup_sock_addr"),
    ("cgroup/sendmsg6", "cgroup_sock_addr"),
    ("cgroup/sendmsg_unix", "cgroup_sock_addr"),
    ("cgroup/recvmsg4", "cgroup_sock_addr"),
    ("cgroup/recvmsg6", "cgroup_sock_addr"),
    ("cgroup/recvmsg_unix", "cgroup_sock_addr"),
    ("cgroup/getpeername4", "cgroup_sock_addr"),
    ("cgroup/getpeername6", "cgroup_sock_addr"),
    ("cgroup/getpeername_unix", "cgroup_sock_addr"),
    ("cgroup/getsockname4", "cgroup_sock_addr"),
    ("cgroup/getsockname6", "cgroup_sock_addr"),
    ("cgroup/getsockname_unix", "cgroup_sock_addr"),
    ("cgroup/sysctl", "cgroup_sysctl"),
    ("cgroup/getsockopt", "cgroup_sockopt"),
    ("cgroup/setsockopt", "cgroup_sockopt"),
    ("cgroup/dev", "cgroup_device"),
    ("struct_ops+", "struct_ops"),
    ("struct_ops.s+", "struct_ops"),
    ("sk_lookup", "sk_lookup"),
    ("netfilter", "netfilter"),
)

# Entries libbpf 1.1 (the machine's loader) does not have: it gives their sections no type.
NEWER_THAN_1_1: frozenset[str] = frozenset({
    "kprobe.session+",
    "uprobe.multi+",
    "uretprobe.multi+",
    "uprobe.session+",
    "uprobe.multi.s+",
    "uretprobe.multi.s+",
    "uprobe.session.s+",
    "usdt.s+",
    "tc/ingress",
    "tc/egress",
    "tcx/ingress",
    "tcx/egress",
    "netkit/primary",
    "netkit/peer",
    "cgroup/connect_unix",
    "cgroup/sendmsg_unix",
    "cgroup/recvmsg_unix",
    "cgroup/getpeername_unix",
    "cgroup/getsockname_unix",
    "struct_ops.s+",
    "netfilter",
})


def section_def(section_name: str) -> SectionDef | None:
    """The section_defs[] entry libbpf picks for section_name (first match), or None."""
    # SEC("?...") is SEC("...") with autoload off: libbpf drops the "?" before matching.
    section_name = section_name.removeprefix("?")
    return next((d for d in SECTION_DEFS if d.matches(section_name)), None)


def program_type(section_name: str) -> str | None:
    """The program type libbpf gives a program in section_name, or None when libbpf knows none."""
    found = section_def(section_name)
    return found.prog_type if found else None
