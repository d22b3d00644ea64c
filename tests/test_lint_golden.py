"""Rendered text output of every lint fixture under testdata/lint/, compared with tests/golden/.

fast-path-keeps-helper is left out: its messages quote the knowledge table's reasons verbatim,
which change with the table (tests/test_rules.py checks that rule against the table instead).

Each golden file was reviewed by hand against its C source (positions, messages, order). After
an intended change, regenerate with BPFREWRITE_UPDATE_GOLDEN=1 and review the diff.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from bpfrewrite.render.diagnostics import text
from bpfrewrite.config import LintConfig
from bpfrewrite.lint.runner import lint_path

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden"
FIXTURES = sorted((REPO / "testdata" / "lint").glob("*.bpf.o"))


def test_every_fixture_has_a_golden_file():
    assert FIXTURES
    assert {p.name[: -len(".bpf.o")] for p in FIXTURES} == {p.stem for p in GOLDEN.glob("*.txt")}


@pytest.mark.parametrize("obj", FIXTURES, ids=lambda p: p.name)
def test_golden_text(obj, monkeypatch):
    monkeypatch.chdir(REPO)  # diagnostics name files relative to the working directory
    # A fixed target kernel: advice follows it, and the golden files must not depend on the machine.
    config = LintConfig(ignore=("fast-path-keeps-helper",), target_kernel=(6, 18))
    result = lint_path(str(obj.relative_to(REPO)), config)
    assert result.error is None
    got = text.render(list(result.diagnostics), io.StringIO())
    golden = GOLDEN / (obj.name[: -len(".bpf.o")] + ".txt")
    if os.environ.get("BPFREWRITE_UPDATE_GOLDEN") == "1":
        golden.write_text(got)
    assert got == golden.read_text()
