"""Loops: back edges, nesting, contents and iteration bounds, on testdata and compiled C."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import require_tool
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfrewrite.elf.reader import read_object
from bpfrewrite.passes.analysis.loops import Loops, jump_taken, trip_count
from bpfrewrite.passes.manager import AnalysisManager

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"

LOOPS_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
__u64 sink;
__u32 limit_from_memory = 7;
#define BODY(v) acc = acc * 7 + (acc >> 3) + (v)
SEC("tc") int count100(void *ctx) {
	__u64 acc = sink;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 100; i++) BODY(i);
	sink = acc; return 0;
}
SEC("tc") int step3(void *ctx) {
	__u64 acc = sink;
#pragma clang loop unroll(disable)
	for (int i = 10; i < 100; i += 3) BODY(i);
	sink = acc; return 0;
}
SEC("tc") int down50(void *ctx) {
	__u64 acc = sink;
#pragma clang loop unroll(disable)
	for (int i = 50; i > 0; i--) BODY(i);
	sink = acc; return 0;
}
SEC("tc") int nested(void *ctx) {
	__u64 acc = sink;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 10; i++) {
#pragma clang loop unroll(disable)
		for (int j = 0; j < 20; j++) BODY(j);
		acc ^= i;
	}
	sink = acc; return 0;
}
SEC("tc") int unknown(void *ctx) {
	__u64 acc = sink;
	__u32 n = limit_from_memory;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < n; i++) BODY(i);
	sink = acc; return 0;
}
SEC("tc") int helper_in_loop(void *ctx) {
	__u64 acc = 0;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 16; i++) acc += bpf_get_prandom_u32();
	sink = acc; return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def compile_c(tmp_path: Path, source: str, *flags: str) -> Path:
    require_tool("clang-19")
    src = tmp_path / "snippet.bpf.c"
    src.write_text(source)
    out = tmp_path / "snippet.bpf.o"
    subprocess.run(["clang-19", "-target", "bpf", "-O2", "-g", *flags, "-I/usr/include/x86_64-linux-gnu",
                    "-c", str(src), "-o", str(out)], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module", params=["-mcpu=v1", "-mcpu=v3"])
def loops_obj(request, tmp_path_factory):
    return read_object(compile_c(tmp_path_factory.mktemp("loops"), LOOPS_C, request.param)), request.param


def loops_of(obj, name):
    am = AnalysisManager(obj, debug=True)
    return am.get(Loops, obj.function(name))


def test_plain_loop_testdata():
    # for (i = 0; i < 100; i++) with unrolling disabled: one loop whose header is slot 4
    # (objdump: `if r1 != 0x63 goto -0x9` at slot 12 jumps back to slot 4); the C runs it 100 times.
    obj = read_object(TESTDATA / "plain_loop.bpf.o")
    info = loops_of(obj, "plain_loop")
    assert len(info.loops) == 1
    loop = info.loops[0]
    func = obj.function("plain_loop")
    from bpfrewrite.passes.analysis.cfg import build_cfg
    cfg = build_cfg(func)
    assert cfg.slots[cfg.blocks[loop.header].start] == 4
    assert loop.bound == 100
    assert loop.counter["reg"] == 1 and loop.counter["init"] == -1 and loop.counter["step"] == 1
    assert not (loop.has_may_goto or loop.has_helper_call or loop.has_iter_next)
    assert info.back_edges == [(loop.header, loop.header)]


@pytest.mark.parametrize("name,bound", [("count100", 100), ("step3", 30), ("down50", 50)])
def test_counted_loop_bounds(loops_obj, name, bound):
    # step3: i = 10, 13, ..., 97 is 30 values; down50: i = 50..1 is 50 values.
    obj, _ = loops_obj
    info = loops_of(obj, name)
    assert [lp.bound for lp in info.loops] == [bound]


def test_nested_loops(loops_obj):
    obj, _ = loops_obj
    info = loops_of(obj, "nested")
    assert len(info.loops) == 2
    outer, inner = sorted(info.loops, key=lambda lp: lp.depth)
    assert (outer.depth, inner.depth) == (1, 2)
    assert inner.parent is outer and outer.children == [inner]
    assert inner.blocks < outer.blocks
    assert (outer.bound, inner.bound) == (10, 20)
    assert info.loop_of(inner.header) is inner


def test_unknown_bound(loops_obj):
    obj, _ = loops_obj
    info = loops_of(obj, "unknown")
    assert len(info.loops) == 1 and info.loops[0].bound is None


def test_helper_call_in_loop(loops_obj):
    obj, cpu = loops_obj
    info = loops_of(obj, "helper_in_loop")
    (loop,) = info.loops
    func = obj.function("helper_in_loop")
    assert loop.has_helper_call
    assert [func.insns[i].imm for i in loop.helper_calls] == [7]  # bpf_get_prandom_u32
    if cpu == "-mcpu=v3":  # `w7 = 0x10 ... w7 += -0x1; if w7 == 0x0`: ALU32 counter, JMP32 test
        assert loop.bound == 16


def test_may_goto_and_iterator_loops():
    obj = read_object(TESTDATA / "may_goto_long.bpf.o")
    for name in ("may_goto_long", "may_goto_budget"):
        (loop,) = loops_of(obj, name).loops
        assert loop.has_may_goto and loop.bound is None  # bound read from .data
    obj = read_object(TESTDATA / "iter_num_long.bpf.o")
    (loop,) = loops_of(obj, "iter_num_long").loops
    func = obj.function("iter_num_long")
    assert loop.has_iter_next and not loop.has_may_goto
    assert [func.insns[i].ref.name for i in loop.iter_next_calls] == ["bpf_iter_num_next"]


# ----- counters read through copies: clang's -mcpu=v1 zero/sign-extended compares ----------------

# A helper call in the body keeps the counter in a callee-saved register; at -mcpu=v1 clang then
# compares a zero-extended copy (`r1 = r7; r1 <<= 32; r1 >>= 32; if r1 == 0x64`) or sign-extends
# the counter in place (`r7 <<= 32; r7 s>>= 32`). (name, C type, start, compare, limit, step)
COPIED = [
    ("up100", "int", 0, "<", 100, 1),
    ("u32up100", "__u32", 0, "<", 100, 1),
    ("step3", "int", 0, "<", 100, 3),
    ("down50", "int", 50, ">", 0, -1),
    ("neg_start", "int", -20, "<", 17, 5),
    ("neg_end", "int", 100, ">=", -30, -4),
    ("u32_le", "__u32", 7, "<=", 300, 7),
    ("u32_ne", "__u32", 1000, "!=", 0, -8),
    ("uchar", "unsigned char", 3, "<", 200, 9),
    ("short16", "short", -5, "<", 40, 2),  # 16-bit extensions are not followed: None is allowed
]
_WIDTH = {"int": (32, True), "__u32": (32, False), "unsigned char": (8, False), "short": (16, True)}


def c_iterations(ctype: str, start: int, cmp: str, limit: int, step: int) -> int:
    """How many times the C loop body runs (C semantics: the counter wraps at its type's width)."""
    bits, signed = _WIDTH[ctype]
    holds = {"<": int.__lt__, "<=": int.__le__, ">": int.__gt__, ">=": int.__ge__, "!=": int.__ne__}[cmp]
    i, n = start, 0
    while holds(i, limit):
        n += 1
        i = _as(i + step, bits, signed)
        assert n < 1 << 20
    return n


def copied_source() -> str:
    out = ["#include <linux/bpf.h>", "#include <bpf/bpf_helpers.h>", "__u64 sink;",
           "#define CALL_BODY(v) acc += bpf_get_prandom_u32() ^ (v)"]
    for name, ctype, start, cmp, limit, step in COPIED:
        update = f"i += {step}" if step > 0 else f"i -= {-step}"
        out.append(f'SEC("tc") int {name}(void *ctx) {{\n\t__u64 acc = sink;\n#pragma clang loop unroll(disable)\n'
                   f"\tfor ({ctype} i = {start}; i {cmp} {limit}; {update}) CALL_BODY(i);\n"
                   "\tsink = acc; return 0;\n}")
    out.append(r"""SEC("tc") int call_nested(void *ctx) {
	__u64 acc = sink;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 10; i++) {
#pragma clang loop unroll(disable)
		for (int j = 0; j < 20; j++) CALL_BODY(j);
		acc ^= i;
	}
	sink = acc; return 0;
}""")
    out.append('char LICENSE[] SEC("license") = "GPL";')
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module", params=["-mcpu=v1", "-mcpu=v3", "-mcpu=v4"])
def copied_obj(request, tmp_path_factory):
    return read_object(compile_c(tmp_path_factory.mktemp("copied"), copied_source(), request.param)), request.param


def test_c_iterations_oracle():
    # by hand: 0..99; 0, 3, ..., 99; 50..1; -20, -15, ..., 15; 1000, 992, ..., 8
    assert [c_iterations("int", 0, "<", 100, 1), c_iterations("int", 0, "<", 100, 3),
            c_iterations("int", 50, ">", 0, -1), c_iterations("int", -20, "<", 17, 5),
            c_iterations("__u32", 1000, "!=", 0, -8)] == [100, 34, 50, 8, 125]


@pytest.mark.parametrize("spec", COPIED, ids=lambda s: s[0])
def test_bounds_through_extended_copies(copied_obj, spec):
    obj, cpu = copied_obj
    name, *loop = spec
    (lp,) = loops_of(obj, name).loops
    expected = c_iterations(*loop)
    if name == "short16":
        assert lp.bound in (None, expected)
    else:
        assert lp.bound == expected, (cpu, lp.counter)


def test_v1_compares_an_extended_copy(copied_obj):
    """At v1 the bounds above go through a 32-bit extension; v3 and v4 compare the w register itself."""
    obj, cpu = copied_obj
    for name, view in (("up100", "zext32"), ("step3", "zext32"), ("down50", "zext32"), ("neg_start", "sext32")):
        (lp,) = loops_of(obj, name).loops
        compare = obj.function(name).insns[lp.counter["compare"]]
        if cpu != "-mcpu=v1":
            assert lp.counter["view"] == "64" and lp.counter["reg"] in compare.uses()
            continue
        assert lp.counter["view"] == view
        if view == "zext32":  # the compared register is a copy; sext32 here extends the counter in place
            assert lp.counter["reg"] not in compare.uses()


def test_nested_bounds_through_copies(copied_obj):
    obj, _ = copied_obj
    outer, inner = sorted(loops_of(obj, "call_nested").loops, key=lambda lp: lp.depth)
    assert inner.parent is outer
    assert (outer.bound, inner.bound) == (10, 20)


# ----- trip_count against a brute-force run of the instructions' semantics ----------------------

_OPS = [0x10, 0x20, 0x30, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0]


def _as(value: int, bits: int, signed: bool) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if signed and value >> (bits - 1) else value


def simulate(init, step, post, op, k, exit_when, jmp32, alu32, cap):
    signed = op in (0x60, 0x70, 0xC0, 0xD0)
    reg = init & ((1 << 64) - 1)
    mask = (1 << 32) - 1 if alu32 else (1 << 64) - 1
    cmp = {0x10: lambda a, b: a == b, 0x50: lambda a, b: a != b, 0x20: lambda a, b: a > b,
           0x60: lambda a, b: a > b, 0x30: lambda a, b: a >= b, 0x70: lambda a, b: a >= b,
           0xA0: lambda a, b: a < b, 0xC0: lambda a, b: a < b, 0xB0: lambda a, b: a <= b,
           0xD0: lambda a, b: a <= b}[op]
    for n in range(cap):
        if post:
            reg = (reg + step) & mask
        if jmp32:
            a, b = _as(reg, 32, signed), _as(k, 32, signed)
        else:
            a, b = _as(reg, 64, signed), _as(k, 64, signed)
        if cmp(a, b) == exit_when:
            return n + 1
        if not post:
            reg = (reg + step) & mask
    return None


@settings(max_examples=400, deadline=None)
@given(
    init=st.integers(-300, 300) | st.sampled_from([2**31 - 2, 2**32 - 2, -(2**31), 2**63 - 2]),
    step=st.integers(-5, 5).filter(bool),
    post=st.sampled_from([0, 1]),
    op=st.sampled_from(_OPS),
    k=st.integers(-300, 300) | st.sampled_from([2**31 - 1, -(2**31)]),
    exit_when=st.booleans(),
    jmp32=st.booleans(),
    alu32=st.booleans(),
)
def test_trip_count_matches_simulation(init, step, post, op, k, exit_when, jmp32, alu32):
    cap = 2000
    got = trip_count(init, step, post, op, k, exit_when, jmp32=jmp32, alu32=alu32)
    if got is None:
        return  # unknown is always allowed
    assert got >= 1
    sim = simulate(init, step, post, op, k, exit_when, jmp32, alu32, min(cap, got + 1))
    assert sim == got if got <= cap else sim is None


def test_trip_count_examples():
    assert trip_count(-1, 1, 1, 0x50, 99, False) == 100  # clang's rotated i < 100
    assert trip_count(0, 1, 0, 0x30, 100, True) == 101  # top-tested: header runs once more
    assert trip_count(0, 1, 0, 0x10, -1, True, jmp32=True, alu32=True) == 2**32
    # down50 as clang emits it: r1 = 51; loop { r1 += -1; if r1 > 1 goto loop }: r1 = 50..1.
    assert trip_count(51, -1, 1, 0x20, 1, False) == 50
    assert trip_count(0, 1, 1, 0x20, 5, False) == 1  # `if r > 5 goto loop` fails at once
    assert trip_count(0, 1, 0, 0x10, 3, True) == 4  # 0, 1, 2, 3


def test_jump_taken_on_a_value():
    from bpfrewrite.isa.instruction import Instruction

    def jmp(code, imm, src=0):
        return Instruction(code, 0, src, 1, imm)

    assert jump_taken(jmp(0x15, 0), 0) is True  # if r0 == 0
    assert jump_taken(jmp(0x55, 0), 0) is False  # if r0 != 0
    assert jump_taken(jmp(0x25, -1), 0) is False  # if r0 > -1: unsigned, 0 > 2**64 - 1 is false
    assert jump_taken(jmp(0x65, -1), 0) is True  # if r0 s> -1
    assert jump_taken(jmp(0xA6, -1), 0) is True  # if w0 < -1: 0 < 0xffffffff
    assert jump_taken(jmp(0xC5, 0), -110) is True  # if r0 s< 0 with -ETIMEDOUT
    assert jump_taken(jmp(0xA5, 0), 2**64 - 110) is False  # unsigned: not below 0
    assert jump_taken(jmp(0x45, 6), 2) is True and jump_taken(jmp(0x45, 4), 2) is False  # jset
    assert jump_taken(jmp(0x1D, 0, src=1), 0) is None  # register compare: unknown
    assert jump_taken(jmp(0x05, 0), 0) is None  # goto is no conditional jump
