"""lint, patch and disasm on the largest programs, beside clang-19's compile and llvm-objdump-19, in one run.

    make bench-large            # builds what it needs, then runs this with --write docs/benchmarks.md
    python3 benchmarks/large_programs.py [--write FILE] [--only NAME,...]

Objects (sources under build/, see the Makefile):
- pyperf180, pyperf600: kernel selftests from Debian's linux-source-6.12 (`make pyperf`), one huge
  function each, compiled here as the Makefile does;
- huge: 8 generated programs of ~54k instructions (430k in all; `make huge`), tracee-sized;
- gen1000: 1,000 generated global programs of ~112 instructions (112k in all).

Each command runs in a fresh process (benchmarks/measure.py): CPU seconds (user + sys, the figure
the goals use: the machine may be shared) and peak RSS. clang-19 compiles the object's own source
with its own flags, into a temp dir. The patched pyperf objects are loaded by the kernel
(`bpfrewrite verify`, needs root). Goals: lint and patch <= 10% of clang's CPU time, disasm <= 3x
`llvm-objdump-19 -d -l`.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
BEGIN = "<!-- large-programs:begin (written by benchmarks/large_programs.py; edits here are replaced) -->"
END = "<!-- large-programs:end -->"


@dataclass(frozen=True)
class Target:
    """One benchmarked object: where its source is and how clang-19 builds it."""

    name: str
    source: Path
    flags: list[str]
    verify: bool  # load the patched object in the kernel


def _make_var(name: str) -> list[str]:
    out = subprocess.run(["make", "-s", "--no-print-directory", "-f", "Makefile", "-f", "-", "print"],
                         input=f"print:\n\t@echo $({name})\n", capture_output=True, text=True, cwd=ROOT, check=True)
    return shlex.split(out.stdout.strip())


def targets() -> list[Target]:
    """Every benchmarked object (sources must exist: `make pyperf huge`)."""
    from benchmarks.single_function import CFLAGS, make_single_function

    pyperf = _make_var("PYPERF_CFLAGS")
    pyperf = [f if not f.startswith("-Ibuild/") else "-I" + str(ROOT / f[2:]) for f in pyperf]
    gen, _ = make_single_function(112_000, "straight", programs=1000)
    return [
        Target("pyperf180", BUILD / "selftests" / "pyperf180.c", pyperf, True),
        Target("pyperf600", BUILD / "selftests" / "pyperf600.c", pyperf, True),
        Target("huge (8 programs)", BUILD / "huge.bpf.c", CFLAGS, False),
        Target("gen1000 (1,000 programs)", gen.with_suffix(".c"), CFLAGS, False),
    ]


def run(selected: list[Target], out=sys.stdout) -> list[str]:
    """Measure every tool on every target; print and return the markdown table lines."""
    from benchmarks.measure import bpfrewrite, measure
    from benchmarks.single_function import CLANG, count_instructions

    lines = [
        "| object | insns | largest function | clang-19 -c | llvm-objdump-19 -d | -d -l | disasm | lint | patch "
        "| lint / clang | patch / clang | disasm / objdump -d -l | patched loads |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for line in lines:
        print(line, file=out)
    with tempfile.TemporaryDirectory() as work:
        for t in selected:
            obj = Path(work) / "obj.o"
            clang = measure([CLANG, *t.flags, f"-fdebug-prefix-map={t.source.parent}=.", "-c", str(t.source),
                             "-o", str(obj)])
            if clang.returncode != 0:
                sys.exit(f"large_programs: {CLANG} failed on {t.source}")
            from bpfrewrite.elf.reader import read_object

            model = read_object(obj)
            count = count_instructions(obj)
            largest = max(f.count for f in model.functions)
            dump = measure(["llvm-objdump-19", "-d", str(obj)])
            dump_l = measure(["llvm-objdump-19", "-d", "-l", str(obj)])
            disasm = measure(bpfrewrite("disasm", str(obj)))
            lint = measure(bpfrewrite("lint", "--fail-on", "never", str(obj)))
            patched = Path(work) / "patched.o"
            patch = measure(bpfrewrite("patch", str(obj), str(patched)))
            loads = "not tried"
            if t.verify:
                proc = subprocess.run([sys.executable, "-m", "bpfrewrite", "verify", str(patched)],
                                      capture_output=True, text=True, cwd=ROOT,
                                      env={**os.environ, "PYTHONPATH": str(ROOT)})
                loads = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr.strip()
            row = (f"| {t.name} | {count:,} | {largest:,} | {_fig(clang)} | {_fig(dump)} | {_fig(dump_l)} "
                   f"| {_fig(disasm)} | {_fig(lint)} | {_fig(patch)} | {100 * lint.cpu / clang.cpu:.0f}% "
                   f"| {100 * patch.cpu / clang.cpu:.0f}% | {disasm.cpu / dump_l.cpu:.1f}x | {loads} |")
            for m, what in ((disasm, "disasm"), (lint, "lint"), (patch, "patch")):
                if m.returncode != 0:
                    row += f" ({what} exit {m.returncode})"
            lines.append(row)
            print(row, file=out, flush=True)
    return lines


def _fig(m) -> str:
    return f"{m.cpu:.2f} s / {m.rss_mb:.0f} MiB"


def write_docs(table: list[str], path: Path) -> None:
    """Replace the block between the markers in path (appended when missing)."""
    text = "\n".join([BEGIN, "", *table, "", END])
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + text + rest.split(END, 1)[1]
    else:
        new = old + ("\n" if old and not old.endswith("\n") else "") + "\n" + text + "\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(new)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """Parse options, run, write the table into --write's file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="markdown file to put the table in (between markers)")
    parser.add_argument("--only", help="names to run (comma-separated prefixes)")
    args = parser.parse_args(argv)
    chosen = targets()
    if args.only:
        wanted = args.only.split(",")
        chosen = [t for t in chosen if any(t.name.startswith(w) for w in wanted)]
    missing = [str(t.source) for t in chosen if not t.source.exists()]
    if missing:
        sys.exit(f"large_programs: missing {', '.join(missing)}: run `make pyperf huge` first")
    table = run(chosen)
    if args.write:
        write_docs(table, args.write)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
