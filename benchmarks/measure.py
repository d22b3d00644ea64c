"""Time and peak memory of one command, measured in a fresh process so each figure is its own.

`measure(cmd)` runs `python3 benchmarks/measure.py --child CMD...`: that child runs CMD as its
only child and reports resource.getrusage(RUSAGE_CHILDREN) (CPU seconds, peak RSS) and wall time.
A process's children figure is the maximum over every child it waited for, hence one wrapper per
command. CPU time (user + sys) is the figure to compare: the machine may be shared, and waiting
for a core shows in wall time only.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Measured:
    """What one run of a command cost."""

    cpu: float  # user + system seconds
    wall: float
    rss_mb: float  # peak resident set size, MiB
    returncode: int


def profile_call(fn, top: int = 25, strip_dirs: bool = False) -> str:
    """cProfile of one call of fn(): the top functions by own time, as pstats prints them."""
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    if strip_dirs:
        stats.strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def measure(cmd: list[str], env: dict | None = None) -> Measured:
    """Run cmd once (stdout and stderr discarded) and measure it."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", *cmd],
                         capture_output=True, text=True, env=env, check=True)
    return Measured(**json.loads(out.stdout.strip().splitlines()[-1]))


def bpfrewrite(*args: str) -> list[str]:
    """The command that runs this checkout's bpfrewrite (not an installed one)."""
    return [sys.executable, "-m", "bpfrewrite", *args]


def _child(cmd: list[str]) -> None:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"cpu": ru.ru_utime + ru.ru_stime, "wall": wall, "rss_mb": ru.ru_maxrss / 1024,
                      "returncode": proc.returncode}))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
    else:
        sys.exit("usage: measure.py --child CMD... (used by the benchmarks)")
