"""CFG shapes on real objects, checked against llvm-objdump-19's listing and by reading the C."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool

from bpfrewrite.elf.reader import read_object
from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.passes.analysis.cfg import EXIT, build_cfg

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"
OBJECTS = sorted(TESTDATA.glob("*.bpf.o"))
_LINE = re.compile(r"^\s*(\d+):\t(.*?)(?:\s+<[^<>]*>)?$")
_JUMP = re.compile(r"^(?:if .* goto|goto|gotol|may_goto) ([+-]0x[0-9a-f]+|[+-]\d+)$")


def objdump_slots(path: Path) -> dict[str, dict[int, str]]:
    """section -> slot -> instruction text, from llvm-objdump-19 (the oracle)."""
    require_tool("llvm-objdump-19")
    text = subprocess.run(["llvm-objdump-19", "-d", "--no-show-raw-insn", str(path)],
                          capture_output=True, text=True, check=True).stdout
    out: dict[str, dict[int, str]] = {}
    section = None
    for line in text.splitlines():
        if line.startswith("Disassembly of section "):
            section = line[len("Disassembly of section "):-1]
            out[section] = {}
        elif section is not None and (m := _LINE.match(line)):
            out[section][int(m.group(1))] = m.group(2).strip()
    return out


def block_starts_from_objdump(listing: dict[int, str], first: int, end: int) -> set[int]:
    """Leaders computed only from objdump's text: entry, jump targets, after jumps and exits."""
    slots = sorted(s for s in listing if first <= s < end)
    nxt = {a: b for a, b in zip(slots, slots[1:] + [end])}
    leaders = {first}
    for s in slots:
        t = listing[s]
        m = _JUMP.match(t)
        if m:
            leaders.add(nxt[s] + int(m.group(1), 0))
        if (m or t == "exit") and nxt[s] < end:
            leaders.add(nxt[s])
    return leaders


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_block_starts_match_objdump(path):
    listing = objdump_slots(path)
    obj = read_object(path)
    for func in obj.functions:
        cfg = build_cfg(func)
        slots = func.slots()
        end = slots[-1] + func.insns[-1].width
        expected = block_starts_from_objdump(listing[func.section.name], slots[0], end)
        assert {slots[b.start] for b in cfg.blocks} == expected, func.name
        # Every block but the last in list order either ends in a branch/exit or falls through.
        for b in cfg.blocks:
            kinds = {k for _, k in cfg.succs(b.id)}
            last = func.insns[b.last]
            if last.is_exit:
                assert cfg.succs(b.id) == [(EXIT, "exit")]
            elif last.is_uncond_jump:
                assert kinds == {"jump"}
            elif last.is_may_goto:
                assert "may_goto" in kinds


def _func(name: str, fname: str):
    obj = read_object(TESTDATA / name)
    return obj, obj.function(fname)


def test_plain_loop_blocks_and_dominators():
    # objdump: 0-3 preheader, 4-12 body ending `if r1 != 0x63 goto -0x9` (back to 4), 13-18 exit.
    _, func = _func("plain_loop.bpf.o", "plain_loop")
    cfg = build_cfg(func)
    slots = cfg.slots
    assert [(slots[b.start], slots[b.last]) for b in cfg.blocks] == [(0, 3), (4, 12), (13, 18)]
    assert cfg.edges() == [(0, 1, "fallthrough"), (1, 1, "taken"), (1, 2, "fallthrough"), (2, EXIT, "exit")]
    assert cfg.idom == {0: 0, 1: 0, 2: 1}
    assert cfg.ipdom[0] == 1 and cfg.ipdom[1] == 2 and cfg.ipdom[2] == EXIT
    assert cfg.dominates(0, 2) and not cfg.dominates(2, 0)
    assert cfg.post_dominates(2, 0) and not cfg.post_dominates(0, 2)


def test_may_goto_edge():
    # may_goto at slot 10 jumps +0xa to LBB0_5 (slot 21); falls through into the loop body at 11.
    _, func = _func("may_goto_long.bpf.o", "may_goto_long")
    cfg = build_cfg(func)
    slots = cfg.slots
    start = {slots[b.start]: b.id for b in cfg.blocks}
    may = start[10]
    assert sorted(cfg.succs(may)) == sorted([(start[11], "fallthrough"), (start[21], "may_goto")])
    # The loop latch (slot 16 `if r2 > r3 goto -0x7`) goes back to the may_goto block.
    latch = cfg.block_of[slots.index(16)]
    assert (start[10], "taken") in cfg.succs(latch)
    # The exit block post-dominates everything; the may_goto block dominates the loop body.
    assert all(cfg.post_dominates(start[21], b.id) for b in cfg.blocks)
    assert cfg.dominates(may, start[11]) and cfg.dominates(may, latch)


def test_second_program_in_section_uses_section_slots():
    _, func = _func("may_goto_long.bpf.o", "may_goto_budget")
    cfg = build_cfg(func)
    assert cfg.slots[0] == 25
    assert cfg.slots[cfg.blocks[-1].start] == 46


def test_calls_do_not_end_blocks():
    # loop_prog: `call 0xb5` (bpf_loop) at slot 15 is inside the block that ends at slot 18.
    _, func = _func("loop.bpf.o", "loop_prog")
    cfg = build_cfg(func)
    slots = cfg.slots
    assert [(slots[b.start], slots[b.last]) for b in cfg.blocks] == [(0, 18), (19, 19), (20, 24)]


def test_jump_into_ld_imm64_is_an_error():
    _, func = _func("plain_loop.bpf.o", "plain_loop")
    jump = func.insns[-6]  # `if r1 != 0x63 goto -0x9` at slot 12
    assert func.slots()[-6] == 12 and jump.is_cond_jump
    jump.off = -11  # slot 13 - 11 = 2: the second half of `r2 = 0x0 ll` at slot 1
    jump.target = None  # as the reader leaves a branch it cannot link
    with pytest.raises(BpfrewriteError, match=r"'plain_loop'.*slot 12.*slot 2.*ld_imm64"):
        build_cfg(func)


def test_jump_outside_function_is_an_error():
    _, func = _func("may_goto_long.bpf.o", "may_goto_long")
    jump = func.insns[func.slots().index(7)]  # `if r2 == 0x0 goto +0xd`
    jump.off = 0x20
    jump.target = None  # as the reader leaves a branch it cannot link
    with pytest.raises(BpfrewriteError, match=r"'may_goto_long'.*slot 7.*outside the function"):
        build_cfg(func)


def test_falling_off_the_end_is_an_error():
    _, func = _func("plain_loop.bpf.o", "plain_loop")
    last = func.insns[-1]
    last.code = 0xB7  # exit -> r0 = 0
    with pytest.raises(BpfrewriteError, match=r"'plain_loop'.*slot 18"):
        build_cfg(func)


def test_reader_leaves_bad_jumps_unlinked_and_cfg_names_them(tmp_path):
    """A jump into an ld_imm64, written into the object's bytes, is an error naming the function."""
    import struct

    from elftools.elf.elffile import ELFFile

    src = TESTDATA / "plain_loop.bpf.o"
    obj = read_object(src)
    func = obj.function("plain_loop")
    slot = func.slots()[-6]
    data = bytearray(src.read_bytes())
    with open(src, "rb") as f:  # the jump's 16-bit offset sits at byte 2 of its slot
        sec_off = ELFFile(f).get_section_by_name(func.section.name)["sh_offset"]
    struct.pack_into("<h", data, sec_off + slot * 8 + 2, -11)
    bad = tmp_path / "bad.o"
    bad.write_bytes(bytes(data))
    broken = read_object(bad).function("plain_loop")
    assert broken.insns[-6].target is None
    with pytest.raises(BpfrewriteError, match=r"'plain_loop'.*slot 12.*ld_imm64"):
        build_cfg(broken)
