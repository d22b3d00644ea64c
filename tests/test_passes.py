"""The pass manager: registry, caching, enforced invalidation, preservation checks; the call graph."""
from __future__ import annotations

from pathlib import Path

import pytest

from bpfrewrite.elf.reader import read_object
from bpfrewrite.passes.analysis.callgraph import CallGraph
from bpfrewrite.passes.analysis.cfg import CFG
from bpfrewrite.passes.analysis.dataflow import Dataflow
from bpfrewrite.passes.analysis.loops import Loops
from bpfrewrite.passes.manager import (
    Analysis,
    AnalysisManager,
    PassError,
    PassManager,
    Transform,
    pass_label,
    register,
    registry,
    required_names,
)

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"


def test_registry_names_are_unique_and_complete():
    table = registry()
    for name in ("cfg", "dataflow", "loops", "callgraph"):
        assert name in table
    assert len(set(table.values())) == len(table)
    assert all(cls.name == name for name, cls in table.items())


def _rules():
    from bpfrewrite.lint.registry import RULES

    return [RULES[slug] for slug in sorted(RULES)]


def test_every_pass_and_rule_declares_registered_analyses():
    table = registry()
    analyses = {name for name, cls in table.items() if issubclass(cls, Analysis)}
    assert {"known-calls", "source-positions", "fastpath-plan", "iteration-callbacks"} <= analyses
    for who in [*table.values(), *_rules()]:
        assert isinstance(who.requires, frozenset), who
        names = required_names(who)
        assert names <= analyses, f"{pass_label(who)} requires unregistered {sorted(names - analyses)}"
        assert getattr(who, "name", None) not in names, f"{pass_label(who)} requires itself"
    # Rule.at positions every finding: each rule must declare what it needs for that.
    assert all("source-positions" in required_names(rule) for rule in _rules())


def test_duplicate_name_is_refused():
    class Another(Analysis):
        name = "cfg"

    with pytest.raises(PassError, match="'cfg'"):
        register(Another)


def test_results_are_cached_per_function():
    obj = read_object(TESTDATA / "may_goto_long.bpf.o")
    am = AnalysisManager(obj, debug=True)
    a, b = obj.functions
    assert am.get(CFG, a) is am.get(CFG, a)
    assert am.get(CFG, a) is not am.get(CFG, b)
    am.get(Loops, a)  # needs CFG (cached) and Dataflow
    assert am.counts["cfg"] == 2 and am.counts["dataflow"] == 1 and am.counts["loops"] == 1
    assert am.get(CallGraph) is am.get(CallGraph, obj)
    assert set(am.timings) >= {"cfg", "dataflow", "loops", "callgraph"}


class RetargetR0(Transform):
    """Changes `r0 = 0x5100` into `r0 = 7`: blocks and edges stay, the CFG is preserved."""

    name = "test-retarget-r0"
    preserves = frozenset({CFG})
    requires = frozenset({"cfg"})

    def run(self, am, func):
        am.get(CFG, func)
        insn = func.insns[-2]
        insn.imm = 7
        return True


class BreakLoopClaimingCFG(Transform):
    """Turns the back edge into a fall-through but claims the CFG survives: a lie."""

    name = "test-break-loop"
    preserves = frozenset({CFG})

    def run(self, am, func):
        insns = func.insns
        k = next(k for k, i in enumerate(insns) if i.is_cond_jump)
        insns[k].target = insns[k + 1]  # jump to the next instruction: the back edge is gone
        return True


class SilentChange(Transform):
    """Changes the function but reports no change, so nothing is invalidated."""

    name = "test-silent"

    def run(self, am, func):
        next(i for i in func.insns if i.is_cond_jump).off = 0
        return False


def _plain():
    obj = read_object(TESTDATA / "plain_loop.bpf.o")
    return obj, obj.function("plain_loop")


def test_invalidation_keeps_only_preserved():
    obj, func = _plain()
    am = AnalysisManager(obj, debug=True)
    cfg, flow = am.get(CFG, func), am.get(Dataflow, func)
    printed = []
    pm = PassManager(am, print_after={"test-retarget-r0"}, printer=lambda name, f: printed.append((name, f.name)))
    assert pm.run(RetargetR0(), [func])
    assert am.cached(CFG, func) is cfg
    assert am.cached(Dataflow, func) is None
    assert am.get(Dataflow, func) is not flow
    assert printed == [("test-retarget-r0", "plain_loop")]
    assert "test-retarget-r0" in am.timings


def test_false_preservation_claim_is_caught():
    obj, func = _plain()
    am = AnalysisManager(obj, debug=True)
    am.get(CFG, func)
    with pytest.raises(PassError, match="cfg of function 'plain_loop' was declared preserved but changed"):
        PassManager(am).run(BreakLoopClaimingCFG(), [func])


def test_unreported_change_is_caught_on_next_use():
    obj, func = _plain()
    am = AnalysisManager(obj, debug=True)
    am.get(Loops, func)
    PassManager(am).run(SilentChange(), [func])
    with pytest.raises(PassError, match="changed but cached analyses"):
        am.get(CFG, func)


def test_object_analyses_are_dropped_when_a_function_changes():
    obj, func = _plain()
    am = AnalysisManager(obj)
    graph = am.get(CallGraph)
    am.invalidate(func)
    assert am.cached(CallGraph) is None and am.get(CallGraph) is not graph


# ----- the call graph -------------------------------------------------------------------------


@pytest.mark.parametrize("obj,prog,callback,via", [
    ("loop.bpf.o", "loop_prog", "mix_step", "bpf_loop"),
    ("for_each_long.bpf.o", "for_each_long", "visit_elem", "bpf_for_each_map_elem"),
    ("callback_const_ret.bpf.o", "callback_const_ret", "add_index", "bpf_loop"),
])
def test_callback_edges(obj, prog, callback, via):
    model = read_object(TESTDATA / obj)
    graph = AnalysisManager(model).get(CallGraph)
    (edge,) = graph.callback_edges()
    assert (edge.caller.name, edge.callee.name, edge.kind, edge.via) == (prog, callback, "callback", via)
    assert model.function(prog).insns[edge.index].is_ld_imm64
    assert model.function(prog).insns[edge.via_index].is_helper_call
    assert [f.name for f in graph.reachable(model.function(prog))] == [prog, callback]


def test_reachable_through_calls_and_callbacks():
    # subprogs_main calls sum_indices and count_slots, which hand add_index and count_slot to
    # bpf_loop and bpf_for_each_map_elem (testdata/src/subprogs.bpf.c).
    model = read_object(TESTDATA / "subprogs.bpf.o")
    graph = AnalysisManager(model).get(CallGraph)
    main = model.function("subprogs_main")
    names = [f.name for f in graph.reachable(main)]
    assert names[0] == "subprogs_main"
    assert set(names) == {"subprogs_main", "clamp_len", "mix", "sum_indices", "count_slots",
                          "add_index", "count_slot"}
    kinds = {(e.caller.name, e.callee.name): (e.kind, e.via) for e in graph.edges}
    assert kinds[("subprogs_main", "mix")] == ("call", None)
    assert kinds[("sum_indices", "add_index")] == ("callback", "bpf_loop")
    assert kinds[("count_slots", "count_slot")] == ("callback", "bpf_for_each_map_elem")


# ----- declared requirements, enforced in debug mode -------------------------------------------


class AsksUndeclared(Transform):
    """Asks for the CFG but declares nothing."""

    name = "test-asks-undeclared"

    def run(self, am, func):
        am.get(CFG, func)
        return False


class StackNeedsLoopsOnly(Analysis):
    """Declares loops but also asks for dataflow itself (loops' own needs are loops' business)."""

    name = "test-stack-needs"
    requires = frozenset({Loops})  # a class is accepted as well as a name

    @classmethod
    def run(cls, am, unit):
        am.get(Loops, unit)
        return am.get(Dataflow, unit)


def test_undeclared_get_in_a_transform_is_refused_in_debug_mode():
    obj, func = _plain()
    with pytest.raises(PassError, match="test-asks-undeclared asked for analysis 'cfg' without declaring it"):
        PassManager(AnalysisManager(obj, debug=True)).run(AsksUndeclared(), [func])
    PassManager(AnalysisManager(obj, debug=False)).run(AsksUndeclared(), [func])  # not checked


def test_undeclared_get_in_an_analysis_is_refused_even_when_cached():
    obj, func = _plain()
    am = AnalysisManager(obj, debug=True)
    am.get(Dataflow, func)  # from outside any pass: allowed, and now cached
    with pytest.raises(PassError, match="test-stack-needs asked for analysis 'dataflow'"):
        am.get(StackNeedsLoopsOnly, func)
    assert am.cached(Loops, func) is not None  # loops itself declared cfg and dataflow


def test_undeclared_get_in_a_rule_is_refused():
    from bpfrewrite.passes.rule import Rule

    class NeedsLoops(Rule):
        slug = "test-needs-loops"
        requires = frozenset({"cfg"})

        def check(self, obj, am):
            return [am.get(Loops, f) for f in obj.functions]

    obj, _ = _plain()
    am = AnalysisManager(obj, debug=True)
    with pytest.raises(PassError, match="test-needs-loops asked for analysis 'loops'"):
        with am.running(NeedsLoops()):
            NeedsLoops().check(obj, am)
    assert am._running == []  # the stack unwinds on errors


def _objects_with_programs():
    paths = sorted(p for p in TESTDATA.rglob("*.o") if p.parent.name != "repro")  # repro/: corrupt on purpose
    return [p for p in paths if read_object(p).programs]


def test_rules_and_fastpath_transforms_declare_what_they_use_over_all_testdata(monkeypatch):
    from bpfrewrite.lint.registry import make_rule
    from bpfrewrite.lint.runner import lint_object
    from bpfrewrite.passes.transforms.fastpath import make_twins

    paths = _objects_with_programs()
    assert len(paths) > 20
    asked: dict[str, set[str]] = {}
    for path in paths:
        obj = read_object(path)
        am = AnalysisManager(obj, debug=True)
        for rule_cls in _rules():
            rule = make_rule(rule_cls.slug)
            with am.running(rule):
                rule.check(obj, am)
        make_twins(obj, am)
        for who, names in am.asked.items():
            asked.setdefault(who, set()).update(names)
        # The runner's own loop marks each rule as running.
        monkeypatch.setenv("BPFREWRITE_DEBUG_PASSES", "1")
        lint_object(read_object(path))
        monkeypatch.delenv("BPFREWRITE_DEBUG_PASSES")
    # Every declaration is used somewhere: none is stale.
    everyone = [*registry().values(), *_rules()]
    for who in everyone:
        label = pass_label(who)
        if label in asked:
            assert asked[label] == required_names(who), label
    assert {pass_label(r) for r in _rules()} <= set(asked)
