"""lint, patch and disasm on the largest programs, beside clang-19's compile and llvm-objdump-19, in one run.

    make bench-large            # builds pyperf's sources, then runs this with --write docs/benchmarks.md
    python3 benchmarks/large_programs.py [--write FILE] [--only NAME,...]

Objects (sources under build/, see the Makefile):
- pyperf180, pyperf600: kernel selftests from Debian's linux-source-6.12 (`make pyperf`), one huge
  function each, compiled here as the Makefile does;
- huge: 8 generated programs of ~54k instructions (430k in all), tracee-sized;
- gen1000: 1,000 generated global programs of ~100 instructions (100k in all);
the generated sources (benchmarks/single_function.py) are written to build/ when missing.

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


# Generated sources: (file under build/, shape, units, programs). Units per instruction count as
# measured with clang-19 (a loops unit ~126 instructions; a straight one ~40, plus ~70 per program).
GENERATED = {
    "huge.bpf.c": ("loops", 3413, 8),  # ~430k instructions, 8 programs of ~54k (tetragon-sized)
    "gen1000.bpf.c": ("straight", 1000, 1000),  # ~100k instructions in 1,000 global programs
}


def generated_source(name: str) -> Path:
    """build/<name>, written from benchmarks/single_function.py's generator when missing."""
    from benchmarks.single_function import generate_source

    path = BUILD / name
    if not path.exists():
        shape, units, programs = GENERATED[name]
        BUILD.mkdir(exist_ok=True)
        path.write_text(generate_source(units, shape, programs))
    return path


def targets() -> list[Target]:
    """Every benchmarked object (pyperf sources must exist: `make pyperf`)."""
    from benchmarks.single_function import CFLAGS

    pyperf = _make_var("PYPERF_CFLAGS")
    pyperf = [f if not f.startswith("-Ibuild/") else "-I" + str(ROOT / f[2:]) for f in pyperf]
    return [
        Target("pyperf180", BUILD / "selftests" / "pyperf180.c", pyperf, True),
        Target("pyperf600", BUILD / "selftests" / "pyperf600.c", pyperf, True),
        Target("huge (8 programs)", generated_source("huge.bpf.c"), CFLAGS, False),
        Target("gen1000 (1,000 programs)", generated_source("gen1000.bpf.c"), CFLAGS, False),
    ]


def run(selected: list[Target], out=sys.stdout) -> list[str]:
    """Measure every tool on every target; print and return the markdown table lines."""
    from benchmarks.measure import bpfrewrite, measure
    from benchmarks.compiled import CLANG, count_instructions

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
                loads = _loads(patched)
            row = (f"| {t.name} | {count:,} | {largest:,} | {_fig(clang)} | {_fig(dump)} | {_fig(dump_l)} "
                   f"| {_fig(disasm)} | {_fig(lint)} | {_fig(patch)} | {100 * lint.cpu / clang.cpu:.0f}% "
                   f"| {100 * patch.cpu / clang.cpu:.0f}% | {disasm.cpu / dump_l.cpu:.1f}x | {loads} |")
            for m, what in ((disasm, "disasm"), (lint, "lint"), (patch, "patch")):
                if m.returncode != 0:
                    row += f" ({what} exit {m.returncode})"
            lines.append(row)
            print(row, file=out, flush=True)
    return lines


def _loads(patched: Path) -> str:
    """What the kernel says of the patched object's originals and twins (`bpfrewrite verify`)."""
    import json

    proc = subprocess.run([sys.executable, "-m", "bpfrewrite", "verify", "--format", "json", str(patched)],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        programs = json.loads(proc.stdout)["programs"]
    except (ValueError, KeyError):
        return f"verify failed: {proc.stderr.strip()[:80]}"
    parts = []
    for p in programs:
        role = "twin" if p.get("twin_of") else "original"
        parts.append(f"{role} {'accepted' if p['accepted'] else 'rejected'}")
    return ", ".join(parts)


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
        sys.exit(f"large_programs: missing {', '.join(missing)}: run `make pyperf` first")
    table = run(chosen)
    if args.write:
        write_docs(table, args.write)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
