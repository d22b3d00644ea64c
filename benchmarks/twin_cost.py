"""What twins cost at load: the verifier's work on every testdata program and on its twin.

Patches every testdata object that loads (`*_bad*` excluded) into a temporary directory, loads
each patched object with `verify_object` (every original and twin, never attached) and prints a
markdown table per object: processed instructions, total states and verification time of the
originals and of the twins, and the totals. Instruction and state counts are the same on every
run; verification times vary (single loads take from tens of us to over 10 ms when the machine
is busy), so each program's time is the median of --rounds loads.

    sudo python3 benchmarks/twin_cost.py [--rounds N]

Needs root (it loads BPF programs).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def measure(objects: list[Path], rounds: int) -> list[tuple[str, list]]:
    """(object name, verify results of the patched object, with median verification times) per object."""
    import statistics

    from bpfrewrite.kernel.runner import verify_object
    from bpfrewrite.patching import patch_object

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in objects:
            patched = Path(tmp) / path.name
            patch_object(path, patched)
            runs = [verify_object(patched) for _ in range(rounds)]
            for i, result in enumerate(runs[0]):
                times = [run[i].verification_us for run in runs if run[i].verification_us is not None]
                result.verification_us = round(statistics.median(times)) if times else None
            out.append((path.name, runs[0]))
    return out


def table(measured: list[tuple[str, list]]) -> str:
    """The markdown table: one row per object, then the totals."""
    head = ("| object | programs | insns (originals) | insns (twins) | states (originals) | states (twins) "
            "| verification (originals) | verification (twins) |")
    lines = [head, "|" + "---|" * 8]
    totals = [0] * 6
    for name, results in measured:
        orig = [r for r in results if r.twin_of is None]
        twins = [r for r in results if r.twin_of is not None]
        figures = [sum(r.verified_insns or 0 for r in orig), sum(r.verified_insns or 0 for r in twins),
                   sum(r.total_states or 0 for r in orig), sum(r.total_states or 0 for r in twins),
                   sum(r.verification_us or 0 for r in orig), sum(r.verification_us or 0 for r in twins)]
        totals = [t + f for t, f in zip(totals, figures)]
        lines.append(f"| {name} | {len(orig)} | " + " | ".join(_fmt(i, f) for i, f in enumerate(figures)) + " |")
    lines.append("| **total** | | " + " | ".join(f"**{_fmt(i, f)}**" for i, f in enumerate(totals)) + " |")
    return "\n".join(lines)


def _fmt(index: int, value: int) -> str:
    return f"{value} us" if index >= 4 else str(value)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="loads per object; the median time is kept")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if os.geteuid() != 0:
        print("twin_cost.py: needs root (it loads BPF programs)", file=sys.stderr)
        return 2
    objects = sorted(p for p in (REPO / "testdata").glob("*.bpf.o") if "_bad" not in p.name)
    print(table(measure(objects, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
