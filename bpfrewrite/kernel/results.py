"""What loading each program produced (its verdict, the verifier's figures, its test run), and what twins cost.

The runner (bpfrewrite.kernel.runner) makes these; verify's renderers read them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ProgResult:
    """The verifier's verdict on one program, and its test run if one was asked for."""

    name: str
    section: str
    accepted: bool
    verified_insns: int | None = None
    message: str | None = None
    file: str | None = None  # source file (base name) of the line the verifier stopped at
    line: int | None = None  # its line number
    log_tail: str | None = None
    retval: int | None = None
    duration_ns: int | None = None
    twin_of: str | None = None
    # The verifier's statistics (its log at BPF_LOG_STATS, what veristat reports): states it
    # stored, the most it held at once, the most per instruction, and its own timing.
    total_states: int | None = None
    peak_states: int | None = None
    max_states_per_insn: int | None = None
    verification_us: int | None = None
    prog_type: str | None = None  # libbpf's name of the type the program loaded as ("xdp")

    @property
    def retval_name(self) -> str | None:
        """The name of the return value for the program type ("XDP_PASS"), if it has one."""
        from bpfrewrite.kernel.return_codes import name

        return None if self.retval is None else name(self.prog_type, self.retval)

    @property
    def where(self) -> str | None:
        """`file.c:LINE` of the rejection, when the log names one."""
        return f"{self.file}:{self.line}" if self.file is not None and self.line is not None else None


@dataclass
class TwinCost:
    """What the accepted twins add to loading, next to what their originals cost."""

    twins: int
    insns: int
    original_insns: int
    states: int
    original_states: int
    verification_us: int
    original_verification_us: int


def twin_cost(results: list[ProgResult]) -> TwinCost | None:
    """Sums over the pairs where the original and its twin were both accepted; None without such pairs."""
    by_name = {r.name: r for r in results}
    pairs = [(by_name[r.twin_of], r) for r in results if r.twin_of in by_name and r.accepted
             and by_name[r.twin_of].accepted]
    if not pairs:
        return None

    def total(side: int, key: str) -> int:
        return sum(getattr(pair[side], key) or 0 for pair in pairs)

    return TwinCost(len(pairs), total(1, "verified_insns"), total(0, "verified_insns"), total(1, "total_states"),
                    total(0, "total_states"), total(1, "verification_us"), total(0, "verification_us"))
