"""The patch command's report (text table or JSON), its warnings and notes, and --print-after listings."""
from __future__ import annotations

import json
from typing import Iterator

from bpfrewrite.diagnostics.diagnostic import display_path
from bpfrewrite.passes.verdicts import can_drop, fails_closed
from bpfrewrite.render.layout import columns, count


def report_json(result) -> str:
    """The .bpfrewrite report of result with each site's `source` (file:line:col in the original) added."""
    doc = result.report()
    for site in doc["sites"]:  # not in the .bpfrewrite section: positions are the original's
        site["source"] = result.sources.get((site["twin"], site["slot"]))
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def problem_line(problem) -> str:
    """A twin that could not be made fast in place, as a warning line (file:line:col first, as lint's)."""
    where = f"+{problem.slot}" if problem.slot is not None and not problem.source else ""
    at = ""
    if problem.source:
        file, line, col = problem.source.rsplit(":", 2)
        at = f"{display_path(file)}:{line}:{col}: "
    what = f"{problem.function}{where}: " if problem.function else ""  # "": about the whole object
    return f"{at}warning: {what}{problem.message}"


def unchanged_note(src, note: str, out, in_place: bool) -> str:
    """Why an object got no twins, and what was written instead."""
    return f"note: {src}: {note}; " + ("left unchanged" if in_place else f"wrote an unchanged copy to {out}")


def timing_lines(timings: dict[str, float]) -> Iterator[str]:
    """--timings: each analysis and transform with its time in ms, the slowest first."""
    for name, seconds in sorted(timings.items(), key=lambda kv: -kv[1]):
        yield f"{seconds * 1000:9.2f} ms  {name}"


def function_listing(name: str, func) -> Iterator[str]:
    """A --print-after listing of func after transform name: slot and text of each instruction."""
    yield f"; after {name}: {func.name}"
    for slot, insn in zip(func.slots(), func.insns):
        yield f"{slot:>6}: {insn.text()}"


def report_text(result) -> Iterator[str]:
    """The site decisions as an aligned text table (SOURCE: where each site is in the original),
    then each program's verdict and its twin's."""
    sources = result.sources
    rows = [("FUNCTION", "SLOT", "SOURCE", "ACTION", "CALLEE", "VALUE", "REASON")]
    for s in result.sites:
        rows.append((s.twin, str(s.slot), sources.get((s.twin, s.slot), "-"), s.action, s.callee or "-",
                     "-" if s.value is None else str(s.value), s.reason))
    yield from columns(rows, left=len(rows[0]))
    yield ""
    if result.verdicts:
        yield from verdict_table([(o.name, o.prog_type, vo, vt) for o, _, vo, vt in result.verdicts])
        yield ""
    yield ", ".join(count(n, word) for n, word in
                    ((len(result.pairs), "twin"), (len(result.sites), "site"), (len(result.problems), "problem")))


def verdict_table(rows_in) -> Iterator[str]:
    """(program, type, original verdict, twin verdict) rows as a table of return values, named."""
    rows = [("PROGRAM", "TYPE", "RETURNS", "TWIN RETURNS", "NOTE")]
    for name, prog_type, original, twin in rows_in:
        if fails_closed(original, twin):
            note = "fails closed: the twin only drops"
        elif can_drop(twin) and not can_drop(original):
            note = "the twin may drop, the original never does"
        else:
            note = "-"
        rows.append((name, prog_type or "-", original.text(), twin.text(), note))
    yield from columns(rows, left=len(rows[0]))
