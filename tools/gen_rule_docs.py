#!/usr/bin/env python3
"""Write docs/rules/<slug>.md for every rule, from its docstring (bpfrewrite.render.rules.rule_page).

Usage: python3 tools/gen_rule_docs.py

tests/test_rules_registry.py fails when a page is missing or out of date.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's rules, not an installed copy's

from bpfrewrite.lint.registry import RULES  # noqa: E402
from bpfrewrite.render.rules import rule_page  # noqa: E402

DOCS_DIR = ROOT / "docs" / "rules"


def write_all(directory: Path = DOCS_DIR) -> list[Path]:
    """Write every rule's page into directory; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for slug, rule in RULES.items():
        path = directory / f"{slug}.md"
        path.write_text(rule_page(rule), "utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_all():
        print(p.relative_to(ROOT))
