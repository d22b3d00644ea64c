"""Digest every command's output on all testdata, to prove a refactoring changes no output.

    python3 tools/output_snapshot.py write SNAPSHOT.json [--dump DIR] [--no-kernel]
    python3 tools/output_snapshot.py compare SNAPSHOT.json [--dump DIR] [--no-kernel]

Run from a checkout's root with PYTHONPATH=$PWD: the commands run in this process (one Python
start-up instead of hundreds) through the same typer app as the `bpfrewrite` script. Each case
records the exit code, stdout, stderr and any file the command wrote (the patched ELF), as
SHA-256 digests. `compare` prints the cases that differ and exits 1; with --dump the raw outputs
are also written to DIR (one file per case and stream) so two dumps can be diffed.

Covered, on every object of testdata/, testdata/lint/, testdata/eb/ (bpfeb) and testdata/asm/:
disasm (text, json), cfg (dot, json), lint (text, json, sarif, github; objects and C sources),
patch (--report text and json, and the written ELF), verify (text, json, csv on the patched
objects; kernel-dependent timings are masked); --help of every command, lint --list-rules and
--explain of every rule, and a few bad-input cases. Paths are relative to the checkout, so
snapshots of two checkouts (e.g. main before a change and the branch after) compare.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

# Wide enough that --help text never wraps differently between runs.
os.environ["COLUMNS"] = "120"
os.environ["NO_COLOR"] = "1"
os.environ["TERM"] = "dumb"

from typer.testing import CliRunner  # noqa: E402

from bpfrewrite.cli import app  # noqa: E402

# The verifier's time and test-run durations vary run to run; every other figure is compared.
_TIME_FIELDS = re.compile(r'("(?:verification_us|original_verification_us|duration_ns)": )\d+')
_KERNEL_ADDR = re.compile(r"0xffff[0-9a-f]{12}")
_TEXT_TIMES = re.compile(r"\d+(?:\.\d+)? ?(?:ns|us|ms|s)\b(?: of verification \(\d+%\))?")


def _mask_csv(text: str) -> str:
    """Blank the timing columns of verify's CSV."""
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    header = lines[0].rstrip("\n").split(",")
    timed = {i for i, name in enumerate(header) if name in ("verification_us", "duration_ns")}
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.rstrip("\n").split(",")
        out.append(",".join("T" if i in timed and c else c for i, c in enumerate(cells)) + "\n")
    return "".join(out)


def _mask(kind: str, text: str) -> str:
    """Mask what the kernel makes vary (timings, kernel addresses in verifier logs) in verify output."""
    text = _KERNEL_ADDR.sub("0xKADDR", text)
    if kind == "json":
        return _TIME_FIELDS.sub(r"\1T", text)
    if kind == "csv":
        return _mask_csv(text)
    if kind == "text":
        # Column widths follow the widest time, so squeeze runs of spaces too.
        return re.sub(r" {2,}", "  ", _TEXT_TIMES.sub("T", text))
    return text


def _invoke(runner: CliRunner, args: list[str]) -> tuple[int, bytes, bytes, str]:
    """Run one command in-process; return exit code, stdout, stderr and an escaped exception."""
    result = runner.invoke(app, args, catch_exceptions=True)
    exc = ""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # main() turns BpfrewriteError into one line and exit 2; record the same facts.
        exc = f"{type(result.exception).__name__}: {result.exception}"
    return result.exit_code, result.stdout_bytes, result.stderr_bytes, exc


def _cases(root: Path, kernel: bool, tmp: Path) -> list[tuple[str, list[str], str, Path | None]]:
    """(case name, argv, mask kind, file the command writes) for every case, in a fixed order."""
    objs = sorted(p.relative_to(root).as_posix() for p in (root / "testdata").glob("*.bpf.o"))
    objs += sorted(p.relative_to(root).as_posix() for p in (root / "testdata/lint").glob("*.bpf.o"))
    objs.append("testdata/asm/all_insns.o")
    objs += sorted(p.relative_to(root).as_posix() for p in (root / "testdata/eb").glob("*.bpf.o"))  # bpfeb
    srcs = sorted(p.relative_to(root).as_posix() for p in (root / "testdata/lint/src").glob("*.bpf.c"))
    cases: list[tuple[str, list[str], str, Path | None]] = []
    for cmd in ("", "disasm", "cfg", "lint", "patch", "verify", "guard"):
        cases.append((f"help {cmd}".strip(), [*([cmd] if cmd else []), "--help"], "", None))
    cases.append(("lint --list-rules", ["lint", "--list-rules"], "", None))
    for obj in objs:
        for fmt in ("text", "json"):
            cases.append((f"disasm {fmt} {obj}", ["disasm", "--format", fmt, obj], "", None))
        for fmt in ("dot", "json"):
            cases.append((f"cfg {fmt} {obj}", ["cfg", "--format", fmt, obj], "", None))
        for fmt in ("text", "json", "sarif", "github"):
            cases.append((f"lint {fmt} {obj}", ["lint", "--format", fmt, "--fail-on", "never", obj], "", None))
        out = tmp / (obj.replace("/", "_") + ".fast.o")
        for fmt in ("text", "json"):
            cases.append((f"patch {fmt} {obj}", ["patch", "--report", "--format", fmt, obj, str(out)], "", out))
        if kernel:
            for fmt in ("text", "json", "csv"):
                cases.append((f"verify {fmt} {obj}", ["verify", "--format", fmt, str(out)], fmt, None))
    for src in srcs:
        for fmt in ("text", "json"):
            cases.append((f"lint {fmt} {src}", ["lint", "--format", fmt, "--fail-on", "never", src], "", None))
    bad = "testdata/README.md"
    for cmd in (["disasm"], ["cfg"], ["lint"], ["patch"], ["verify"]):
        argv = [*cmd, bad] + ([str(tmp / "bad.o")] if cmd == ["patch"] else [])
        cases.append((f"bad input {cmd[0]}", argv, "", None))
    cases.append(("bad format disasm", ["disasm", "--format", "xml", objs[0]], "", None))
    cases.append(("bad format cfg", ["cfg", "--format", "xml", objs[0]], "", None))
    cases.append(("bad format lint", ["lint", "--format", "xml", objs[0]], "", None))
    cases.append(("bad format patch", ["patch", "--report", "--format", "xml", objs[0], str(tmp / "x.o")], "", None))
    return cases


def _explain_cases(runner: CliRunner) -> list[tuple[str, list[str], str, Path | None]]:
    """lint --explain for every slug lint --list-rules prints."""
    listing = runner.invoke(app, ["lint", "--list-rules"]).stdout
    slugs = sorted({line.split()[0] for line in listing.splitlines() if line.strip() and not line.startswith(" ")})
    return [(f"lint --explain {s}", ["lint", "--explain", s], "", None) for s in slugs]


def snapshot(root: Path, kernel: bool, dump: Path | None) -> dict[str, str]:
    """Run every case; return case name -> digest of (exit code, stdout, stderr, written file)."""
    runner = CliRunner()
    digests: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bpfrewrite-snapshot-") as t:
        tmp = Path(t)
        cases = _cases(root, kernel, tmp) + _explain_cases(runner)
        for name, argv, mask, written in cases:
            code, out, err, exc = _invoke(runner, argv)
            # The temporary directory's name must not leak into the digest.
            out, err = (b.replace(t.encode(), b"TMP") for b in (out, err))
            exc = exc.replace(t, "TMP")
            if mask:
                out = _mask(mask, out.decode()).encode()
            blob = written.read_bytes() if written is not None and written.exists() else b""
            parts = [str(code).encode(), out, err, exc.encode(), blob]
            h = hashlib.sha256()
            for part in parts:
                h.update(len(part).to_bytes(8, "little"))
                h.update(part)
            digests[name] = h.hexdigest()
            if dump is not None:
                base = dump / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
                base.parent.mkdir(parents=True, exist_ok=True)
                base.with_suffix(base.suffix + ".out").write_bytes(
                    f"exit {code}\n{exc}\n".encode() + out + b"\n--- stderr\n" + err
                )
                if blob:
                    base.with_suffix(base.suffix + ".elf").write_bytes(blob)
    return digests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("write", "compare"))
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--dump", type=Path, help="Also write every raw output to this directory.")
    parser.add_argument("--no-kernel", action="store_true", help="Skip verify (needs BPF loading).")
    args = parser.parse_args()
    root = Path.cwd()
    if not (root / "testdata").is_dir():
        print("output_snapshot: run from a checkout's root", file=sys.stderr)
        return 2
    digests = snapshot(root, not args.no_kernel, args.dump)
    if args.mode == "write":
        args.snapshot.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
        print(f"{len(digests)} cases written to {args.snapshot}")
        return 0
    expected = json.loads(args.snapshot.read_text())
    differ = sorted(k for k in expected.keys() | digests.keys() if expected.get(k) != digests.get(k))
    for name in differ:
        state = "missing" if name not in digests else "new" if name not in expected else "differs"
        print(f"{state}: {name}")
    print(f"{len(digests)} cases, {len(differ)} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
