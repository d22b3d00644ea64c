"""How guard attaches each program type, and whether the link lets it swap in the twin atomically.

XDP and tcx links support BPF_LINK_UPDATE (as do cgroup, netns and struct_ops links, which guard
does not create): the twin replaces the original between two invocations, none lost or run twice.
Tracing links (raw_tp, tracepoint, kprobe, fentry, lsm) do not (the kernel's link ops for them
have no update_prog), so guard attaches the twin and then detaches the original: for that moment
both run on the same event.
"""
from __future__ import annotations

from dataclasses import dataclass

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.kernel import libbpf

LINK_UPDATE = "link-update"
ATTACH_THEN_DETACH = "attach-then-detach"

# libbpf auto-attaches these from the section name alone (bpf_program__attach).
_AUTO_TYPES = frozenset(
    {
        libbpf.PROG_TYPE_KPROBE,
        libbpf.PROG_TYPE_TRACEPOINT,
        libbpf.PROG_TYPE_RAW_TRACEPOINT,
        libbpf.PROG_TYPE_TRACING,
        libbpf.PROG_TYPE_LSM,
    }
)
# Sections libbpf 1.1 maps to BPF_PROG_TYPE_SCHED_CLS without a direction.
_TC_SECTIONS = frozenset({"tc", "classifier"})


@dataclass(frozen=True)
class AttachPlan:
    """Where and how one program is attached."""

    kind: str  # "xdp", "tcx-ingress" or "auto"
    target: str  # what it is attached to, for messages
    method: str  # how a switch is made: LINK_UPDATE or ATTACH_THEN_DETACH
    ifindex: int = 0

    def attach(self, program: libbpf.Program) -> libbpf.Link:
        """Attach `program` here."""
        if self.kind == "xdp":
            return libbpf.attach_xdp(program, self.ifindex)
        if self.kind == "tcx-ingress":
            return libbpf.attach_tcx_ingress(program, self.ifindex)
        return libbpf.attach(program)


def plan_attach(
    name: str, prog_type: int, section: str, iface: str | None, ifindex: int | None
) -> AttachPlan:
    """The plan for program `name`, or a BpfrewriteError saying why guard cannot attach it."""
    type_name = libbpf.prog_type_name(prog_type)
    if prog_type == libbpf.PROG_TYPE_XDP or (
        prog_type == libbpf.PROG_TYPE_SCHED_CLS and section in _TC_SECTIONS
    ):
        if iface is None or ifindex is None:
            raise BpfrewriteError(f"{name}: {type_name} programs attach to an interface: give --iface")
        if prog_type == libbpf.PROG_TYPE_XDP:
            return AttachPlan("xdp", f"XDP on {iface}", LINK_UPDATE, ifindex)
        return AttachPlan("tcx-ingress", f"tcx ingress on {iface}", LINK_UPDATE, ifindex)
    if prog_type in _AUTO_TYPES:
        return AttachPlan("auto", section, ATTACH_THEN_DETACH)
    raise BpfrewriteError(
        f"{name}: guard cannot attach {type_name} programs (SEC(\"{section}\")): "
        "it attaches xdp, tc (tcx ingress), kprobe, tracepoint, raw_tp, fentry/fexit and lsm programs"
    )
