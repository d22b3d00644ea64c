"""Instruction text checked against the oracle, llvm-objdump-19, instruction by instruction."""
from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from bpfrewrite.isa import decode, iter_slots

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT / "testdata"
OBJDUMP = "llvm-objdump-19"
LLVM_MC = "llvm-mc-19"


def _require(tool: str) -> str:
    require_tool(tool)
    path = shutil.which(tool)
    return path


_HEADER = re.compile(r"^Disassembly of section (.*):$")
_INSN = re.compile(r"^\s*(\d+):\t(.*)$")
_ANNOTATION = re.compile(r"\s+<[^<>]*>$")


def objdump_text(path: Path) -> dict[str, dict[int, str]]:
    """Per executable section, slot -> instruction text as llvm-objdump-19 prints it (tabs normalised)."""
    tool = _require(OBJDUMP)
    # -z: print all-zero slots instead of folding them into "..."
    out = subprocess.run(
        [tool, "-d", "-z", "--no-show-raw-insn", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    sections: dict[str, dict[int, str]] = {}
    current: dict[int, str] | None = None
    for line in out.splitlines():
        header = _HEADER.match(line)
        if header:
            current = sections.setdefault(header.group(1), {})
            continue
        insn = _INSN.match(line)
        if insn and current is not None:
            text = insn.group(2).strip()
            if text != "<unknown>":
                # objdump appends the target symbol to jumps and calls: `goto +0x1 <f+0x10>`
                text = _ANNOTATION.sub("", text)
            current[int(insn.group(1))] = re.sub(r"\s+", " ", text)
    return sections


def exec_sections(path: Path) -> dict[str, bytes]:
    """The executable sections of an ELF object, by name."""
    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        return {
            s.name: s.data()
            for s in elf.iter_sections()
            if s["sh_flags"] & SH_FLAGS.SHF_EXECINSTR and s["sh_type"] == "SHT_PROGBITS"
        }


def byte_order(path: Path) -> str:
    """The ELF's byte order, as bpfrewrite.isa.decode takes it."""
    with open(path, "rb") as fh:
        return "little" if ELFFile(fh).little_endian else "big"


def compare(path: Path) -> int:
    """Assert our text equals objdump's for every instruction of path; return how many were compared."""
    oracle = objdump_text(path)
    order = byte_order(path)
    count = 0
    for name, data in exec_sections(path).items():
        if not data:
            continue  # objdump prints nothing for an empty section
        expected = oracle.get(name)
        assert expected is not None, f"{path}: objdump printed no section {name}"
        insns = list(iter_slots(decode(data, order)))
        ours = {slot: insn.text() for _, slot, insn in insns}
        mismatches = [
            (slot, data[slot * 8 : slot * 8 + 16].hex(" "), text, expected.get(slot))
            for slot, text in ours.items()
            if text != expected.get(slot)
        ]
        assert not mismatches, f"{path}:{name}: {len(mismatches)} mismatches, first: {mismatches[:10]}"
        # Where LLVM cannot decode an ld_imm64 it moves on by one slot and decodes the second slot
        # as an instruction of its own; the kernel (and we) always take two slots.
        resync = {slot + 1 for _, slot, insn in insns if insn.width == 2 and ours[slot] == "<unknown>"}
        extra = set(expected) - set(ours)
        assert extra <= resync, f"{path}:{name}: objdump saw instructions at slots {sorted(extra)[:10]}"
        count += len(ours)
    return count


def _testdata_objects() -> list[Path]:
    """Every ELF object under testdata/, found at test time."""
    return sorted(p for p in TESTDATA.rglob("*.o") if p.parent.name != "repro")  # repro/: corrupt on purpose


@pytest.mark.parametrize("path", _testdata_objects(), ids=lambda p: str(p.relative_to(TESTDATA)))
def test_text_matches_objdump_on_testdata(path: Path) -> None:
    assert compare(path) > 0 or not exec_sections(path)


def test_all_insns_object_is_covered() -> None:
    # all_insns.o is the hand-written catalogue of every instruction kind; it must exist and decode.
    path = TESTDATA / "asm" / "all_insns.o"
    assert path.exists(), "testdata/asm/all_insns.o is missing (see testdata/asm/all_insns.s)"
    texts = [i.text() for i in decode(exec_sections(path)[".text"])]
    for needle in ("s/=", "(s16)", "bswap64", "gotol", "may_goto", "atomic_fetch_xor", "cmpxchg_64",
                   "ld_pseudo", "skb[r1]", "*(s8 *)", "callx"):
        assert any(needle in t for t in texts), needle


# --- a sweep over every opcode byte with many field values -------------------------------------

_REGS = (0, 1, 2, 10, 11, 12, 15)
_OFFS = (0, 1, -1, 2, 8, 16, 32, 64, 0x7FFF, -0x8000)
_IMMS = (0, 1, -1, 2, 8, 16, 32, 64, 0x11, 0x40, 0x41, 0x50, 0x51, 0xA0, 0xA1, 0xE0, 0xE1, 0xF0, 0xF1,
         0x100, 0x101, 0x110, 0x1000, 0x10000, 0x7FFFFFFF, -0x80000000)


def _slot(code: int, dst: int, src: int, off: int, imm: int) -> int:
    return code | (src << 4 | dst) << 8 | (off & 0xFFFF) << 16 | (imm & 0xFFFFFFFF) << 32


def sweep_slots(seed: int = 1) -> list[int]:
    """8-byte slots (as integers) covering every opcode byte with chosen and random field values."""
    rng = random.Random(seed)
    slots: list[int] = []
    for code in range(256):
        if code == 0x18:
            continue
        variants = {(dst, src, 0, 0) for dst in _REGS for src in _REGS}
        variants |= {(1, 2, off, imm) for off in _OFFS for imm in (0, 16)}
        variants |= {(1, 2, off, imm) for off in (0, 1, 8) for imm in _IMMS}
        variants |= {(12, 2, 0, imm) for imm in (0, 16)} | {(1, 12, 0, imm) for imm in (0, 16)}
        for _ in range(40):
            variants.add((rng.randrange(16), rng.randrange(16), rng.randrange(-0x8000, 0x8000),
                          rng.choice((rng.randrange(-(1 << 31), 1 << 31), rng.randrange(-300, 300)))))
        slots += [_slot(code, *v) for v in sorted(variants)]
    # ld_imm64 with every src kind; a nonzero off or a register above r11 is <unknown> to LLVM.
    # The second slot's code byte is kept off 0x18 so that LLVM, resynchronising after such an
    # <unknown>, does not swallow the next instruction as another ld_imm64.
    for src in range(16):
        for dst, off in ((0, 0), (1, 0), (11, 0), (12, 0), (15, 0), (1, 1), (1, -1)):
            for lo, hi in ((0, 0), (-1, -1), (0x12345678, 5), (-0x7DCBA988, 0x7FFFFFFF), (0, -0x80000000),
                           (rng.randrange(-(1 << 31), 1 << 31), rng.randrange(-(1 << 31), 1 << 31))):
                slots.append(_slot(0x18, dst, src, off, lo))
                pad = rng.getrandbits(32)
                if pad & 0xFF == 0x18:
                    pad ^= 1
                slots.append(pad | (hi & 0xFFFFFFFF) << 32)
    return slots


def test_text_matches_objdump_on_opcode_sweep(tmp_path: Path) -> None:
    mc = _require(LLVM_MC)
    _require(OBJDUMP)
    slots = sweep_slots()
    source = tmp_path / "sweep.s"
    source.write_text("\t.text\n" + "".join(f"\t.quad 0x{s:016x}\n" for s in slots))
    obj = tmp_path / "sweep.o"
    subprocess.run([mc, "-triple", "bpfel", "-mcpu=v4", "-filetype=obj", str(source), "-o", str(obj)],
                   check=True, capture_output=True)
    # Every slot starts an instruction except the second slot of each ld_imm64.
    assert compare(obj) == len(slots) - len(_ld_imm64_starts(slots))


def _ld_imm64_starts(slots: list[int]) -> list[int]:
    starts, i = [], 0
    while i < len(slots):
        if slots[i] & 0xFF == 0x18:
            starts.append(i)
            i += 2
        else:
            i += 1
    return starts
