"""How fast is `bpfrewrite disasm` next to `llvm-objdump-19 -d -l` on a 100,000-instruction object?

Wall clock of the whole process (interpreter start, imports, reading, listing, writing to
/dev/null), best of N, the two tools run in turn each round so drift on a busy machine hits
both. Also the in-process throughput (instructions per second) of decoding the object
(`read_object`) and of producing the text listing (`text_listing`), best of N each.

    python3 benchmarks/disasm_throughput.py [--repeat N] [--object X.o] [--profile]

The goal is bpfrewrite within 3x of llvm-objdump-19's wall time; `--check` exits 1 when it
is not met. `--profile` adds a cProfile of one in-process disasm run (top functions by own time).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OBJDUMP = "llvm-objdump-19"
GOAL_RATIO = 3.0


def best_wall(cmds: dict[str, list[str]], repeat: int) -> dict[str, float]:
    """Best wall time in seconds of each command (stdout to /dev/null), interleaved over rounds."""
    best = {name: float("inf") for name in cmds}
    for _ in range(repeat):
        for name, cmd in cmds.items():
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            elapsed = time.perf_counter() - start
            if proc.returncode != 0:
                err = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
                sys.exit(f"disasm_throughput: {' '.join(cmd)} failed: {err[0]}")
            best[name] = min(best[name], elapsed)
    return best


def best_call(fn, repeat: int) -> tuple[float, object]:
    """Best time in seconds of fn() over repeat calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def in_process(obj: Path, repeat: int) -> dict[str, float]:
    """Best seconds to decode the object, and to list it as text and as JSON records."""
    from bpfrewrite.render.listing import json_listing, text_listing
    from bpfrewrite.elf.reader import read_object

    decode, model = best_call(lambda: read_object(obj), repeat)
    text, _ = best_call(lambda: sum(1 for _ in text_listing(model)), repeat)
    records, _ = best_call(lambda: json_listing(model), repeat)
    return {"decode": decode, "text": text, "json": records, "model": model}


def profile(obj: Path, top: int) -> str:
    """cProfile of one in-process `disasm` (read and text listing), top functions by own time."""
    from benchmarks.measure import profile_call
    from bpfrewrite.render.listing import text_listing
    from bpfrewrite.elf.reader import read_object

    def run() -> None:
        for _ in text_listing(read_object(obj)):
            pass

    return profile_call(run, top, strip_dirs=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; return the exit code."""
    parser = argparse.ArgumentParser(
        description="Time bpfrewrite disasm against llvm-objdump-19 -d -l on a large object."
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per command; the best counts")
    parser.add_argument("--object", type=Path, help="object to list (default: the generated one)")
    parser.add_argument("--insns", type=int, default=100_000, help="size of the generated object")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of disasm")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if slower than {GOAL_RATIO}x")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if shutil.which(OBJDUMP) is None:
        sys.exit(f"disasm_throughput: {OBJDUMP} not found; install llvm-19")

    if args.object is not None:
        obj = args.object.resolve()
    else:
        from benchmarks.large_object import make_large_object

        obj = make_large_object(n_insns=args.insns)
    py = sys.executable
    cmds = {
        "bpfrewrite disasm": [py, "-m", "bpfrewrite", "disasm", str(obj)],
        "bpfrewrite disasm --format json": [py, "-m", "bpfrewrite", "disasm", "--format", "json", str(obj)],
        f"{OBJDUMP} -d -l": [OBJDUMP, "-d", "-l", str(obj)],
        "python3 -m bpfrewrite --help (start-up)": [py, "-m", "bpfrewrite", "--help"],
    }
    wall = best_wall(cmds, args.repeat)
    inner = in_process(obj, args.repeat)
    n = sum(len(sec.insns) for sec in inner["model"].exec_sections())

    print(f"object: {obj.name}, {n} instructions, {obj.stat().st_size} bytes; best of {args.repeat}")
    print()
    print(f"{'whole process, wall clock':<42} {'seconds':>8} {'insns/s':>11} {'vs objdump':>10}")
    base = wall[f"{OBJDUMP} -d -l"]
    for name, secs in wall.items():
        rate = "" if "start-up" in name else f"{n / secs:,.0f}"
        print(f"{name:<42} {secs:8.3f} {rate:>11} {secs / base:9.2f}x")
    print()
    print(f"{'in process (bpfrewrite)':<42} {'seconds':>8} {'insns/s':>11}")
    rows = [
        ("decode: read_object", inner["decode"]),
        ("text: text_listing", inner["text"]),
        ("json: json_listing", inner["json"]),
        ("decode + text", inner["decode"] + inner["text"]),
    ]
    for name, secs in rows:
        print(f"{name:<42} {secs:8.3f} {n / secs:11,.0f}")
    print()
    ratio = wall["bpfrewrite disasm"] / base
    verdict = "met" if ratio <= GOAL_RATIO else "NOT met"
    print(f"bpfrewrite disasm / {OBJDUMP} -d -l = {ratio:.2f}x (goal <= {GOAL_RATIO:.0f}x: {verdict})")
    if args.profile:
        print()
        print(profile(obj, 25))
    return 1 if args.check and ratio > GOAL_RATIO else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
