"""Lint throughput (instructions per second) on a ~100,000-instruction object, beside llvm-objdump-19.

    python3 benchmarks/lint_throughput.py [OBJECT.o] [--repeat N] [--profile]

Without an object it takes the ~100,000-instruction object from `benchmarks/large_object.py`
(generated, compiled with clang-19, cached): programs in four sections with map lookups, atomics,
subprograms with loops and bpf_loop callbacks, so every rule has work to do. The lint time covers
reading the object (`read_object`) and running every rule (`lint_object`), in process; the
yardstick is `llvm-objdump-19 -d` on the same object, a whole process (it only decodes and
prints). Each is the best of N, run in turn each round so load on the machine hits both; each lint
starts from a collected heap (`gc.collect()`, untimed).
`--profile` adds a cProfile of one lint (top functions by own time).
"""
from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OBJDUMP = "llvm-objdump-19"


def lint_once(path: Path) -> tuple[float, float, int, int, int]:
    """(read seconds, rules seconds, instructions, functions, diagnostics) of one in-process lint."""
    from bpfrewrite.elf.reader import read_object
    from bpfrewrite.lint.runner import lint_object

    t0 = time.perf_counter()
    model = read_object(path)
    t1 = time.perf_counter()
    diags = lint_object(model)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, sum(f.count for f in model.functions), len(model.functions), len(diags)


def objdump_once(path: Path) -> float:
    """Wall seconds of `llvm-objdump-19 -d path` with its output discarded."""
    t0 = time.perf_counter()
    try:
        subprocess.run([OBJDUMP, "-d", str(path)], check=True, stdout=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"lint_throughput: {OBJDUMP} failed: {exc}")
    return time.perf_counter() - t0


def profile(path: Path, top: int = 25) -> str:
    """cProfile of one lint of path (read and rules), top functions by own time."""
    from benchmarks.measure import profile_call

    return profile_call(lambda: lint_once(path), top)


def main(argv: list[str] | None = None) -> int:
    """Time lint and llvm-objdump-19 on one object and print both throughputs."""
    parser = argparse.ArgumentParser(description="Lint throughput beside llvm-objdump-19 -d.")
    parser.add_argument("object", nargs="?", type=Path, help="object to lint (default: generated ~100k insns)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best counts (default 3)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one lint")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    sys.path.insert(0, str(ROOT))
    if args.object is not None:
        obj = args.object
        if not obj.is_file():
            parser.error(f"{obj}: no such file")
    else:
        from benchmarks.large_object import make_large_object

        obj = make_large_object()

    best = None
    best_dump = float("inf")
    for _ in range(args.repeat):
        gc.collect()  # the previous round's model and analyses are cyclic garbage: free them untimed
        run = lint_once(obj)
        if best is None or run[0] + run[1] < best[0] + best[1]:
            best = run
        best_dump = min(best_dump, objdump_once(obj))
    read, rules, insns, funcs, ndiags = best
    total = read + rules
    print(f"object: {obj}, {insns} instructions, {funcs} functions, {ndiags} diagnostics")
    print(f"bpfrewrite lint: {total:.2f} s ({insns / total:,.0f} insns/s; read {read:.2f} s, rules {rules:.2f} s)")
    print(f"{OBJDUMP} -d: {best_dump:.2f} s ({insns / best_dump:,.0f} insns/s); lint/objdump {total / best_dump:.2f}x")
    if args.profile:
        print(profile(obj))
    return 0


if __name__ == "__main__":
    sys.exit(main())
