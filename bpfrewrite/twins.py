"""Twins, known in one place: their name suffix and section, the .bpfrewrite report, the twin pairs.

`bpfrewrite patch` (bpfrewrite.passes.transforms.fastpath) writes a twin `P__fast` beside every program P and
records each pair and site decision in the object's `.bpfrewrite` section; verify, lint and guard
ask this module which functions are twins, from that record or, when a linker dropped it, from the
twins' own shape.
"""
from __future__ import annotations

import json
import re

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.model import Object, Section

TWIN_SUFFIX = "__fast"
REPORT_SECTION = ".bpfrewrite"
REPORT_VERSION = 2  # 2 added "verdicts"; version 1 records (no verdicts) are still read
READABLE_VERSIONS = (1, 2)
SHT_STRTAB = 3


def twin_name(name: str) -> str:
    """The name of the twin of the function (or BTF FUNC) called name."""
    return name + TWIN_SUFFIX


def twin_section_name(name: str) -> str:
    """The section a program twin goes to: "?" + its original's, so libbpf does not load it by default.

    libbpf (1.0+, libbpf.c bpf_object__init_prog) gives SEC("?xdp") the program type of "xdp" with
    autoload off: bpf_object__load and skeleton attach skip it until set_autoload(true). An
    original that is already autoload-off keeps its twin in its own section.
    """
    return name if name.startswith("?") else "?" + name


def read_report(obj: Object) -> dict | None:
    """The .bpfrewrite report of an object patched by bpfrewrite, or None for any other object.

    Each patch writes one JSON document, as a string table (NUL, JSON, NUL). Records of the older
    PROGBITS form hold one JSON line per patched input when libbpf's linker concatenated them:
    their twins, sites and problems are merged. (The linker drops the string-table form: see
    twin_names for how twins are found without a record.)
    """
    sec = obj.section(REPORT_SECTION)
    if sec is None:
        return None
    merged: dict = {"version": REPORT_VERSION, "twins": [], "sites": [], "problems": [], "verdicts": [], "maps": []}
    # One JSON document per NUL- or newline-separated chunk: the string-table form written since
    # schema 1's loader-quiet change, and the older PROGBITS form (JSON lines, concatenated by the linker).
    for line in re.split(rb"[\0\n]", sec.data):
        if not line.strip():
            continue
        try:
            report = json.loads(line)
        except ValueError:
            raise BpfrewriteError(f"{obj.path}: the {REPORT_SECTION} section is not bpfrewrite's JSON report") from None
        if not isinstance(report, dict) or report.get("version") not in READABLE_VERSIONS:
            raise BpfrewriteError(f"{obj.path}: unknown {REPORT_SECTION} report version")
        for key in ("twins", "sites", "problems", "verdicts", "maps"):
            merged[key].extend(report.get(key, ()))
    return merged


def twin_names(obj: Object) -> set[str]:
    """Names of the twins in obj (empty for an object that was never patched).

    From the .bpfrewrite record when there is one; otherwise from the twins' own shape, which
    survives libbpf's static linker (it drops string tables, the record among them): a function
    `P__fast` beside a function `P`, a program twin in the section "?" + P's section.
    """
    report = read_report(obj)
    if report:
        return {t["twin"] for t in report.get("twins", ())}
    by_name = {f.name: f for f in obj.functions}
    found = set()
    for func in obj.functions:
        orig = by_name.get(func.name.removesuffix(TWIN_SUFFIX)) if func.name.endswith(TWIN_SUFFIX) else None
        if orig is None or orig.is_program != func.is_program:
            continue
        if not orig.is_program or func.section.name == twin_section_name(orig.section.name):
            found.add(func.name)
    return found


def program_twins(obj: Object) -> dict[str, str]:
    """{original program: its twin} for every program of obj that has one, in object order."""
    names = twin_names(obj)
    programs = [f.name for f in obj.functions if f.is_program]
    return {p: twin_name(p) for p in programs if twin_name(p) in names}


def write_report(obj: Object, report: dict) -> None:
    """Add the .bpfrewrite section holding report (PatchResult.report()) to obj."""
    # SHT_STRTAB, not SHT_PROGBITS: libbpf's loader (1.1 and current, ignore_elf_section) skips a
    # string table without a word, where a PROGBITS section it does not know prints "skipping
    # unrecognized data section". The bytes are a valid string table: NUL, one JSON line, NUL.
    blob = b"\0" + json.dumps(report, sort_keys=True, separators=(",", ":")).encode() + b"\0"
    obj.sections.append(
        Section(index=len(obj.sections), name=REPORT_SECTION, type=SHT_STRTAB, flags=0, data=blob, link=0, info=0,
                addralign=1, entsize=0, size=len(blob))
    )
