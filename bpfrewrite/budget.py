"""The memory budget: analyses stop with one clear line when the process outgrows it.

The budget is the peak resident set size of the process (VmHWM of /proc/self/status), in MiB,
from the environment variable BPFREWRITE_MEMORY_BUDGET (default DEFAULT_MIB; 0 turns the check
off). The analysis manager checks it before and after every analysis and transform, and the
analyses that grow with paths or queries (dataflow's per-location solving, the value walks) check
it every few thousand steps, so an analysis that would take the machine down names itself and
the budget instead (BpfrewriteError: one line on stderr, exit 2).
"""
from __future__ import annotations

import os
import resource

from bpfrewrite.errors import BpfrewriteError

ENV = "BPFREWRITE_MEMORY_BUDGET"
DEFAULT_MIB = 4096  # pyperf180 (one 77k-instruction function) peaks near 300 MiB in patch
EVERY = 4096  # steps between checks inside an analysis (one read of /proc/self/status, ~30 us, each)


class MemoryBudgetExceeded(BpfrewriteError):
    """The process grew past the memory budget while an analysis ran."""


def budget_mib() -> int:
    """The budget in MiB (0: no budget), from BPFREWRITE_MEMORY_BUDGET or the default."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_MIB
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise BpfrewriteError(f"{ENV}={raw!r}: give the memory budget in MiB as a whole number (0: no limit)")
    return value


def peak_mib() -> float:
    """The process's peak resident set size so far, in MiB (Linux reports KiB)."""
    # Not getrusage's ru_maxrss: Linux carries the forking parent's peak into the child through
    # exec (fs/exec.c exec_mmap: setmax_mm_hiwater_rss of the pre-exec mm), so bpfrewrite started by a
    # 1 GiB process (a test runner, a build tool) would read 1 GiB before doing anything.
    # VmHWM is the peak of this program's own address space.
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check(what: str) -> None:
    """Raise MemoryBudgetExceeded naming what (e.g. "the dataflow analysis of function 'f'") when over budget."""
    limit = budget_mib()
    if limit and peak_mib() > limit:
        raise MemoryBudgetExceeded(
            f"{what} needs more than the memory budget of {limit} MiB (peak {peak_mib():.0f} MiB); "
            f"set {ENV} to a larger number of MiB, or 0 for no limit"
        )
