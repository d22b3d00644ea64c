"""The neutral Diagnostic record every rule returns and every renderer formats."""
from __future__ import annotations

import enum
import functools
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bpfrewrite.errors import BpfrewriteError

if TYPE_CHECKING:
    from bpfrewrite.model import Function, Object


class Severity(enum.IntEnum):
    """How serious a diagnostic is; a larger value is more serious."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        """The lower-case name used in output and configuration ("error", "warning", "info")."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> "Severity":
        """The severity called text (case-insensitive); a user error if there is none."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise BpfrewriteError(f"unknown severity {text!r}: use error, warning or info") from None


@dataclass(frozen=True)
class Diagnostic:
    """One finding of one rule at one instruction, with its source position when known."""

    rule: str
    severity: Severity
    message: str
    object: str  # the object file as the user named it (or the source it was compiled from)
    section: str
    function: str
    insn: int  # 8-byte slot within the section, as llvm-objdump numbers it
    file: str | None = None
    line: int | None = None
    column: int | None = None
    source: str | None = None  # the whole source line, from BTF line info
    help: str | None = None

    def sort_key(self) -> tuple:
        """Deterministic order: file, line, column, rule, then the object location."""
        return (
            self.file if self.file is not None else self.object,
            self.line or 0,
            self.column or 0,
            self.rule,
            self.object,
            self.section,
            self.insn,
            self.message,
        )

    def with_severity(self, severity: Severity) -> "Diagnostic":
        """The same diagnostic at another severity (configuration overrides)."""
        return replace(self, severity=severity)

    def with_object(self, name: str) -> "Diagnostic":
        """The same diagnostic naming another object (the input the user gave, not a temp file)."""
        return replace(self, object=name)


# Where each rule's page (docs/rules/<slug>.md) is published: one place to change when it moves.
DOCS_URL = "https://github.com/bpfrewrite/bpfrewrite/blob/main/docs/rules/{slug}.md"


def docs_url(slug: str) -> str:
    """The URL of a rule's documentation page."""
    return DOCS_URL.format(slug=slug)


def end_column(diag: Diagnostic) -> int | None:
    """One past the last column of the token the diagnostic points at (SARIF's endColumn), from
    the source line: an identifier or number, a run of operator characters, else one character."""
    if not diag.column:
        return None
    text = (diag.source or "").rstrip("\n")
    start = diag.column - 1
    if start >= len(text):
        return diag.column + 1
    end = start + 1
    kinds = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", "+-*/%=<>!&|^~")
    for chars in kinds:
        if text[start] in chars:
            while end < len(text) and text[end] in chars:
                end += 1
            break
    return end + 1


def sort_diagnostics(diags: list[Diagnostic]) -> list[Diagnostic]:
    """diags in the order every renderer prints them (duplicates dropped)."""
    return sorted(set(diags), key=Diagnostic.sort_key)


def merge_same_site(diags: list[Diagnostic], about_comments: frozenset[str] = frozenset()) -> list[Diagnostic]:
    """One diagnostic per rule and source line (the first column wins), and no info at an
    instruction where another rule reports a warning or an error; sorted. Rules in
    about_comments (suppression checks) point at comments and never hide another rule's info."""
    def site(d: Diagnostic) -> tuple:
        if d.file is not None and d.line:
            return (d.file, d.line)
        return (d.object, d.section, d.insn)

    kept: dict[tuple, Diagnostic] = {}
    for d in sort_diagnostics(diags):
        kept.setdefault((d.rule, *site(d)), d)
    worst: dict[tuple, Severity] = {}
    for d in kept.values():
        if d.rule not in about_comments:
            at = (d.object, d.section, d.insn)
            worst[at] = max(worst.get(at, Severity.INFO), d.severity)
    return [d for d in kept.values()
            if not (d.severity == Severity.INFO and worst.get((d.object, d.section, d.insn), d.severity) > Severity.INFO)]


def display_path(path: str) -> str:
    """path relative to the working directory when under it, without a leading ./ (stable output)."""
    return _display_path(path, os.getcwd())


@functools.lru_cache(maxsize=4096)
def _display_path(path: str, cwd: str) -> str:
    if os.path.isabs(path):
        try:
            rel = os.path.relpath(path, cwd)
        except ValueError:
            return path
        if not rel.startswith(".." + os.sep) and rel != "..":
            return rel
        return path
    while path.startswith("./"):
        path = path[2:]
    return path


def at_insn(
    obj: "Object",
    func: "Function",
    index: int,
    rule: str,
    severity: Severity,
    message: str,
    help: str | None = None,
    positions: list | None = None,
    slots: list[int] | None = None,
) -> Diagnostic:
    """A diagnostic at func's index-th instruction, with the source position line info gives it."""
    if positions is None:
        from bpfrewrite.source import function_positions

        positions = function_positions(obj, func)
    pos = positions[index] if 0 <= index < len(positions) else None
    slot = (slots if slots is not None else func.slots())[index]
    common = dict(
        rule=rule,
        severity=severity,
        message=message,
        object=display_path(str(obj.path)),
        section=func.section.name,
        function=func.name,
        insn=slot,
        help=help,
    )
    if pos is None or not pos.file:
        return Diagnostic(**common)
    return Diagnostic(
        **common,
        file=display_path(pos.file),
        line=pos.line or None,
        column=pos.column or None,
        source=pos.text or None,
    )
