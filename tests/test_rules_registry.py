"""The rule registry: unique slugs, docstrings in fixed sections, a current doc page and fixtures per rule."""
from __future__ import annotations

import re
from pathlib import Path

from bpfrewrite.diagnostics.diagnostic import Severity
from bpfrewrite.passes.rules.base import SECTIONS
from bpfrewrite.passes.rules.docs import DOCS_DIR, OPTIONAL, page
from bpfrewrite.passes.rules.registry import RULES

REPO = Path(__file__).resolve().parent.parent


def test_slugs_are_unique_and_well_formed():
    assert len(RULES) >= 8
    for slug, rule in RULES.items():
        assert rule.slug == slug
        assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)+", slug)
        assert isinstance(rule.severity, Severity)
    assert len({r.__module__ for r in RULES.values()}) == len(RULES)  # one module per rule


def test_docstrings_have_the_fixed_sections_in_order():
    for slug, rule in RULES.items():
        sections = rule.sections()
        assert list(sections)[: len(SECTIONS)] == list(SECTIONS), slug
        assert list(sections)[len(SECTIONS):] == [s for s in OPTIONAL if s in sections], slug
        assert all(text.strip() for text in sections.values()), slug
        assert "```c" in sections["Example"], slug
        assert rule.summary() and rule.summary().endswith("."), slug
        # The module docstring is the rule's docstring (ruff's layout: one module, one rule).
        import importlib

        assert importlib.import_module(rule.__module__).__doc__ == rule.__doc__


def test_every_rule_has_a_current_doc_page():
    for slug, rule in RULES.items():
        path = DOCS_DIR / f"{slug}.md"
        assert path.is_file(), f"missing {path}; run python -m bpfrewrite.passes.rules.docs"
        assert path.read_text() == page(rule), f"{path} is stale; run python -m bpfrewrite.passes.rules.docs"
    pages = {p.stem for p in DOCS_DIR.glob("*.md")}
    assert pages == set(RULES), "doc pages for rules that do not exist"


def test_lint_doc_lists_every_rule():
    text = (REPO / "docs" / "lint.md").read_text()
    for slug in RULES:
        assert f"rules/{slug}.md" in text, slug


def test_every_rule_has_fixtures():
    from tests.test_rules import QUIET, TRIGGERS

    assert {t[0] for t in TRIGGERS} == set(RULES)
    assert {q[0] for q in QUIET} == set(RULES)


def test_rules_take_helper_facts_from_the_table_only():
    """No helper ids or helper/kfunc names in rule logic (docstrings may name them)."""
    import ast
    import inspect

    for rule in RULES.values():
        module = inspect.getmodule(rule)
        tree = ast.parse(inspect.getsource(module))
        doc = ast.get_docstring(tree, clean=False)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value != doc:
                assert not re.search(r"\bbpf_[a-z_]+\b", node.value), (rule.slug, node.value)
