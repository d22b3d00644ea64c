"""Text output like gcc/clang: `file:line:col: severity: message [slug]`, the source line, a caret."""
from __future__ import annotations

import os
import sys
from typing import TextIO

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.render.layout import count

_RESET = "\033[0m"
_BOLD = "\033[1m"
_GREEN = "\033[1;32m"
_CYAN = "\033[1;36m"
# clang's palette: errors red, warnings magenta, notes/info dark grey-black (we use cyan to stand out).
_SEVERITY_COLOUR = {Severity.ERROR: "\033[1;31m", Severity.WARNING: "\033[1;35m", Severity.INFO: _CYAN}


def use_colour(stream: TextIO) -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def location(diag: Diagnostic) -> str:
    """`file:line:col` (or `file:line` without a column), else `object:section+insn`."""
    if diag.file and diag.line:
        if diag.column:
            return f"{diag.file}:{diag.line}:{diag.column}"
        return f"{diag.file}:{diag.line}"
    return f"{diag.object}:{diag.section}+{diag.insn}"


def caret_line(source: str, column: int) -> str:
    """Spaces (tabs kept, so the caret lines up however tabs render) then `^` under column (1-based)."""
    prefix = source[: column - 1]
    return "".join(c if c == "\t" else " " for c in prefix) + "^"


def render_one(diag: Diagnostic, colour: bool = False) -> list[str]:
    """The lines for one diagnostic: header, source line and caret when known, help."""
    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    sev = paint(_SEVERITY_COLOUR[diag.severity], f"{diag.severity.label}:")
    head = f"{paint(_BOLD, location(diag) + ':')} {sev} {paint(_BOLD, diag.message)} [{diag.rule}]"
    lines = [head]
    if diag.source and diag.line:
        source = diag.source.rstrip("\n")
        lines.append(source)
        if diag.column and diag.column <= len(source) + 1:
            lines.append(paint(_GREEN, caret_line(source, diag.column)))
    if diag.help:
        lines.append(f"{paint(_CYAN, 'help:')} {diag.help}")
    return lines


def render(diags: list[Diagnostic], stream: TextIO | None = None, hidden_infos: int = 0) -> str:
    """All diagnostics as text, in the order given, with a summary line when there are any
    (hidden_infos: infos left out, counted in the summary)."""
    colour = use_colour(stream if stream is not None else sys.stdout)
    lines: list[str] = []
    for diag in diags:
        lines.extend(render_one(diag, colour))
    hidden = f"{count(hidden_infos, 'info')} hidden (--show-infos shows them)"
    if diags:
        counts = {s: sum(d.severity == s for d in diags) for s in Severity}
        parts = [count(n, s.label) for s, n in sorted(counts.items(), reverse=True) if n]
        lines.append(", ".join(parts) + " generated" + (f"; {hidden}." if hidden_infos else "."))
    elif hidden_infos:
        lines.append(hidden[0].upper() + hidden[1:] + ".")
    return "".join(line + "\n" for line in lines)
