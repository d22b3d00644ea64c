"""Lint's diagnostics in each format: one module per format, all over the same sorted list."""
from __future__ import annotations

from typing import TextIO

from bpfrewrite.diagnostics.diagnostic import Diagnostic
from bpfrewrite.render.diagnostics import github, json_format, sarif, text
from bpfrewrite.render.formats import check_format


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
    check_format("lint", fmt)
    if fmt == "text":
        return text.render(diags, stream, hidden_infos)
    if fmt == "json":
        return json_format.render(diags)
    if fmt == "sarif":
        return sarif.render(diags, rules or [], version)
    return github.render(diags)
