"""Reaching definitions and value tracking on clang's patterns (listings read with llvm-objdump-19)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import require_tool

from bpfrewrite.elf.reader import read_object
from bpfrewrite.passes.analysis import dataflow
from bpfrewrite.passes.analysis.cfg import build_cfg
from bpfrewrite.passes.analysis.dataflow import ENTRY, Dataflow
from bpfrewrite.passes.manager import AnalysisManager

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"


def load(name: str, func: str):
    obj = read_object(TESTDATA / name)
    f = obj.function(func)
    am = AnalysisManager(obj, debug=True)
    return f, am.get(Dataflow, f), f.slots()


def at(slots: list[int], slot: int) -> int:
    """List index of the instruction at section slot `slot`."""
    return slots.index(slot)


@pytest.mark.parametrize("obj,func", [
    ("res_spin_lock_checked.bpf.o", "res_spin_lock_checked"),  # r1 = r0; r1 <<= 32; r1 >>= 32; if r1 != 0
    ("res_spin_lock_zext.bpf.o", "res_spin_lock_zext"),
    ("res_spin_lock_alu32.bpf.o", "res_spin_lock_alu32"),  # w1 = w0; if w1 != 0 (JMP32)
])
def test_lock_result_tested(obj, func):
    f, flow, slots = load(obj, func)
    lock = at(slots, 11)  # `call -0x1` to bpf_res_spin_lock in each listing
    assert f.insns[lock].ref.name == "bpf_res_spin_lock"
    assert flow.result_tested(lock)
    assert flow.first_untested_use(lock) is None
    unlock = next(i for i, x in enumerate(f.insns) if x.ref is not None and x.ref.name == "bpf_res_spin_unlock")
    assert flow.result_tested(lock, before_index=unlock)


def test_lock_result_spilled_then_tested():
    # 13-14 sign-extend r0, 15 spills it to fp-8, 16 overwrites r0, 19 fills r3, 20 tests r3.
    f, flow, slots = load("res_spin_lock_spill.bpf.o", "res_spin_lock_spill")
    lock = at(slots, 12)
    assert flow.result_tested(lock)
    assert flow.reaching(at(slots, 19), flow.stack_location(-8, 8)) == [at(slots, 15)]
    # Without following the spill, r3 at the test comes from the fill, not from the call.
    assert flow.reaching(at(slots, 20), 3) == [at(slots, 19)]


def test_lock_result_unchecked():
    # The result in r0 is never read; the unlock call at slot 16 clobbers it.
    f, flow, slots = load("res_spin_lock_bad_unchecked.bpf.o", "res_spin_lock_unchecked")
    lock = at(slots, 11)
    assert not flow.result_tested(lock)
    assert flow.first_untested_use(lock) == at(slots, 16)
    assert not flow.result_tested(lock, before_index=at(slots, 16))
    # The map lookup's result (slot 6) is tested by `if r6 == 0x0` at slot 9 after `r6 = r0`.
    assert flow.result_tested(at(slots, 6))


def test_exit_r0_defs_and_uses():
    # add_index: `r0 = 0x0` (slot 7) is the only r0 reaching the exit at slot 8.
    f, flow, slots = load("callback_const_ret.bpf.o", "add_index")
    assert flow.exit_r0_defs() == {at(slots, 8): {at(slots, 7)}}
    assert flow.uses_of(at(slots, 7), 0) == [at(slots, 8)]
    # add_until_limit: r0 = 1 (slot 7) reaches the exit through the taken branch, r0 = 0 (slot 9) otherwise.
    f, flow, slots = load("callback_computed_ret.bpf.o", "add_until_limit")
    assert flow.exit_r0_defs() == {at(slots, 11): {at(slots, 7), at(slots, 9)}}
    assert flow.uses_of(at(slots, 7), 0) == [at(slots, 11)]
    # r1's entry value is read by `r1 *= 0x3`; the reload at slot 6 is read by the compare at slot 8.
    assert flow.uses_of(ENTRY, 1) == [at(slots, 0)]
    assert flow.uses_of(at(slots, 6), 1) == [at(slots, 8)]


def test_exit_r0_undefined_path_is_entry():
    # plain_loop's exit sees only `r0 = 0x5100`; a function returning r0 unset would show ENTRY.
    f, flow, slots = load("plain_loop.bpf.o", "plain_loop")
    assert flow.exit_r0_defs() == {at(slots, 18): {at(slots, 17)}}
    assert f.insns[at(slots, 17)].code == 0xB7
    f.insns[at(slots, 17)].dst = 2  # now `r2 = 0x5100`: nothing defines r0
    fresh = dataflow.ReachingDefinitions(f, build_cfg(f))
    assert fresh.exit_r0_defs() == {at(slots, 18): {ENTRY}}


def test_loop_reaching_definitions():
    # In plain_loop's body, r1 (the counter) comes from `r1 = -0x1` (slot 0) or `r1 += 0x1` (slot 9).
    f, flow, slots = load("plain_loop.bpf.o", "plain_loop")
    assert flow.reaching(at(slots, 9), 1) == [at(slots, 0), at(slots, 9)]
    assert flow.reaching(at(slots, 13), 1) == [at(slots, 9)]


SNIPPETS = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
extern int lock_thing(void *p) __ksym;
extern void unlock_thing(void *p) __ksym;
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } m SEC(".maps");

SEC("tc") int partial(struct __sk_buff *skb) {
	int err = lock_thing(skb);
	if (skb->len > 10) {
		if (err)
			return 1;
	}
	unlock_thing(skb);
	return 0;
}
SEC("tc") int deref_first(struct __sk_buff *skb) {
	__u32 k = 0;
	__u64 *v = bpf_map_lookup_elem(&m, &k);
	return *v;
}
SEC("tc") int returned(struct __sk_buff *skb) {
	return lock_thing(skb);
}
SEC("tc") int spill_across_call(struct __sk_buff *skb) {
	volatile long err = lock_thing(skb);
	skb->mark = bpf_get_prandom_u32();
	if (err)
		return 1;
	unlock_thing(skb);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture(scope="module")
def snippets(tmp_path_factory):
    require_tool("clang-19")
    d = tmp_path_factory.mktemp("df")
    (d / "df.bpf.c").write_text(SNIPPETS)
    subprocess.run(["clang-19", "-target", "bpf", "-O2", "-g", "-I/usr/include/x86_64-linux-gnu",
                    "-c", "df.bpf.c", "-o", "df.bpf.o"], cwd=d, check=True, capture_output=True)
    obj = read_object(d / "df.bpf.o")
    return obj, AnalysisManager(obj, debug=True)


def calls(func, name=None):
    return [i for i, x in enumerate(func.insns)
            if x.is_call and (name is None or (x.ref is not None and x.ref.name == name))]


def test_tested_on_one_branch_only(snippets):
    # `if (err)` runs only when skb->len > 10: the other path reaches unlock_thing untested.
    obj, am = snippets
    f = obj.function("partial")
    flow = am.get(Dataflow, f)
    (lock,) = calls(f, "lock_thing")
    (unlock,) = calls(f, "unlock_thing")
    assert not flow.result_tested(lock, before_index=unlock)
    assert flow.first_untested_use(lock) == unlock  # the value dies there, untested


def test_dereferenced_before_test(snippets):
    obj, am = snippets
    f = obj.function("deref_first")
    flow = am.get(Dataflow, f)
    (lookup,) = calls(f)
    use = flow.first_untested_use(lookup)
    assert use is not None and f.insns[use].is_load and f.insns[use].src == 0


def test_returned_untested(snippets):
    obj, am = snippets
    f = obj.function("returned")
    (lock,) = calls(f)
    assert am.get(Dataflow, f).first_untested_use(lock) == lock + 1 and f.insns[lock + 1].is_exit


def test_spill_survives_unrelated_call(snippets):
    # The spill slot's address never escapes, so bpf_get_prandom_u32 cannot have overwritten it.
    obj, am = snippets
    f = obj.function("spill_across_call")
    (lock,) = calls(f, "lock_thing")
    assert am.get(Dataflow, f).result_tested(lock)


def test_callback_consumer_found_through_dataflow():
    # loop_prog: `r2 = mix_step ll` (slot 12) is received by `call 0xb5` (bpf_loop) at slot 15.
    f, flow, slots = load("loop.bpf.o", "loop_prog")
    assert flow.value_consumers(at(slots, 12), 2) == [at(slots, 15)]


def test_not_a_call_is_rejected():
    f, flow, slots = load("plain_loop.bpf.o", "plain_loop")
    with pytest.raises(ValueError):
        flow.result_tested(0)
