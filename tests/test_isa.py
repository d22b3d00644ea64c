"""The instruction codec: lossless round trips, bad input, meaning of fields, speed."""
from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.isa import Instruction, decode, encode, iter_slots
from bpfrewrite.isa.opcodes import Atomic, Class, Pseudo

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"


def slot(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One 8-byte slot laid out as the kernel's struct bpf_insn (little-endian)."""
    return struct.pack("<BBhi", code, src << 4 | dst, off, imm)


def one(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> Instruction:
    (insn,) = decode(slot(code, dst, src, off, imm))
    return insn


# --- round trips ------------------------------------------------------------------------------

def _exec_sections() -> list[tuple[str, bytes, str]]:
    found = []
    for path in sorted(p for p in TESTDATA.rglob("*.o") if p.parent.name != "repro"):  # repro/: corrupt on purpose
        with open(path, "rb") as fh:
            elf = ELFFile(fh)
            order = "little" if elf.little_endian else "big"  # testdata/eb/ holds bpfeb objects
            for s in elf.iter_sections():
                if s["sh_flags"] & SH_FLAGS.SHF_EXECINSTR and s["sh_type"] == "SHT_PROGBITS":
                    found.append((f"{path.relative_to(TESTDATA)}:{s.name}", s.data(), order))
    return found


@pytest.mark.parametrize("name,data,order", _exec_sections(), ids=[n for n, _, _ in _exec_sections()])
def test_round_trip_testdata_sections(name: str, data: bytes, order: str) -> None:
    insns = decode(data, order)
    assert encode(insns, order) == data
    assert sum(i.width for i in insns) * 8 == len(data)


def test_testdata_has_code() -> None:
    assert any(data for _, data, _ in _exec_sections()), "no executable section under testdata/"


def _never_truncated(data: bytes) -> bool:
    """True when no ld_imm64 would start in the last slot."""
    i, n = 0, len(data) // 8
    while i < n:
        i += 2 if data[i * 8] == 0x18 else 1
    return i == n


@settings(max_examples=300)
@given(st.lists(st.binary(min_size=8, max_size=8), max_size=64).map(b"".join))
def test_round_trip_random_bytes(data: bytes) -> None:
    if _never_truncated(data):
        assert encode(decode(data)) == data
    else:
        with pytest.raises(BpfrewriteError):
            decode(data)


@settings(max_examples=200)
@given(st.lists(st.binary(min_size=8, max_size=8), max_size=32).map(b"".join))
def test_copy_encodes_identically(data: bytes) -> None:
    if _never_truncated(data):
        insns = decode(data)
        assert encode(i.copy() for i in insns) == data


@settings(max_examples=100)
@given(st.binary().filter(lambda b: len(b) % 8 != 0))
def test_length_not_multiple_of_8_is_an_error(data: bytes) -> None:
    with pytest.raises(BpfrewriteError, match="multiple of 8"):
        decode(data)


def test_truncated_ld_imm64_is_an_error() -> None:
    with pytest.raises(BpfrewriteError, match="ld_imm64.*byte offset 8"):
        decode(slot(0x95) + slot(0x18, 1, imm=5))


def test_ld_imm64_second_slot_kept_verbatim() -> None:
    # The kernel requires zero code/regs/off in the second slot; we keep whatever is there.
    data = slot(0x18, 2, 1, 0, -1) + bytes([0xAA, 0xBB, 0xCC, 0xDD]) + struct.pack("<i", 7)
    (insn,) = decode(data)
    assert (insn.dst, insn.src, insn.imm, insn.imm2, insn.pad) == (2, 1, -1, 7, b"\xaa\xbb\xcc\xdd")
    assert insn.imm64 == 7 << 32 | 0xFFFFFFFF
    assert insn.encode() == data


def test_empty() -> None:
    assert decode(b"") == []
    assert encode([]) == b""


# --- slots and indices ------------------------------------------------------------------------

def test_iter_slots_counts_ld_imm64_twice() -> None:
    data = slot(0xB7, 0, imm=1) + slot(0x18, 1) + slot(0, imm=0) + slot(0x95)
    rows = [(index, s, insn.code) for index, s, insn in iter_slots(decode(data))]
    assert rows == [(0, 0, 0xB7), (1, 1, 0x18), (2, 3, 0x95)]


# --- raw fields -------------------------------------------------------------------------------

def test_fields_decoded_little_endian() -> None:
    # bytes from the BPF ISA's struct bpf_insn: code, dst:4 (low) src:4 (high), off le16, imm le32
    (insn,) = decode(bytes([0x79, 0xA1, 0xF8, 0xFF, 0x10, 0x00, 0x00, 0x80]))
    assert (insn.code, insn.dst, insn.src, insn.off, insn.imm) == (0x79, 1, 10, -8, -0x7FFFFFF0)
    assert insn.text() == "r1 = *(u64 *)(r10 - 0x8)"


def test_imm64_signed_and_settable() -> None:
    insn = Instruction.ld_imm64(3, -2)
    assert (insn.imm, insn.imm2, insn.imm64) == (-2, -1, -2)
    insn.imm64 = 0x1_0000_0002
    assert (insn.imm, insn.imm2) == (2, 1)
    assert insn.encode() == slot(0x18, 3, 0, 0, 2) + b"\0\0\0\0" + struct.pack("<i", 1)


def test_encode_rejects_out_of_range_fields() -> None:
    with pytest.raises(ValueError):
        Instruction(0xB7, 16, 0, 0, 0).encode()
    with pytest.raises(ValueError):
        Instruction(0xB7, 0, 0, 0, 1 << 32).encode()
    with pytest.raises(ValueError):
        Instruction(0x05, 0, 0, -(1 << 15) - 1, 0).encode()


def test_constructors() -> None:
    # BPF_MOV64_IMM(BPF_REG_1, -5) and BPF_JMP_A(3) from the kernel's filter.h, laid out by hand
    assert Instruction.mov64_imm(1, -5).encode() == bytes([0xB7, 0x01, 0, 0, 0xFB, 0xFF, 0xFF, 0xFF])
    assert Instruction.ja(3).encode() == bytes([0x05, 0x00, 0x03, 0x00, 0, 0, 0, 0])
    assert Instruction.ja(-1).text() == "goto -0x1"
    assert Instruction.exit().text() == "exit"
    assert Instruction.call_helper(1).is_helper_call


def test_copy_shares_metadata_but_not_core_list() -> None:
    ref, line = object(), object()
    insn = Instruction(0x85, 0, 1, 0, 4, ref=ref, line=line, core=["reloc"])
    dup = insn.copy()
    assert dup is not insn and dup.ref is ref and dup.line is line
    assert dup.core == ["reloc"] and dup.core is not insn.core
    dup.imm = 9
    assert insn.imm == 4


# --- meaning ----------------------------------------------------------------------------------

def test_call_kinds() -> None:
    helper, pseudo, kfunc = one(0x85, imm=1), one(0x85, src=1, imm=-1), one(0x85, src=2, imm=-1)
    assert helper.is_call and helper.is_helper_call and not helper.is_pseudo_call
    assert pseudo.is_call and pseudo.is_pseudo_call and not pseudo.is_kfunc_call
    assert kfunc.is_call and kfunc.is_kfunc_call and not kfunc.is_helper_call
    for call in (helper, pseudo, kfunc):
        assert call.uses() == {1, 2, 3, 4, 5}
        assert call.defs() == {0, 1, 2, 3, 4, 5}
        assert not call.is_branch and call.is_jmp


def test_exit() -> None:
    insn = one(0x95)
    assert insn.is_exit and not insn.is_branch and not insn.is_call
    assert insn.uses() == {0} and insn.defs() == set()


def test_jumps() -> None:
    ja, gotol, may_goto = one(0x05, off=-3), one(0x06, imm=70000), one(0xE5, off=4)
    jne_reg, jset32 = one(0x5D, 1, 2, off=7), one(0x46, 3, imm=8, off=-2)
    assert ja.is_uncond_jump and ja.is_branch and ja.branch_offset == -3
    assert gotol.is_uncond_jump and gotol.branch_offset == 70000 and gotol.klass == Class.JMP32
    assert may_goto.is_may_goto and may_goto.is_branch and not may_goto.is_cond_jump
    assert may_goto.branch_offset == 4
    assert jne_reg.is_cond_jump and jne_reg.uses() == {1, 2} and jne_reg.defs() == set()
    assert jset32.is_cond_jump and jset32.uses() == {3} and jset32.branch_offset == -2
    assert not one(0x07, 1, imm=1).is_branch


def test_alu_defs_uses() -> None:
    add_reg, add_imm = one(0x0F, 1, 2), one(0x04, 3, imm=1)
    mov_reg, mov_imm, neg, bswap = one(0xBF, 4, 5), one(0xB7, 6, imm=0), one(0x87, 7), one(0xD7, 8, imm=16)
    assert add_reg.is_alu and add_reg.uses() == {1, 2} and add_reg.defs() == {1}
    assert add_imm.uses() == {3} and add_imm.defs() == {3}
    assert mov_reg.uses() == {5} and mov_reg.defs() == {4}
    assert mov_imm.uses() == set() and mov_imm.defs() == {6}
    assert neg.uses() == {7} and neg.defs() == {7}
    assert bswap.uses() == {8} and bswap.defs() == {8}


def test_memory_defs_uses() -> None:
    ldx, ldsx = one(0x79, 1, 10, off=-8), one(0x91, 2, 3)
    stx, st = one(0x7B, 10, 1, off=-8), one(0x62, 4, imm=5)
    assert ldx.is_load and ldx.uses() == {10} and ldx.defs() == {1}
    assert ldsx.is_load and ldsx.text() == "r2 = *(s8 *)(r3 + 0x0)"
    assert stx.is_store and not stx.is_load and stx.uses() == {10, 1} and stx.defs() == set()
    assert st.is_store and st.uses() == {4} and st.defs() == set()
    ld_abs, ld_ind = one(0x30, imm=4), one(0x50, src=7)
    assert ld_abs.is_load and ld_abs.uses() == {6} and ld_abs.defs() == {0, 1, 2, 3, 4, 5}
    assert ld_ind.uses() == {6, 7}


def test_atomic_defs_uses() -> None:
    def atomic(op: int, size: int = 0xDB) -> Instruction:
        return one(size, 1, 2, imm=op)

    assert atomic(Atomic.ADD).defs() == set() and atomic(Atomic.ADD).uses() == {1, 2}
    assert atomic(Atomic.XOR | Atomic.FETCH).defs() == {2}
    assert atomic(Atomic.XCHG).defs() == {2} and atomic(Atomic.XCHG).uses() == {1, 2}
    assert atomic(Atomic.CMPXCHG).defs() == {0} and atomic(Atomic.CMPXCHG).uses() == {0, 1, 2}
    # load-acquire: dst = *(src + off); store-release: *(dst + off) = src
    assert atomic(Atomic.LOAD_ACQ).defs() == {1} and atomic(Atomic.LOAD_ACQ).uses() == {2}
    assert atomic(Atomic.STORE_REL, 0xC3).defs() == set() and atomic(Atomic.STORE_REL).uses() == {1, 2}
    for op in Atomic:
        a = atomic(op)
        assert a.is_atomic and not a.is_store and not a.is_load


def test_ld_imm64_meaning() -> None:
    (insn,) = decode(slot(0x18, 1, Pseudo.MAP_VALUE, imm=3) + slot(0, imm=16))
    assert insn.is_ld_imm64 and insn.width == 2 and insn.src == Pseudo.MAP_VALUE
    assert insn.defs() == {1} and insn.uses() == set()
    assert insn.text() == "ld_pseudo r1, 0x2, 0x3"


@pytest.mark.parametrize("code", [0xFF, 0xF5, 0xE7, 0x99, 0x9A, 0xA3, 0x0D])
def test_invalid_encodings_have_no_effects(code: int) -> None:
    # ALU64 op 0xf0, JMP op 0xf0, ALU64 op 0xe0, LDX|MEMSX|DW, ST|MEMSX, STX mode 0xa0, JA|X
    insn = one(code, 1, 2, 3, 4)
    assert insn.text() == "<unknown>"
    assert insn.defs() == set() and insn.uses() == set()
    assert not (insn.is_branch or insn.is_call or insn.is_load or insn.is_store or insn.is_atomic)


def test_unknown_atomic_operation_has_no_effects() -> None:
    insn = one(0xDB, 1, 2, imm=0x20)  # BPF_MUL is not an atomic operation
    assert insn.is_atomic and insn.text() == "<unknown>"
    assert insn.defs() == set() and insn.uses() == set()


# --- speed ------------------------------------------------------------------------------------

def test_decode_100k_instructions_fast() -> None:
    body = slot(0xB7, 1, imm=1) + slot(0x0F, 1, 2) + slot(0x18, 3) + slot(0) + slot(0x79, 4, 10, off=-8)
    data = body * 25_000  # 100,000 instructions in 125,000 slots
    start = time.perf_counter()
    insns = decode(data)
    elapsed = time.perf_counter() - start
    assert len(insns) == 100_000
    assert elapsed < 1.0, f"decode took {elapsed:.2f}s"
    start = time.perf_counter()
    texts = [i.text() for i in insns]
    assert time.perf_counter() - start < 3.0
    assert texts[:4] == ["r1 = 0x1", "r1 += r2", "r3 = 0x0 ll", "r4 = *(u64 *)(r10 - 0x8)"]


def test_loaded_constant_is_the_registers_bits_unsigned() -> None:
    """One evaluator: r = imm sign-extends, w = imm zero-extends, r = imm ll loads 64 bits; s64 reads it signed."""
    from bpfrewrite.isa.opcodes import s64

    assert Instruction.mov64_imm(1, -1).loaded_constant == (1 << 64) - 1
    assert s64(Instruction.mov64_imm(1, -1).loaded_constant) == -1
    assert Instruction(0xB4, 1, 0, 0, -1).loaded_constant == 0xFFFFFFFF  # w1 = -1
    assert Instruction.ld_imm64(2, -2).loaded_constant == (1 << 64) - 2
    relocated = Instruction.ld_imm64(2, 0, src=Pseudo.MAP_FD)
    assert relocated.loaded_constant is None  # a map's address is not a number
    assert Instruction(0xBF, 1, 2, 0, 0).loaded_constant is None  # r1 = r2
    assert Instruction(0xB4, 1, 0, 0, 5).is_mov_imm and not Instruction(0xBF, 1, 2, 0, 0).is_mov_imm


def test_mem_access_base_offset_size() -> None:
    assert Instruction(0x79, 1, 10, -8, 0).mem_access == (10, -8, 8)  # r1 = *(u64 *)(r10 - 8)
    assert Instruction(0x91, 1, 2, 4, 0).mem_access == (2, 4, 1)  # r1 = *(s8 *)(r2 + 4)
    assert Instruction(0x6B, 10, 1, -2, 0).mem_access == (10, -2, 2)  # *(u16 *)(r10 - 2) = r1
    assert Instruction(0x62, 3, 0, 0, 7).mem_access == (3, 0, 4)  # *(u32 *)(r3 + 0) = 7
    assert Instruction(0xDB, 3, 1, 16, Atomic.ADD).mem_access == (3, 16, 8)  # lock add
    assert Instruction.mov64_imm(1, 0).mem_access is None
    assert Instruction.ld_imm64(1, 0).mem_access is None


def test_make_r0_imm_keeps_metadata_drops_reference() -> None:
    call = Instruction(0x85, 0, 2, 0, -1)  # a relocated kfunc call
    call.line, call.ref = "line", "kfunc ref"
    call.make_r0_imm(-4)
    assert (call.code, call.dst, call.src, call.off, call.imm) == (0xB7, 0, 0, 0, -4)
    assert call.line == "line" and call.ref is None and call.width == 1
    assert Instruction(0x8D, 0, 0, 0, 0).is_callx and not Instruction.call_helper(1).is_callx
