"""Precision of the linter on verifier-accepted fixtures: the unchecked lock caught where the
verifier accepts it, a callback already returning 1, loops short enough not to matter, and one
diagnostic per site and rule.

Expected lines come from the C sources (tests.test_rules.position), never from the linter.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from bpfrewrite.diagnostics.diagnostic import Severity
from bpfrewrite.elf.reader import read_object
from bpfrewrite.kernel.runner import verify_object
from bpfrewrite.patching import patch_object
from bpfrewrite.passes.manager import AnalysisManager
from bpfrewrite.config import LintConfig, load_pyproject
from bpfrewrite.lint.registry import make_rule
from bpfrewrite.lint.runner import lint_object
from tests.test_rules import position, source_of

REPO = Path(__file__).resolve().parent.parent
LINT = REPO / "testdata" / "lint"
UNLOCKED = LINT / "res_lock_unlocked_access.bpf.o"
RET1 = LINT / "callback_ret1_reused.bpf.o"
LOOPS = LINT / "loop_parser_bounds.bpf.o"


def raw(obj: Path, slug: str):
    """What the rule itself returns, before the runner merges and sorts."""
    model = read_object(obj)
    return make_rule(slug).check(model, AnalysisManager(model))


@pytest.mark.parametrize("obj", [UNLOCKED, RET1, LOOPS, LINT / "failure_value_stored.bpf.o", LINT / "suppress_typo.bpf.o"],
                         ids=lambda p: p.name)
def test_precision_fixtures_are_accepted_by_the_verifier(obj, kernel):
    results = verify_object(obj)
    assert results and all(r.accepted for r in results), [(r.name, r.message) for r in results]


def test_access_before_the_lock_result_is_tested_is_reported_once():
    src = source_of(UNLOCKED)
    lock_line, _ = position(src, "ret = bpf_res_spin_lock(&h->lock);")
    access_line, access_col = position(src, "h->slots[idx]++;\t/* written", "++")
    diags = lint_object(read_object(UNLOCKED), LintConfig(select=("unchecked-lock-result",)))
    assert [(d.line, d.column, d.function) for d in diags] == [(access_line, access_col, "count_unlocked")]
    assert f"line {lock_line}" in diags[0].message
    # The load and the store of `++` are two findings of the rule at one line: the runner merges them.
    found = [d for d in raw(UNLOCKED, "unchecked-lock-result") if d.line == access_line]
    assert len(found) == 2 and len({d.insn for d in found}) == 2


def test_info_at_a_warned_site_is_merged():
    obj = REPO / "testdata" / "spin_lock.bpf.o"
    line, _ = position(source_of(obj), "bpf_spin_lock(&c->lock)")
    assert any(d.line == line for d in raw(obj, "fast-path-keeps-helper"))
    at = [d for d in lint_object(read_object(obj)) if d.line == line]
    assert [(d.rule, d.severity) for d in at] == [("spin-lock-not-terminable", Severity.WARNING)]


def test_callback_already_returning_1_patches_and_loads(tmp_path, kernel):
    assert raw(RET1, "callback-cannot-stop") == []
    out = tmp_path / "ret1.fast.o"
    report = patch_object(RET1, out)
    results = {r.name: r for r in verify_object(out)}
    assert results and all(r.accepted for r in results.values()), report


def test_short_counted_loops_are_quiet_unless_the_threshold_is_lowered():
    src = source_of(LOOPS)
    short = {position(src, "for (i = 0; i < 16; i++)")[0], position(src, "for (i = 0; i < 64; i++)")[0]}
    model = read_object(LOOPS)
    default = {d.line for d in lint_object(model, LintConfig(select=("loop-without-exit",)))}
    assert not default & short and len(default) == 2
    every = lint_object(model, LintConfig(select=("loop-without-exit",), loop_cost_threshold=0))
    assert short <= {d.line for d in every}
    assert all("instructions" in d.message for d in every if d.line in short)


def test_loop_cost_threshold_config_key(tmp_path):
    conf = tmp_path / "pyproject.toml"
    conf.write_text("[tool.bpfrewrite]\nloop-cost-threshold = 123\n")
    assert load_pyproject(conf).loop_cost_threshold == 123
    conf.write_text("[tool.bpfrewrite]\nloop-cost-threshold = \"many\"\n")
    with pytest.raises(Exception, match="non-negative integer"):
        load_pyproject(conf)
