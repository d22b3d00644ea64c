"""The rule registry: unique slugs, docstrings in fixed sections, a current doc page and fixtures per rule."""
from __future__ import annotations

import re
from pathlib import Path

from bpfrewrite.diagnostics.diagnostic import Severity
from bpfrewrite.passes.rule import OPTIONAL_SECTIONS, SECTIONS
from bpfrewrite.lint.registry import RULES
from bpfrewrite.render.rules import rule_page

REPO = Path(__file__).resolve().parent.parent
DOCS_DIR = REPO / "docs" / "rules"


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
        assert list(sections)[len(SECTIONS):] == [s for s in OPTIONAL_SECTIONS if s in sections], slug
        assert all(text.strip() for text in sections.values()), slug
        assert "```c" in sections["Example"], slug
        assert rule.summary() and rule.summary().endswith("."), slug
        # The module docstring is the rule's docstring (ruff's layout: one module, one rule).
        import importlib

        assert importlib.import_module(rule.__module__).__doc__ == rule.__doc__


def test_every_rule_has_a_current_doc_page():
    for slug, rule in RULES.items():
        path = DOCS_DIR / f"{slug}.md"
        assert path.is_file(), f"missing {path}; run python3 tools/gen_rule_docs.py"
        assert path.read_text() == rule_page(rule), f"{path} is stale; run python3 tools/gen_rule_docs.py"
    pages = {p.stem for p in DOCS_DIR.glob("*.md")}
    assert pages == set(RULES), "doc pages for rules that do not exist"


def test_the_page_writer_writes_the_pages_docs_rules_holds(tmp_path):
    """tools/gen_rule_docs.py writes one page per rule, the same bytes as the checked-in ones."""
    import runpy

    write_all = runpy.run_path(str(REPO / "tools" / "gen_rule_docs.py"))["write_all"]
    written = write_all(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in DOCS_DIR.glob("*.md"))
    assert all(p.read_bytes() == (DOCS_DIR / p.name).read_bytes() for p in written)


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


def test_passes_rules_holds_only_rules():
    """One module per slug and nothing else: plumbing lives in bpfrewrite/lint/, shared analyses in passes/analysis/."""
    folder = REPO / "bpfrewrite" / "passes" / "rules"
    modules = {f"bpfrewrite.passes.rules.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"}
    assert modules == {r.__module__ for r in RULES.values()}


def test_suppression_rules_read_the_table_they_are_built_with():
    """The table of rules reaches the suppression rules from whoever builds them (no import of the registry)."""
    import pytest

    from bpfrewrite.elf.reader import read_object
    from bpfrewrite.lint.registry import make_rule
    from bpfrewrite.passes.manager import AnalysisManager, PassError

    model = read_object(REPO / "testdata" / "lint" / "suppress_typo.bpf.o")
    invalid = RULES["invalid-suppression"]
    found = make_rule("invalid-suppression").check(model, AnalysisManager(model))
    assert [d.message.split(" in ")[0] for d in found] == ["unknown rule spin-lock-not-terminabel"]
    # A table that knows the misspelt slug makes the same comment valid: the rule asks its table, not a module.
    table = {**RULES, "spin-lock-not-terminabel": RULES["spin-lock-not-terminable"]}
    assert invalid(None, table).check(model, AnalysisManager(model)) == []
    # Built alone, a rule about rules says what it lacks instead of reporting against an empty table.
    with pytest.raises(PassError, match="needs the table of rules"):
        invalid().check(model, AnalysisManager(model))
