"""When guard switches a program to its twin, and when it switches back.

Switch: the mean time per run over one interval (delta run_time_ns / delta run_cnt) is above the
budget for `window` consecutive intervals. Deltas, not the lifetime average the kernel keeps:
after hours of cheap runs the lifetime mean hides a sudden slowdown for about as long again,
while an interval's mean reflects only the runs of that interval. An interval with no runs says
nothing about the time per run: it neither counts towards the window nor breaks it.

Restore: the twin is cheap by construction, so its own time per run cannot tell whether the
original would be within budget again. The rule is time-based with back-off: a program goes back
to its original `restore_after` after the switch; each further switch of the same program
doubles that delay, so a program that keeps going over budget spends ever longer on its twin.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BudgetTrigger:
    """Counts consecutive intervals whose mean time per run is over the budget."""

    budget_ns: int
    window: int = 1
    streak: int = 0

    def observe(self, runs: int, run_time_ns: int) -> bool:
        """Account one interval; True when `window` consecutive intervals were over budget."""
        if runs <= 0:
            return False
        if run_time_ns / runs > self.budget_ns:
            self.streak += 1
        else:
            self.streak = 0
        return self.streak >= self.window

    def reset(self) -> None:
        """Forget the streak (after a switch either way)."""
        self.streak = 0


@dataclass
class RestoreClock:
    """When a switched program goes back to its original: `after_ns` later, doubling per switch."""

    after_ns: int | None
    switches: int = 0
    due_ns: int | None = None

    def switched(self, now_ns: int) -> int | None:
        """Record a switch at `now_ns`; the delay until the restore (None: never restore)."""
        self.switches += 1
        if self.after_ns is None:
            return None
        delay = self.after_ns << (self.switches - 1)
        self.due_ns = now_ns + delay
        return delay

    def due(self, now_ns: int) -> bool:
        """True once the restore time has come."""
        return self.due_ns is not None and now_ns >= self.due_ns

    def restored(self) -> None:
        """Record that the original is back."""
        self.due_ns = None
