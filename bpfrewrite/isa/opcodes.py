"""Numbers of the BPF instruction set (include/uapi/linux/bpf.h, bpf_common.h; RFC 9669)."""
from __future__ import annotations

import enum


class Class(enum.IntEnum):
    """Instruction class: the low 3 bits of the opcode byte."""

    LD = 0x00
    LDX = 0x01
    ST = 0x02
    STX = 0x03
    ALU = 0x04
    JMP = 0x05
    JMP32 = 0x06
    ALU64 = 0x07


class Source(enum.IntEnum):
    """Operand source bit (0x08) of ALU and jump opcodes; for ALU|END it selects the byte order."""

    K = 0x00  # immediate
    X = 0x08  # register
    TO_LE = 0x00
    TO_BE = 0x08


class AluOp(enum.IntEnum):
    """ALU operation: the high 4 bits of an ALU/ALU64 opcode."""

    ADD = 0x00
    SUB = 0x10
    MUL = 0x20
    DIV = 0x30  # off=1: signed (ISA v4)
    OR = 0x40
    AND = 0x50
    LSH = 0x60
    RSH = 0x70
    NEG = 0x80
    MOD = 0x90  # off=1: signed (ISA v4)
    XOR = 0xA0
    MOV = 0xB0  # off=8/16/32 with source X: sign-extending move (ISA v4)
    ARSH = 0xC0
    END = 0xD0  # ALU: be/le by source bit; ALU64|K: unconditional bswap (ISA v4)


class JmpOp(enum.IntEnum):
    """Jump operation: the high 4 bits of a JMP/JMP32 opcode."""

    JA = 0x00  # JMP32|JA: gotol, 32-bit offset in imm (ISA v4)
    JEQ = 0x10
    JGT = 0x20
    JGE = 0x30
    JSET = 0x40
    JNE = 0x50
    JSGT = 0x60
    JSGE = 0x70
    CALL = 0x80
    EXIT = 0x90
    JLT = 0xA0
    JLE = 0xB0
    JSLT = 0xC0
    JSLE = 0xD0
    JCOND = 0xE0  # may_goto (src 0)


class Size(enum.IntEnum):
    """Access size of a load or store: bits 3-4 of the opcode."""

    W = 0x00  # 4 bytes
    H = 0x08  # 2 bytes
    B = 0x10  # 1 byte
    DW = 0x18  # 8 bytes


SIZE_BYTES = {Size.W: 4, Size.H: 2, Size.B: 1, Size.DW: 8}


class Mode(enum.IntEnum):
    """Addressing mode of a load or store: the high 3 bits of the opcode."""

    IMM = 0x00  # LD|IMM|DW: ld_imm64
    ABS = 0x20  # legacy packet access, LD class only
    IND = 0x40  # legacy packet access, LD class only
    MEM = 0x60
    MEMSX = 0x80  # sign-extending load, LDX only (ISA v4)
    ATOMIC = 0xC0  # STX only; the operation is in imm


class Pseudo(enum.IntEnum):
    """src_reg of an ld_imm64: what its immediate refers to."""

    NONE = 0
    MAP_FD = 1
    MAP_VALUE = 2
    BTF_ID = 3
    FUNC = 4
    MAP_IDX = 5
    MAP_IDX_VALUE = 6


class CallKind(enum.IntEnum):
    """src_reg of a call: what its immediate names."""

    HELPER = 0
    PSEUDO_CALL = 1  # bpf-to-bpf: imm is the slot offset of the callee relative to the next slot
    KFUNC_CALL = 2  # imm is a BTF id (0 or -1 in an object, relocated)


class Atomic(enum.IntEnum):
    """imm of a STX|ATOMIC instruction: the operation."""

    ADD = 0x00
    OR = 0x40
    AND = 0x50
    XOR = 0xA0
    FETCH = 0x01  # flag: the old value is written back to src
    XCHG = 0xE0 | 0x01
    CMPXCHG = 0xF0 | 0x01
    LOAD_ACQ = 0x100
    STORE_REL = 0x110


FETCH = Atomic.FETCH
LD_IMM64 = Class.LD | Mode.IMM | Size.DW  # 0x18, the only two-slot instruction
CALL = Class.JMP | JmpOp.CALL | Source.K  # 0x85
CALLX = Class.JMP | JmpOp.CALL | Source.X  # 0x8d, indirect call (LLVM emits it; kernels refuse it)
EXIT = Class.JMP | JmpOp.EXIT  # 0x95
JA = Class.JMP | JmpOp.JA  # 0x05
GOTOL = Class.JMP32 | JmpOp.JA  # 0x06
MAY_GOTO = Class.JMP | JmpOp.JCOND  # 0xe5
MOV64_IMM = Class.ALU64 | AluOp.MOV | Source.K  # 0xb7
MOV64_REG = Class.ALU64 | AluOp.MOV | Source.X  # 0xbf
MOV32_IMM = Class.ALU | AluOp.MOV | Source.K  # 0xb4
MOV32_REG = Class.ALU | AluOp.MOV | Source.X  # 0xbc
ADD64_IMM = Class.ALU64 | AluOp.ADD | Source.K  # 0x07
ADD64_REG = Class.ALU64 | AluOp.ADD | Source.X  # 0x0f
SUB64_IMM = Class.ALU64 | AluOp.SUB | Source.K  # 0x17
SUB64_REG = Class.ALU64 | AluOp.SUB | Source.X  # 0x1f
ADD32_IMM = Class.ALU | AluOp.ADD | Source.K  # 0x04
SUB32_IMM = Class.ALU | AluOp.SUB | Source.K  # 0x14
LSH64_IMM = Class.ALU64 | AluOp.LSH | Source.K  # 0x67
RSH64_IMM = Class.ALU64 | AluOp.RSH | Source.K  # 0x77
ARSH64_IMM = Class.ALU64 | AluOp.ARSH | Source.K  # 0xc7
LDX_DW = Class.LDX | Mode.MEM | Size.DW  # 0x79, 8-byte load (a fill when its base is r10)
STX_DW = Class.STX | Mode.MEM | Size.DW  # 0x7b, 8-byte store (a spill when its base is r10)


def s64(value: int) -> int:
    """A 64-bit register's bits (an unsigned int below 2**64) read as a signed number."""
    return value - (1 << 64) if value >> 63 else value
