"""What loading costs: verify's CSV form, the cost twins add, and `verify --compare` (veristat -C style)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bpfrewrite.errors import BpfrewriteError

if TYPE_CHECKING:
    from bpfrewrite.kernel.runner import ProgResult

# One row per program; the columns are public (scripts read them), new ones go last.
CSV_COLUMNS = ("file", "program", "section", "twin_of", "verdict", "verified_insns", "total_states",
               "peak_states", "max_states_per_insn", "verification_us", "retval", "duration_ns")
# What --compare sets side by side: (CSV column, heading).
COMPARED = (("verified_insns", "INSNS"), ("total_states", "STATES"), ("peak_states", "PEAK"),
            ("verification_us", "VERIFY_US"))


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


@dataclass
class TwinCost:
    """What the accepted twins add to loading, next to what their originals cost."""

    twins: int
    insns: int
    original_insns: int
    states: int
    original_states: int
    verification_us: int
    original_verification_us: int


def twin_cost(results: list[ProgResult]) -> TwinCost | None:
    """Sums over the pairs where the original and its twin were both accepted; None without such pairs."""
    by_name = {r.name: r for r in results}
    pairs = [(by_name[r.twin_of], r) for r in results if r.twin_of in by_name and r.accepted
             and by_name[r.twin_of].accepted]
    if not pairs:
        return None

    def total(side: int, key: str) -> int:
        return sum(getattr(pair[side], key) or 0 for pair in pairs)

    return TwinCost(len(pairs), total(1, "verified_insns"), total(0, "verified_insns"), total(1, "total_states"),
                    total(0, "total_states"), total(1, "verification_us"), total(0, "verification_us"))


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
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in [header, *rows]]
    return "\n".join(lines) + "\n"


def _count(row: dict[str, str] | None, column: str) -> int | None:
    return int(row[column]) if row and row[column] else None


def _show(value: int | None) -> str:
    return "-" if value is None else str(value)


def _diff(a: int | None, b: int | None) -> str:
    if a is None or b is None:
        return "-"
    change = f"{100 * (b - a) / a:+.2f}%" if a else ("+0.00%" if b == 0 else "+inf%")
    return f"{b - a:+d} ({change})"
