"""`bpfrewrite verify`: load each program through the system's libbpf; report the verdicts."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Tuple

import typer

from bpfrewrite.errors import BpfrewriteError

if TYPE_CHECKING:
    from bpfrewrite.kernel.runner import ProgResult

_FORMATS = ("text", "json", "csv")
# The JSON schema's version: bump when a key changes meaning or disappears; adding keys keeps it.
# 2: `line` became an integer beside a new `file` key (before: one "file.c:LINE" string, no version key).
JSON_VERSION = 2
EXIT_REJECTED = 1


def register(app: typer.Typer) -> None:
    """Add the `verify` command to the CLI."""
    app.command(name="verify")(verify)


def verify(
    obj: Optional[Path] = typer.Argument(None, help="A clang-built BPF object (.bpf.o).", show_default=False),
    prog: Optional[str] = typer.Option(None, "--prog", help="Only this program (function name)."),
    run: bool = typer.Option(False, "--run", help="Test-run accepted programs (PROG_TEST_RUN); the return value is named for the program type (2 (XDP_PASS))."),
    data: Optional[Path] = typer.Option(
        None, "--data", help="Test-run input: a packet (default 64 zero bytes) or raw_tp args."
    ),
    repeat: int = typer.Option(1, "--repeat", help="Runs per program; the duration is their mean."),
    fmt: str = typer.Option("text", "--format", help="Output format: text, json or csv (one row per program)."),
    compare: Optional[Tuple[Path, Path]] = typer.Option(
        None, "--compare", help="Compare two CSVs of verify --format csv, program by program (as veristat -C); no OBJ."
    ),
) -> None:
    """Load each program into the kernel's verifier (never attached); exit 1 if any is rejected.

    Reports the verifier's cost of each program and twin: instructions processed, states, peak
    states and verification time, and what the twins add in total.
    """
    if fmt not in _FORMATS:
        raise BpfrewriteError(f"unknown --format {fmt!r}: use text, json or csv")
    if compare is not None:
        if obj is not None or fmt != "text":
            raise BpfrewriteError("--compare takes two CSV files and no object or --format")
        from bpfrewrite.commands.verify_stats import read_csv, render_compare

        typer.echo(render_compare(read_csv(compare[0]), read_csv(compare[1])), nl=False)
        return
    if obj is None:
        raise BpfrewriteError("give a BPF object to verify (or --compare A.csv B.csv)")
    payload = _read_data(data) if data is not None else None
    if (data is not None or repeat != 1) and not run:
        raise BpfrewriteError("--data and --repeat only make sense with --run")

    from bpfrewrite.kernel.runner import verify_object

    results = _display_order(verify_object(obj, prog=prog, run=run, data=payload, repeat=repeat))
    if fmt == "json":
        typer.echo(render_json(results))
    elif fmt == "csv":
        from bpfrewrite.commands.verify_stats import render_csv

        typer.echo(render_csv(results, obj.name), nl=False)
    else:
        typer.echo(render_text(results, run=run), nl=False)
    if not all(r.accepted for r in results):
        # sys.exit, not typer.Exit: in standalone_mode=False click returns typer.Exit's code instead
        # of raising it, and cli.main would then exit 0.
        sys.exit(EXIT_REJECTED)


def _read_data(path: Path) -> bytes:
    from bpfrewrite.fileio import read_input

    try:
        return read_input(path, "a file")
    except BpfrewriteError as exc:
        raise BpfrewriteError(f"cannot read --data file: {exc}") from None


def _display_order(results: list[ProgResult]) -> list[ProgResult]:
    """Programs in object order, each twin moved right after its original."""
    twins: dict[str, list[ProgResult]] = {}
    for r in results:
        if r.twin_of is not None:
            twins.setdefault(r.twin_of, []).append(r)
    shown = {r.name for r in results}
    ordered = []
    for r in results:
        if r.twin_of is not None and r.twin_of in shown:
            continue  # placed after its original below
        ordered.append(r)
        ordered.extend(twins.get(r.name, []))
    return ordered


def render_json(results: list[ProgResult]) -> str:
    """The JSON report: {"version": 2, "programs": [...]}, optional keys omitted when absent."""
    programs = []
    for r in results:
        entry: dict[str, object] = {
            "name": r.name,
            "section": r.section,
            "accepted": r.accepted,
            "verified_insns": r.verified_insns,
        }
        for key in ("message", "file", "line", "retval", "retval_name", "duration_ns", "twin_of", "total_states",
                    "peak_states", "max_states_per_insn", "verification_us"):
            value = getattr(r, key)
            if value is not None:
                entry[key] = value
        programs.append(entry)
    doc: dict[str, object] = {"version": JSON_VERSION, "programs": programs}
    from bpfrewrite.commands.verify_stats import twin_cost

    cost = twin_cost(results)
    if cost is not None:
        doc["twin_cost"] = dataclasses.asdict(cost)
    return json.dumps(doc, indent=2)


def format_duration(ns: int | None) -> str:
    """A duration in ns as a short human string ("52 ns", "10.4 ms")."""
    if ns is None:
        return "-"
    for unit, scale in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if ns >= scale:
            return f"{ns / scale:.1f} {unit}"
    return f"{ns} ns"


def speed_ratio(original: ProgResult, twin: ProgResult) -> str | None:
    """How much faster the twin ran than its original ("200.0x faster"), if both were timed."""
    if not original.duration_ns or not twin.duration_ns:
        return None
    ratio = original.duration_ns / twin.duration_ns
    if ratio >= 1:
        return f"{ratio:.1f}x faster"
    return f"{1 / ratio:.1f}x slower"


def render_text(results: list[ProgResult], run: bool) -> str:
    """One row per program (twins indented under their original), then rejection details."""
    by_name = {r.name: r for r in results}
    header = ["PROGRAM", "SECTION", "VERDICT", "INSNS", "STATES", "PEAK", "VERIFY"] + (["RETVAL", "TIME/RUN"] if run else [])
    rows = []
    notes: list[list[str]] = []
    for r in results:
        name = f"  {r.name}" if r.twin_of in by_name else r.name
        row = [
            name,
            r.section,
            "ACCEPTED" if r.accepted else "REJECTED",
            "-" if r.verified_insns is None else str(r.verified_insns),
            "-" if r.total_states is None else str(r.total_states),
            "-" if r.peak_states is None else str(r.peak_states),
            "-" if r.verification_us is None else format_duration(r.verification_us * 1000),
        ]
        if run:
            row += [_retval_text(r), format_duration(r.duration_ns)]
        rows.append(row)
        notes.append(_notes(r))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = set(range(3, len(header)))  # numbers align right

    def line(cells: list[str]) -> str:
        text = "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )
        return text.rstrip()

    out = [line(header)]
    for r, row, extra in zip(results, rows, notes):
        twin_note = _twin_note(r, by_name.get(r.twin_of or ""))
        out.append(line(row) + (f"  ({twin_note})" if twin_note else ""))
        out.extend(f"    {n}" for n in extra)
    rejected = sum(not r.accepted for r in results)
    accepted = len(results) - rejected
    noun = "program" if len(results) == 1 else "programs"
    out.append(f"{len(results)} {noun}: {accepted} accepted, {rejected} rejected")
    from bpfrewrite.commands.verify_stats import render_twin_cost, twin_cost

    cost = twin_cost(results)
    if cost is not None:
        out.append(render_twin_cost(cost))
    return "\n".join(out) + "\n"


def _retval_text(r: ProgResult) -> str:
    """The return value, with its name for the program type beside it: `2 (XDP_PASS)`."""
    if r.retval is None:
        return "-"
    return f"{r.retval} ({r.retval_name})" if r.retval_name else str(r.retval)


def _twin_note(r: ProgResult, original: ProgResult | None) -> str | None:
    if original is None:
        return None
    ratio = speed_ratio(original, r)
    return f"twin of {original.name}" + (f", {ratio}" if ratio else "")


def _notes(r: ProgResult) -> list[str]:
    notes = []
    if r.message:
        notes.append(("error: " if not r.accepted else "note: ") + r.message)
    if r.where:
        notes.append(f"at {r.where}")
    if r.log_tail:
        notes.append("verifier log (tail):")
        notes.extend(f"  | {t}" for t in r.log_tail.splitlines())
    return notes
