"""libbpf's section-name conventions: which program type a SEC("...") gives.

Source: libbpf.c `section_defs[]` (libbpf 1.x). Longest matching prefix wins; a prefix ending
in "/" or "+" in libbpf accepts "name" alone or "name/...". Kept as data so the table is easy to
check against libbpf and extend.
"""
from __future__ import annotations

# (section prefix, program type as `bpftool prog` names it)
SECTION_PREFIXES: tuple[tuple[str, str], ...] = (
    ("socket", "socket_filter"),
    ("sk_reuseport/migrate", "sk_reuseport"),
    ("sk_reuseport", "sk_reuseport"),
    ("kprobe", "kprobe"),
    ("uprobe", "kprobe"),
    ("uprobe.s", "kprobe"),
    ("kretprobe", "kprobe"),
    ("uretprobe", "kprobe"),
    ("uretprobe.s", "kprobe"),
    ("kprobe.multi", "kprobe"),
    ("kretprobe.multi", "kprobe"),
    ("uprobe.multi", "kprobe"),
    ("uretprobe.multi", "kprobe"),
    ("ksyscall", "kprobe"),
    ("kretsyscall", "kprobe"),
    ("usdt", "kprobe"),
    ("tc", "sched_cls"),
    ("tcx/ingress", "sched_cls"),
    ("tcx/egress", "sched_cls"),
    ("classifier", "sched_cls"),
    ("action", "sched_act"),
    ("tracepoint", "tracepoint"),
    ("tp", "tracepoint"),
    ("raw_tracepoint", "raw_tracepoint"),
    ("raw_tp", "raw_tracepoint"),
    ("raw_tracepoint.w", "raw_tracepoint_writable"),
    ("raw_tp.w", "raw_tracepoint_writable"),
    ("tp_btf", "tracing"),
    ("fentry", "tracing"),
    ("fmod_ret", "tracing"),
    ("fexit", "tracing"),
    ("fentry.s", "tracing"),
    ("fmod_ret.s", "tracing"),
    ("fexit.s", "tracing"),
    ("freplace", "ext"),
    ("lsm", "lsm"),
    ("lsm.s", "lsm"),
    ("lsm_cgroup", "lsm"),
    ("iter", "tracing"),
    ("iter.s", "tracing"),
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
    ("cgroup/sock", "cgroup_sock"),
    ("cgroup/post_bind4", "cgroup_sock"),
    ("cgroup/post_bind6", "cgroup_sock"),
    ("cgroup/dev", "cgroup_device"),
    ("cgroup/sysctl", "cgroup_sysctl"),
    ("cgroup/getsockopt", "cgroup_sockopt"),
    ("cgroup/setsockopt", "cgroup_sockopt"),
    ("cgroup/", "cgroup_sock_addr"),
    ("struct_ops", "struct_ops"),
    ("struct_ops.s", "struct_ops"),
    ("sk_lookup", "sk_lookup"),
    ("netfilter", "netfilter"),
)


def program_type(section_name: str) -> str | None:
    """The program type libbpf gives a program in section_name, or None when libbpf knows none."""
    best: tuple[int, str] | None = None
    for prefix, ptype in SECTION_PREFIXES:
        matches = prefix.endswith("/") and section_name.startswith(prefix)
        matches = matches or section_name == prefix or section_name.startswith(prefix + "/")
        if matches and (best is None or len(prefix) > best[0]):
            best = (len(prefix), ptype)
    return best[1] if best else None
