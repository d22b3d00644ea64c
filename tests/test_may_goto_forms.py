"""may_goto loops without a constant in a register (issue 15): which form each site gets, and the kernel's verdict."""
from __future__ import annotations

from pathlib import Path

import pytest

from bpfrewrite.elf.reader import read_object
from bpfrewrite.patching import patch_object
from bpfrewrite.passes.analysis.fastpath_plan import FastPathPlan
from bpfrewrite.passes.analysis.liveness import Liveness
from bpfrewrite.passes.analysis.cfg import CFG
from bpfrewrite.passes.analysis.dataflow import Dataflow
from bpfrewrite.passes.manager import AnalysisManager
from bpfrewrite.lint.registry import RULES
from bpfrewrite.twins import TWIN_SUFFIX

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"

# function -> the form of each may_goto, in code order (read off the disassembly by hand).
FORMS = {
    "may_goto_volatile.bpf.o": {"may_goto_volatile": ["back-edge"]},
    # Inner may_goto leaves both loops; the outer one (at the outer head) leaves the outer loop.
    "may_goto_nested.bpf.o": {"may_goto_nested": ["back-edge", "back-edge"],
                              # clang rotates the outer loop: the code after its may_goto is also
                              # reached from the entry, so a plain goto is enough there.
                              "may_goto_nested_inner": ["goto", "back-edge"]},
    "may_goto_latches.bpf.o": {"may_goto_latches": ["back-edge"]},
    "may_goto_subprog.bpf.o": {"spin": ["back-edge"]},
    "may_goto_callback.bpf.o": {"spin": ["back-edge"]},
    # r0 is the stubbed next's 0 on every path to the may_goto: the compare form applies and is kept.
    "may_goto_iter.bpf.o": {"may_goto_iter": ["compare"]},
    "may_goto_long.bpf.o": {"may_goto_long": ["compare"], "may_goto_budget": ["compare"]},
    # The back edge brings x and y stored again after the may_goto, as 8-byte spills (0x7b) of
    # 8-byte fills (0x79): plain numbers, so the back edge may go to the exit.
    "may_goto_spills.bpf.o": {"may_goto_spills": ["back-edge"]},
}


@pytest.mark.parametrize("name", sorted(FORMS))
def test_each_may_goto_gets_the_expected_form_and_lint_agrees(name: str, tmp_path: Path) -> None:
    obj = read_object(TESTDATA / name)
    am = AnalysisManager(obj)
    got = {f.name: [s.form for s in am.get(FastPathPlan, f).may_gotos] for f in obj.functions
           if f.name in FORMS[name]}
    assert got == FORMS[name]
    loops = [d for d in RULES["loop-without-exit"]().check(obj, am)]
    assert loops == []  # the twin leaves every loop, so lint reports none
    result = patch_object(TESTDATA / name, tmp_path / "p.o")
    assert result.problems == []


def test_back_edges_are_retargeted_to_the_may_goto_exit(tmp_path: Path) -> None:
    """The issue's loop: slot 7 `goto -0x6` (back to the head) becomes `goto +0x0` (slot 8, the exit)."""
    out = tmp_path / "v.o"
    result = patch_object(TESTDATA / "may_goto_volatile.bpf.o", out)
    sites = {(s.slot, s.action) for s in result.sites}
    assert sites == {(6, "back-edge"), (7, "back-edge")}
    patched = read_object(out)
    orig, twin = patched.function("may_goto_volatile"), patched.function("may_goto_volatile" + TWIN_SUFFIX)
    assert orig.insns[7].text() == "goto -0x6" and twin.insns[7].text() == "goto +0x0"
    assert twin.insns[6].is_may_goto  # the may_goto itself stays
    changed = [i for i, (a, b) in enumerate(zip(orig.insns, twin.insns)) if a.encode() != b.encode()]
    assert changed == [7]
    # Several back edges: both the conditional `continue` and the loop's end jump to the exit.
    result = patch_object(TESTDATA / "may_goto_latches.bpf.o", tmp_path / "l.o")
    twin = read_object(tmp_path / "l.o").function("may_goto_latches" + TWIN_SUFFIX)
    slots = twin.slots()
    exit_slot = 19
    for s in result.sites:
        if s.original.startswith(("goto", "if")):
            i = slots.index(slots[0] + s.slot)
            assert slots[i] + 1 + twin.insns[i].branch_offset - slots[0] == exit_slot, s


def test_liveness_at_the_exit_of_the_issue_loop() -> None:
    obj = read_object(TESTDATA / "may_goto_volatile.bpf.o")
    func = obj.function("may_goto_volatile")
    am = AnalysisManager(obj)
    cfg, rd = am.get(CFG, func), am.get(Dataflow, func)
    live = am.get(Liveness, func)
    # Slot 8 reads x back from fp-8 through r10; r1 is written before it is read, r0 too.
    assert {rd.locs.name(loc) for loc in live.live_at_block(cfg.block_of[8])} == {"r10", "fp-8/8"}
    # At the loop head r1 (the context) is dead: it was consumed at slot 0.
    assert "r1" not in {rd.locs.name(loc) for loc in live.live_at_block(cfg.block_of[2])}
    assert {rd.locs.name(loc) for loc in live.live_at_block(cfg.block_of[0])} == {"r1", "r10"}


def test_a_fall_through_back_edge_is_refused(tmp_path: Path) -> None:
    """The lint fixture: the end of the body falls through into the loop head (slot 18); no form applies."""
    obj = read_object(TESTDATA / "lint" / "may_goto_undecided.bpf.o")
    (site,) = AnalysisManager(obj).get(FastPathPlan, obj.function("may_goto_undecided")).may_gotos
    assert site.unhandled and [why for _, why in site.refusals] == [
        "the back edge from slot 17 to the loop head at slot 18 is a fall-through, which no same-width jump "
        "can redirect"]
    result = patch_object(TESTDATA / "lint" / "may_goto_undecided.bpf.o", tmp_path / "u.o")
    assert [p.message.split(":")[0] for p in result.problems] == ["may_goto kept for an outer loop"]


_HEADER = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"

# x is read after the loop and stored again after the may_goto: the back edge brings a value the
# may_goto never saw, but a plain number on both paths (mul, add on a stack slot), so it is taken.
NUMBERS = _HEADER + """
SEC("tc")
int numbers(struct __sk_buff *skb)
{
	volatile __u64 x = skb->len;

	for (;;) {
		x = x * 3 + 1;
		asm volatile goto("may_goto %l[out]" :::: out);
		x = x + 5;
	}
out:
	return x & 0xff;
}
"""

# `last`, read after the loop, is loaded from a map after the may_goto (and used by the next
# iteration): a load through a pointer other than
# r10 may give a pointer (a kptr field), so the back edge is refused and the site reported.
LOADED = _HEADER + """
__u64 vals[4];
__u64 total;

SEC("tc")
int loaded(struct __sk_buff *skb)
{
	__u32 i = skb->len;
	__u64 last = 0;

	for (;;) {
		last = last * 3 + vals[i & 3];
		asm volatile goto("may_goto %l[out]" :::: out);
		last = vals[(i + 1) & 3];
		i++;
	}
out:
	total = last;
	return 0;
}
"""


def test_plain_numbers_on_both_paths_are_accepted_and_load(tmp_path: Path, compile_bpf, kernel) -> None:
    from bpfrewrite.kernel.runner import verify_object

    obj = compile_bpf(tmp_path, NUMBERS, "numbers")
    result = patch_object(obj, tmp_path / "n.o")
    assert result.problems == [] and {s.action for s in result.sites} == {"back-edge"}
    results = {r.name: r for r in verify_object(tmp_path / "n.o", run=True, repeat=5)}
    assert results["numbers__fast"].accepted, results["numbers__fast"].message
    assert results["numbers__fast"].retval == (64 * 3 + 1) & 0xFF  # one iteration, left at the back edge
    assert results["numbers"].duration_ns >= 1000 * results["numbers__fast"].duration_ns


def test_a_value_that_may_be_a_pointer_is_refused(tmp_path: Path, compile_bpf) -> None:
    obj = compile_bpf(tmp_path, LOADED, "loaded")
    model = read_object(obj)
    (site,) = AnalysisManager(model).get(FastPathPlan, model.function("loaded")).may_gotos
    assert site.form == "keep" and site.unhandled
    assert "holds a value the may_goto never sees at the back edge" in site.why
    assert "not a plain number on both paths" in site.why
    result = patch_object(obj, tmp_path / "l.o")
    assert [p.message.split(":")[0] for p in result.problems] == ["may_goto kept"]


def test_issue_loop_twin_exits_in_under_a_microsecond(tmp_path: Path, kernel) -> None:
    """Issue 15's done-when: loads, the original runs the whole budget, the twin returns in under 1 us."""
    from bpfrewrite.kernel.runner import verify_object

    out = tmp_path / "v.o"
    patch_object(TESTDATA / "may_goto_volatile.bpf.o", out)
    results = {r.name: r for r in verify_object(out, run=True, repeat=20)}
    orig, twin = results["may_goto_volatile"], results["may_goto_volatile" + TWIN_SUFFIX]
    assert orig.accepted and twin.accepted
    assert orig.retval in (13, 14)  # the parity of x after however many iterations the budget allowed
    assert twin.retval == 13  # one iteration: x = 64 * 3 + 1 = 193, odd
    assert orig.duration_ns > 100_000_000  # the kernel's may_goto budget (about 250 ms here)
    assert twin.duration_ns < 1000, twin.duration_ns


def test_eight_byte_spills_and_fills_count_as_numbers_and_the_twin_loads(tmp_path: Path, kernel) -> None:
    """The back-edge check reads a stack slot through 8-byte spills and fills (opcodes 0x7b, 0x79)."""
    from bpfrewrite.kernel.runner import verify_object

    obj = read_object(TESTDATA / "may_goto_spills.bpf.o")
    (site,) = AnalysisManager(obj).get(FastPathPlan, obj.function("may_goto_spills")).may_gotos
    assert (site.form, site.back_edges, site.refusals) == ("back-edge", (16,), ())
    out = tmp_path / "s.o"
    result = patch_object(TESTDATA / "may_goto_spills.bpf.o", out)
    assert result.problems == [] and {(s.slot, s.action) for s in result.sites} == {(8, "back-edge"), (16, "back-edge")}
    results = {r.name: r for r in verify_object(out, run=True, repeat=5)}
    twin = results["may_goto_spills" + TWIN_SUFFIX]
    assert twin.accepted and results["may_goto_spills"].accepted, twin.message
    assert twin.retval == 197  # one iteration: x = 193, y = 195, x ^= y is 2, (2 + 195) & 0xff
    assert results["may_goto_spills"].duration_ns >= 1000 * twin.duration_ns
