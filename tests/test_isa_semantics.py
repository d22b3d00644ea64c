"""What passes ask the ISA: opcode fields as Instruction properties, named opcodes, and what operations compute."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpfrewrite.isa import Instruction, opcodes
from bpfrewrite.isa.opcodes import AluOp, Class, JmpOp, Mode
from bpfrewrite.isa.semantics import SIGNED_JUMPS, SWAPPED, alu, as_number, holds, jump_condition, sext

_U64 = st.integers(min_value=0, max_value=(1 << 64) - 1)
_COND = sorted(SWAPPED) + [JmpOp.JSET]


@pytest.mark.parametrize(
    ("name", "fields", "text"),
    [
        ("ADD64_IMM", (1, 0, 0, 5), "r1 += 0x5"),
        ("ADD64_REG", (1, 2, 0, 0), "r1 += r2"),
        ("SUB64_IMM", (1, 0, 0, 5), "r1 -= 0x5"),
        ("SUB64_REG", (1, 2, 0, 0), "r1 -= r2"),
        ("ADD32_IMM", (1, 0, 0, 5), "w1 += 0x5"),
        ("SUB32_IMM", (1, 0, 0, 5), "w1 -= 0x5"),
        ("LSH64_IMM", (1, 0, 0, 32), "r1 <<= 0x20"),
        ("RSH64_IMM", (1, 0, 0, 32), "r1 >>= 0x20"),
        ("ARSH64_IMM", (1, 0, 0, 32), "r1 s>>= 0x20"),
        ("MOV64_REG", (1, 2, 0, 0), "r1 = r2"),
        ("MOV32_REG", (1, 2, 0, 0), "w1 = w2"),
        ("LDX_DW", (1, 10, -8, 0), "r1 = *(u64 *)(r10 - 0x8)"),
        ("STX_DW", (10, 1, -8, 0), "*(u64 *)(r10 - 0x8) = r1"),
        ("EXIT", (0, 0, 0, 0), "exit"),
    ],
)
def test_named_opcodes_are_the_instructions_their_names_say(name: str, fields: tuple, text: str) -> None:
    """The objdump-checked printer is the oracle for each named opcode."""
    assert Instruction(getattr(opcodes, name), *fields).text() == text


def test_opcode_fields_as_properties() -> None:
    ldxb = Instruction(0x71, 1, 10, -1, 0)  # r1 = *(u8 *)(r10 - 1)
    assert (ldxb.klass, ldxb.mode, ldxb.access_bytes) == (Class.LDX, Mode.MEM, 1)
    ldxsh = Instruction(0x89, 1, 2, 0, 0)  # r1 = *(s16 *)(r2 + 0)
    assert (ldxsh.mode, ldxsh.access_bytes) == (Mode.MEMSX, 2)
    stxdw = Instruction(0x7B, 10, 1, -8, 0)
    assert (stxdw.klass, stxdw.mode, stxdw.access_bytes) == (Class.STX, Mode.MEM, 8)
    assert Instruction(0xDB, 1, 2, 0, 0).mode == Mode.ATOMIC
    w_add_reg = Instruction(0x0C, 1, 2, 0, 0)  # w1 += w2
    assert (w_add_reg.operation, w_add_reg.src_is_reg, w_add_reg.operand_bits) == (AluOp.ADD, True, 32)
    r_mov_imm = Instruction(0xB7, 1, 0, 0, 3)
    assert (r_mov_imm.operation, r_mov_imm.src_is_reg, r_mov_imm.operand_bits) == (AluOp.MOV, False, 64)
    jslt32 = Instruction(0xC6, 1, 0, 3, 0)  # if w1 s< 0x0 goto +3
    assert (jslt32.operation, jslt32.src_is_reg, jslt32.operand_bits) == (JmpOp.JSLT, False, 32)
    jgt_reg = Instruction(0x2D, 1, 2, 3, 0)  # if r1 > r2 goto +3
    assert (jgt_reg.operation, jgt_reg.src_is_reg, jgt_reg.operand_bits) == (JmpOp.JGT, True, 64)


def test_alu_as_the_isa_defines_it() -> None:
    m32, m64 = (1 << 32) - 1, (1 << 64) - 1
    assert alu(AluOp.ADD, m32, 1, 32) == 0  # wraps at the operation's width
    assert alu(AluOp.ADD, m32, 1, 64) == 1 << 32
    assert alu(AluOp.SUB, 0, 1, 64) == m64
    assert alu(AluOp.DIV, 7, 0, 64) == 0  # division by zero gives 0
    assert alu(AluOp.MOD, 7, 0, 64) == 7  # modulo by zero leaves dst
    assert alu(AluOp.DIV, 7, 2, 64, off=1) is None  # sdiv: not modelled
    assert alu(AluOp.LSH, 1, 65, 64) == 2  # the shift amount is masked to the width
    assert alu(AluOp.ARSH, 1 << 31, 4, 32) == 0xF8000000  # arithmetic: the sign bit spreads
    assert alu(AluOp.RSH, 1 << 31, 4, 32) == 0x08000000
    assert alu(AluOp.NEG, 1, 0, 32) == m32
    assert alu(AluOp.MOV, 1, 2, 64) is None and alu(AluOp.END, 1, 16, 64) is None


def test_jump_conditions_signed_and_unsigned() -> None:
    minus_one_32 = (1 << 32) - 1
    assert jump_condition(JmpOp.JGT, minus_one_32, 0, 32) is True
    assert jump_condition(JmpOp.JSGT, minus_one_32, 0, 32) is False  # -1 s> 0 is false
    assert jump_condition(JmpOp.JSGT, minus_one_32, 0, 64) is True  # a positive 64-bit number
    assert jump_condition(JmpOp.JEQ, 1 << 32, 0, 32) is True  # JMP32 sees the low half only
    assert jump_condition(JmpOp.JSET, 6, 4, 64) is True and jump_condition(JmpOp.JSET, 6, 1, 64) is False
    assert jump_condition(JmpOp.JA, 0, 0, 64) is None and jump_condition(JmpOp.CALL, 0, 0, 64) is None
    assert SIGNED_JUMPS == {JmpOp.JSGT, JmpOp.JSGE, JmpOp.JSLT, JmpOp.JSLE}


@given(st.sampled_from(sorted(SWAPPED)), _U64, _U64, st.sampled_from([32, 64]))
def test_swapped_is_the_same_comparison(op: int, a: int, b: int, bits: int) -> None:
    assert jump_condition(op, a, b, bits) == jump_condition(SWAPPED[op], b, a, bits)


@given(st.sampled_from(_COND), _U64, _U64, st.sampled_from([32, 64]))
def test_a_jump_and_its_inverse_never_agree(op: int, a: int, b: int, bits: int) -> None:
    """JEQ/JNE, JGT/JLE, JSGE/JSLT, ... are complements: a wrong table entry breaks one pair."""
    inverse = {JmpOp.JEQ: JmpOp.JNE, JmpOp.JGT: JmpOp.JLE, JmpOp.JGE: JmpOp.JLT, JmpOp.JSGT: JmpOp.JSLE,
               JmpOp.JSGE: JmpOp.JSLT}
    inverse |= {v: k for k, v in inverse.items()}
    if op == JmpOp.JSET:
        assert jump_condition(op, a, b, bits) == bool(as_number(a, bits, False) & as_number(b, bits, False))
    else:
        assert jump_condition(op, a, b, bits) != jump_condition(inverse[op], a, b, bits)


@given(_U64, st.sampled_from([8, 16, 32, 64]))
def test_sext_and_as_number(value: int, bits: int) -> None:
    low = value & ((1 << bits) - 1)
    assert sext(value, bits) % (1 << bits) == low
    assert -(1 << (bits - 1)) <= sext(value, bits) < 1 << (bits - 1)
    assert as_number(value, bits, False) == low and as_number(value, bits, True) == sext(value, bits)
    if bits == 64:
        assert sext(value, 64) == opcodes.s64(value)


def test_holds_on_unbounded_numbers() -> None:
    """Trip counts compare numbers past a register's range: holds only orders them."""
    assert holds(JmpOp.JGT, 1 << 70, 0) and holds(JmpOp.JSLT, -(1 << 70), 0) and holds(JmpOp.JLE, 3, 3)
    assert not holds(JmpOp.JNE, 5, 5)
