"""JSON output with a versioned schema: {"version": 1, "diagnostics": [...]}."""
from __future__ import annotations

import json

from bpfrewrite.diagnostics.diagnostic import Diagnostic, docs_url, end_column

# Bump when a key changes meaning or disappears; adding keys keeps the version.
SCHEMA_VERSION = 1


def to_record(diag: Diagnostic) -> dict:
    """One diagnostic as a JSON object (missing positions are null)."""
    return {
        "rule": diag.rule,
        "severity": diag.severity.label,
        "message": diag.message,
        "file": diag.file,
        "line": diag.line,
        "column": diag.column,
        "end_line": diag.line if diag.column else None,
        "end_column": end_column(diag),  # one past the token's last column, as SARIF's endColumn
        "help": diag.help,
        "url": docs_url(diag.rule),
        "object": diag.object,
        "section": diag.section,
        "function": diag.function,
        "insn": diag.insn,
    }


def render(diags: list[Diagnostic]) -> str:
    """The diagnostics as one JSON document, ending with a newline."""
    doc = {"version": SCHEMA_VERSION, "diagnostics": [to_record(d) for d in diags]}
    return json.dumps(doc, indent=2) + "\n"
