"""What guard saw: its events (attach, verdict, hold, sample, switch, restore) and the segments of its summary.

The guard loop (bpfrewrite.guard.runtime) makes these; guard's renderers (bpfrewrite.render.guard) read them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attached:
    """An original was attached; its twin is loaded and waits."""

    program: str
    twin: str
    prog_type: str
    target: str
    method: str
    prog_id: int
    twin_id: int
    kind: str = "attach"


@dataclass(frozen=True)
class VerdictNote:
    """What an original and its twin can return (static), said before attaching."""

    program: str
    twin: str
    original: str
    twin_verdict: str
    twin_can_drop: bool
    held: bool  # --fail-open-only and the twin can drop: watched, never switched
    kind: str = "verdict"


@dataclass(frozen=True)
class Held:
    """A program went over budget but stays on its original (--fail-open-only)."""

    time_s: float
    interval: int
    program: str
    twin: str
    ns_per_run: float | None
    budget_ns: int
    intervals_over: int
    reason: str
    kind: str = "hold"


@dataclass(frozen=True)
class Sample:
    """One program's runs during one interval (emitted only when samples are asked for)."""

    time_s: float
    interval: int
    program: str
    running: str
    runs: int
    run_time_ns: int
    kind: str = "sample"

    @property
    def ns_per_run(self) -> float | None:
        """Mean time per run in the interval, None without runs."""
        return self.run_time_ns / self.runs if self.runs else None


@dataclass(frozen=True)
class Switched:
    """A program was switched to its twin (or back: kind "restore")."""

    time_s: float
    interval: int
    program: str
    from_prog: str
    to_prog: str
    ns_per_run: float | None
    budget_ns: int
    intervals_over: int
    method: str
    latency_ns: int
    interval_end_ns: int  # CLOCK_MONOTONIC (bpf_ktime_get_ns's clock) of the stats read
    restore_in_s: float | None = None
    kind: str = "switch"


@dataclass
class Segment:
    """A stretch of time during which one program (original or twin) ran at one attach point."""

    program: str
    running: str
    start_s: float
    end_s: float | None = None
    runs: int = 0
    run_time_ns: int = 0
    _base: tuple[int, int] = (0, 0)


Event = VerdictNote | Attached | Sample | Switched | Held
