"""Pick a renderer by format name; every renderer formats the same sorted diagnostic list."""
from __future__ import annotations

from typing import TextIO

from bpfrewrite.diagnostics import github, json_format, sarif, text
from bpfrewrite.diagnostics.diagnostic import Diagnostic
from bpfrewrite.errors import BpfrewriteError

FORMATS = ("text", "json", "sarif", "github")


def render(
    fmt: str,
    diags: list[Diagnostic],
    rules: list[sarif.RuleDescription] | None = None,
    stream: TextIO | None = None,
    version: str = "0",
    hidden_infos: int = 0,
) -> str:
    """diags (already sorted) in format fmt; stream decides whether text output is coloured;
    hidden_infos, the infos left out, is counted where a format has a summary."""
    if fmt == "text":
        return text.render(diags, stream, hidden_infos)
    if fmt == "json":
        return json_format.render(diags)
    if fmt == "sarif":
        return sarif.render(diags, rules or [], version)
    if fmt == "github":
        return github.render(diags)
    raise BpfrewriteError(f"unknown --format {fmt!r}: use one of {', '.join(FORMATS)}")
