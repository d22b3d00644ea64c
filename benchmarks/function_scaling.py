"""How lint and patch grow with the size of ONE function: 10k, 20k, 40k and 80k instructions.

    python3 benchmarks/function_scaling.py [--sizes 10000,20000,40000,80000] [--shape straight,loops]

Each object is one generated program (benchmarks/single_function.py: straight-line code, or
unrolled loops with many branches and stack slots, as pyperf has). `bpfrewrite lint` and
`bpfrewrite patch` run on each in a fresh process (benchmarks/measure.py) and the table gives CPU
seconds, wall seconds and peak RSS, with the ratio to the next smaller size. Goal: every ratio
<= 2.2 for a doubling, in CPU time and in memory, and under 1 GiB at 80k; exit status 1 otherwise.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_RATIO = 2.2
GOAL_RSS_MB = 1024
SIZES = (10_000, 20_000, 40_000, 80_000)


def run(sizes: tuple[int, ...], shapes: tuple[str, ...], out=sys.stdout) -> bool:
    """Print the table; return True when every goal is met."""
    from benchmarks.measure import bpfrewrite, measure
    from benchmarks.single_function import make_single_function

    ok = True
    print("| shape | insns | lint CPU s | lint wall s | lint RSS MiB | patch CPU s | patch wall s "
          "| patch RSS MiB | ratio lint CPU/RSS | ratio patch CPU/RSS |", file=out)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", file=out)
    with tempfile.TemporaryDirectory() as work:
        for shape in shapes:
            prev = None
            for size in sizes:
                obj, count = make_single_function(size, shape)
                lint = measure(bpfrewrite("lint", "--fail-on", "never", str(obj)))
                patch = measure(bpfrewrite("patch", str(obj), str(Path(work) / "out.o")))
                for name, m in (("lint", lint), ("patch", patch)):
                    if m.returncode != 0:
                        print(f"{name} failed on {obj} (exit {m.returncode})", file=sys.stderr)
                        ok = False
                ratios = ["", ""]
                if prev is not None:
                    for k, (m, p) in enumerate(((lint, prev[0]), (patch, prev[1]))):
                        rc, rm = m.cpu / p.cpu, m.rss_mb / p.rss_mb
                        ratios[k] = f"{rc:.2f} / {rm:.2f}"
                        ok = ok and rc <= GOAL_RATIO and rm <= GOAL_RATIO
                if size == max(sizes):
                    ok = ok and lint.rss_mb < GOAL_RSS_MB and patch.rss_mb < GOAL_RSS_MB
                print(f"| {shape} | {count:,} | {lint.cpu:.2f} | {lint.wall:.2f} | {lint.rss_mb:.0f} "
                      f"| {patch.cpu:.2f} | {patch.wall:.2f} | {patch.rss_mb:.0f} | {ratios[0]} | {ratios[1]} |",
                      file=out, flush=True)
                prev = (lint, patch)
    return ok


def main(argv: list[str] | None = None) -> int:
    """Parse options, print the table, exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="instruction counts, comma-separated")
    parser.add_argument("--shape", default="straight,loops", help="shapes, comma-separated (straight, loops)")
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    ok = run(sizes, tuple(args.shape.split(",")))
    print(f"goal (ratio <= {GOAL_RATIO} per doubling, < {GOAL_RSS_MB} MiB at {max(sizes):,}): "
          f"{'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
