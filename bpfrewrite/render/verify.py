"""verify's reports: the text table, JSON and CSV of the verdicts, and `--compare` of two CSVs (veristat -C).

The CSV is read back here too (read_csv), so its columns are defined once.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.kernel.results import ProgResult, TwinCost, twin_cost
from bpfrewrite.render.layout import columns, count, format_ns

# The JSON schema's version: bump when a key changes meaning or disappears; adding keys keeps it.
# 2: `line` became an integer beside a new `file` key (before: one "file.c:LINE" string, no version key).
JSON_VERSION = 2
# One row per program; the columns are public (scripts read them), new ones go last.
CSV_COLUMNS = ("file", "program", "section", "twin_of", "verdict", "verified_insns", "total_states",
               "peak_states", "max_states_per_insn", "verification_us", "retval", "duration_ns")
# What --compare sets side by side: (CSV column, heading).
COMPARED = (("verified_insns", "INSNS"), ("total_states", "STATES"), ("peak_states", "PEAK"),
            ("verification_us", "VERIFY_US"))


def display_order(results: list[ProgResult]) -> list[ProgResult]:
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
    cost = twin_cost(results)
    if cost is not None:
        doc["twin_cost"] = dataclasses.asdict(cost)
    return json.dumps(doc, indent=2)


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
            format_ns(None if r.verification_us is None else r.verification_us * 1000),
        ]
        if run:
            row += [_retval_text(r), format_ns(r.duration_ns)]
        rows.append(row)
        notes.append(_notes(r))
    lines = columns([header, *rows], left=3)  # numbers align right
    out = [lines[0]]
    for r, line, extra in zip(results, lines[1:], notes):
        twin_note = _twin_note(r, by_name.get(r.twin_of or ""))
        out.append(line + (f"  ({twin_note})" if twin_note else ""))
        out.extend(f"    {n}" for n in extra)
    rejected = sum(not r.accepted for r in results)
    accepted = len(results) - rejected
    out.append(f"{count(len(results), 'program')}: {accepted} accepted, {rejected} rejected")
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


def render_csv(results: list[ProgResult], file: str) -> str:
    """The CSV report: a header, then one row per program (empty cells for what is unknown)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in results:
        cells = {"file": file, "program": r.name, "verdict": "ACCEPTED" if r.accepted else "REJECTED"}
        writer.writerow([cells.get(c, _cell(getattr(r, c, None))) for c in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def render_twin_cost(cost: TwinCost) -> str:
    """One line: what the twins add, each figure with its share of the originals' own."""
    noun = "twin adds" if cost.twins == 1 else f"{cost.twins} twins add"
    return (f"{noun} {cost.insns} processed insns ({_share(cost.insns, cost.original_insns)} of their originals'), "
            f"{cost.states} states ({_share(cost.states, cost.original_states)}), "
            f"{cost.verification_us} us of verification ({_share(cost.verification_us, cost.original_verification_us)})")


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    """A CSV that `verify --format csv` wrote: program name -> row; one clear error for anything else."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise BpfrewriteError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BpfrewriteError(f"{path}: is a directory, expected a CSV from verify --format csv") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BpfrewriteError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("program", "verdict", *(c for c, _ in COMPARED)) if c not in (reader.fieldnames or ())]
    if missing:
        raise BpfrewriteError(f"{path}: not a CSV from verify --format csv (no column {', '.join(missing)})")
    rows = {}
    for row in reader:
        for column, _ in COMPARED:
            if row[column] and not row[column].isdigit():
                raise BpfrewriteError(f"{path}: {column} of {row['program']!r} is not a count: {row[column]!r}")
        rows[row["program"]] = row
    return rows


def render_compare(a: dict[str, dict[str, str]], b: dict[str, dict[str, str]]) -> str:
    """veristat -C's table: per program and figure, A, B and B - A (with the change in percent)."""
    header = ["PROGRAM", "VERDICT (A)", "VERDICT (B)"]
    for _, heading in COMPARED:
        header += [f"{heading} (A)", f"{heading} (B)", f"{heading} (DIFF)"]
    rows = []
    for name in list(a) + [n for n in b if n not in a]:
        ra, rb = a.get(name), b.get(name)
        row = [name, ra["verdict"] if ra else "-", rb["verdict"] if rb else "-"]
        for column, _ in COMPARED:
            va, vb = _count(ra, column), _count(rb, column)
            row += [_show(va), _show(vb), _diff(va, vb)]
        rows.append(row)
    return "\n".join(columns([header, *rows], left=3)) + "\n"


def _count(row: dict[str, str] | None, column: str) -> int | None:
    return int(row[column]) if row and row[column] else None


def _show(value: int | None) -> str:
    return "-" if value is None else str(value)


def _diff(a: int | None, b: int | None) -> str:
    if a is None or b is None:
        return "-"
    change = f"{100 * (b - a) / a:+.2f}%" if a else ("+0.00%" if b == 0 else "+inf%")
    return f"{b - a:+d} ({change})"
