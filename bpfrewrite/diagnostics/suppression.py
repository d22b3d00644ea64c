"""Suppression comments: `bpfrewrite: ignore[slug,...]` (or bare `bpfrewrite: ignore`) on the reported line.

The line is read from BTF line info (clang stores the whole source line), so suppressions work
on an object without its source file.
"""
from __future__ import annotations

import re

from bpfrewrite.diagnostics.diagnostic import Diagnostic

IGNORE = re.compile(r"bpfrewrite:\s*ignore(?:\[([^\]]*)\])?")

ALL = frozenset({"*"})
# Rules about the comments themselves: a bare `ignore` cannot hide that it silences nothing.
ABOUT_COMMENTS = frozenset({"invalid-suppression", "unused-suppression"})


def ignored_rules(text: str | None) -> frozenset[str]:
    """The slugs a line's suppression comments name; ALL for a bare `ignore`; empty when none."""
    if not text:
        return frozenset()
    found: set[str] = set()
    for match in IGNORE.finditer(text):
        if match.group(1) is None:
            return ALL
        found.update(s.strip() for s in match.group(1).split(",") if s.strip())
    return frozenset(found)


def is_suppressed(diag: Diagnostic) -> bool:
    """True when the diagnostic's source line carries a suppression naming its rule (or all rules)."""
    rules = ignored_rules(diag.source)
    if diag.rule in ABOUT_COMMENTS:
        return diag.rule in rules
    return rules is ALL or "*" in rules or diag.rule in rules


def drop_suppressed(diags: list[Diagnostic]) -> list[Diagnostic]:
    """diags without the suppressed ones."""
    return [d for d in diags if not is_suppressed(d)]
