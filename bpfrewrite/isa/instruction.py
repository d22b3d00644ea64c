"""One BPF instruction with its raw fields, its meaning as properties, and its metadata.

Decoding keeps every raw field (including the second slot of an ld_imm64), so encoding what was
decoded gives the same bytes back, whatever the bytes were. Both byte orders are handled: the
fields are the same, their bytes differ. In bpfel the low nibble of the registers byte is dst; in
bpfeb it is the high nibble (the kernel's `__u8 dst_reg:4, src_reg:4` bitfields, which big-endian
ABIs allocate from the top bit; LLVM's BPFMCCodeEmitter swaps the nibbles for little-endian only),
and off and imm are big-endian.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

from bpfrewrite.byteorder import LITTLE, layout
from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.isa.opcodes import (
    CALL,
    CALLX,
    EXIT,
    GOTOL,
    JA,
    LD_IMM64,
    MAY_GOTO,
    MOV32_IMM,
    MOV64_IMM,
    SIZE_BYTES,
    Atomic,
    Class,
    Mode,
    Source,
)
from bpfrewrite.isa.text import format_instruction

# code, registers, off, imm: one 8-byte slot, in each byte order.
_SLOT = layout("BBhi")
_SLOT_ENCODE = layout("BBHI")
_ARGS = frozenset({1, 2, 3, 4, 5})
_M64 = (1 << 64) - 1
_CALL_DEFS = frozenset({0, 1, 2, 3, 4, 5})


@dataclass(eq=False, slots=True)
class Instruction:
    """A BPF instruction (one slot, or two for ld_imm64) plus the metadata attached to it."""

    code: int
    dst: int
    src: int
    off: int
    imm: int
    imm2: int = 0
    # ld_imm64's second slot before imm (code, registers, off; zero in valid code), kept as it
    # reads in a little-endian object whatever the input's order, so the fields mean one thing.
    pad: bytes = b"\0\0\0\0"
    ref: object = None
    line: object = None
    func: object = None
    core: list = field(default_factory=list)
    # Branches: the Instruction jumped to, set by the ELF reader; writers derive `off` (or
    # gotol's `imm`) from it, so inserting or moving code cannot leave a stale offset.
    target: object = None

    # ----- constructors -------------------------------------------------------------------
    @classmethod
    def mov64_imm(cls, dst: int, imm: int) -> "Instruction":
        """`dst = imm` (ALU64 MOV K; imm is sign-extended to 64 bits)."""
        return cls(MOV64_IMM, dst, 0, 0, imm)

    @classmethod
    def ja(cls, off: int) -> "Instruction":
        """`goto +off` (offset in slots relative to the next slot)."""
        return cls(JA, 0, 0, off, 0)

    @classmethod
    def exit(cls) -> "Instruction":
        """`exit`."""
        return cls(EXIT, 0, 0, 0, 0)

    @classmethod
    def call_helper(cls, helper_id: int) -> "Instruction":
        """`call helper_id` (a helper call, src 0)."""
        return cls(CALL, 0, 0, 0, helper_id)

    @classmethod
    def ld_imm64(cls, dst: int, value: int, src: int = 0) -> "Instruction":
        """`dst = value ll` with the given pseudo src_reg kind."""
        lo = value & 0xFFFFFFFF
        hi = (value >> 32) & 0xFFFFFFFF
        return cls(LD_IMM64, dst, src, 0, _s32(lo), _s32(hi))

    # ----- encoding -----------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Number of 8-byte slots: 2 for ld_imm64, else 1."""
        return 2 if self.code == LD_IMM64 else 1

    def encode(self, byte_order: str = LITTLE) -> bytes:
        """The instruction's 8 (or 16, for ld_imm64) bytes in byte_order ("little" or "big")."""
        first = _pack(self.code, self.dst, self.src, self.off, self.imm, byte_order)
        if self.code != LD_IMM64:
            return first
        if len(self.pad) != 4:
            raise ValueError(f"ld_imm64 pad must be 4 bytes, got {len(self.pad)}")
        pad = bytes(self.pad) if byte_order == LITTLE else _swap_pad(self.pad)
        return first + pad + _imm_bytes(self.imm2, byte_order)

    def copy(self) -> "Instruction":
        """A shallow copy: same metadata objects (branch target included), its own CO-RE list."""
        return Instruction(
            self.code, self.dst, self.src, self.off, self.imm, self.imm2, self.pad,
            self.ref, self.line, self.func, list(self.core), self.target,
        )

    def text(self) -> str:
        """The instruction as llvm-objdump-19 prints it (tabs as single spaces), or `<unknown>`."""
        return format_instruction(self)

    def __str__(self) -> str:
        return self.text()

    # ----- meaning ------------------------------------------------------------------------
    @property
    def klass(self) -> int:
        """The instruction class (opcodes.Class value)."""
        return self.code & 0x07

    @property
    def mode(self) -> int:
        """Addressing mode of a load or store (opcodes.Mode value): the high 3 bits."""
        return self.code & 0xE0

    @property
    def operation(self) -> int:
        """Operation of an ALU or jump instruction (opcodes.AluOp or JmpOp value): the high 4 bits."""
        return self.code & 0xF0

    @property
    def src_is_reg(self) -> bool:
        """An ALU or jump instruction whose second operand is src, not imm (the 0x08 source bit)."""
        return bool(self.code & Source.X)

    @property
    def operand_bits(self) -> int:
        """Width an ALU or jump instruction computes or compares on: 32 (ALU, JMP32) or 64."""
        return 32 if self.code & 0x07 in (Class.ALU, Class.JMP32) else 64

    @property
    def access_bytes(self) -> int:
        """Size in bytes a load or store accesses (its size bits, whatever its class)."""
        return SIZE_BYTES[self.code & 0x18]

    @property
    def is_alu(self) -> bool:
        """ALU or ALU64 class."""
        return self.code & 0x07 in (Class.ALU, Class.ALU64)

    @property
    def is_jmp(self) -> bool:
        """JMP or JMP32 class (includes call, exit, may_goto)."""
        return self.code & 0x07 in (Class.JMP, Class.JMP32)

    @property
    def is_ld_imm64(self) -> bool:
        """The two-slot 64-bit immediate load (opcode 0x18)."""
        return self.code == LD_IMM64

    @property
    def imm64(self) -> int:
        """The 64-bit immediate of an ld_imm64, signed."""
        value = (self.imm2 & 0xFFFFFFFF) << 32 | (self.imm & 0xFFFFFFFF)
        return value - (1 << 64) if value >> 63 else value

    @imm64.setter
    def imm64(self, value: int) -> None:
        self.imm = _s32(value & 0xFFFFFFFF)
        self.imm2 = _s32((value >> 32) & 0xFFFFFFFF)

    @property
    def is_call(self) -> bool:
        """A call: helper, bpf-to-bpf, kfunc, or the register-indirect callx."""
        return self.code == CALL or self.code == CALLX

    @property
    def is_callx(self) -> bool:
        """`callx dst`: the register-indirect call clang emits at -O0 (kernels refuse it)."""
        return self.code == CALLX

    @property
    def is_helper_call(self) -> bool:
        """`call imm` with src 0: imm is a helper id."""
        return self.code == CALL and self.src == 0

    @property
    def is_pseudo_call(self) -> bool:
        """bpf-to-bpf call (src 1): imm is the callee's slot offset from the next slot."""
        return self.code == CALL and self.src == 1

    @property
    def is_kfunc_call(self) -> bool:
        """kfunc call (src 2): imm is a BTF id."""
        return self.code == CALL and self.src == 2

    @property
    def is_exit(self) -> bool:
        """`exit`."""
        return self.code == EXIT

    @property
    def is_may_goto(self) -> bool:
        """`may_goto` (opcode 0xe5): jumps when the kernel's loop budget runs out."""
        return self.code == MAY_GOTO

    @property
    def is_cond_jump(self) -> bool:
        """A compare-and-jump (`if ... goto`), JMP or JMP32; may_goto is not one."""
        return self.code & 0x07 in (Class.JMP, Class.JMP32) and (self.code & 0xF0) in _COND_OPS

    @property
    def is_uncond_jump(self) -> bool:
        """`goto` (JMP|JA, offset in off) or `gotol` (JMP32|JA, offset in imm)."""
        return self.code == JA or self.code == GOTOL

    @property
    def is_branch(self) -> bool:
        """Any jump to a target: conditional, unconditional, may_goto (not call or exit)."""
        return self.is_uncond_jump or self.code == MAY_GOTO or self.is_cond_jump

    @property
    def branch_offset(self) -> int:
        """Target in slots relative to the next slot (`imm` for gotol, else `off`)."""
        return self.imm if self.code == GOTOL else self.off

    def set_branch_offset(self, value: int) -> None:
        """Store a branch's slot offset in the field the encoding uses (gotol: imm, else off)."""
        if self.code == GOTOL:
            self.imm = value
        else:
            self.off = value

    @property
    def is_load(self) -> bool:
        """A memory load into a register: LDX (MEM, MEMSX) or legacy LD ABS/IND (not ld_imm64)."""
        cls = self.code & 0x07
        mode = self.code & 0xE0
        if cls == Class.LDX:
            return _is_ldx_mem(self.code)
        return cls == Class.LD and mode in (Mode.ABS, Mode.IND)

    @property
    def is_store(self) -> bool:
        """A plain memory store: ST or STX with MEM mode (atomics are is_atomic)."""
        return self.code & 0x07 in (Class.ST, Class.STX) and (self.code & 0xE0) == Mode.MEM

    @property
    def is_atomic(self) -> bool:
        """STX|ATOMIC: add/and/or/xor (with or without fetch), xchg, cmpxchg, load-acquire, store-release."""
        return self.code & 0x07 == Class.STX and (self.code & 0xE0) == Mode.ATOMIC

    @property
    def mem_access(self) -> tuple[int, int, int] | None:
        """(base register, offset, size in bytes) of a plain load, store or atomic; None otherwise."""
        cls = self.code & 0x07
        mode = self.code & 0xE0
        if cls == Class.LDX and mode in (Mode.MEM, Mode.MEMSX):
            return self.src, self.off, SIZE_BYTES[self.code & 0x18]
        if cls in (Class.ST, Class.STX) and mode in (Mode.MEM, Mode.ATOMIC):
            return self.dst, self.off, SIZE_BYTES[self.code & 0x18]
        return None

    @property
    def is_mov_imm(self) -> bool:
        """`dst = imm` (ALU64 MOV K, imm sign-extended) or `wdst = imm` (ALU MOV K, zero-extended)."""
        return self.code == MOV64_IMM or self.code == MOV32_IMM

    @property
    def loaded_constant(self) -> int | None:
        """The constant this instruction puts in dst, as the register's 64 bits read unsigned.

        The one constant evaluator: `r = imm` (imm sign-extended to 64 bits), `w = imm` (zero-extended)
        and a plain `r = imm ll` (src 0, no relocation); None for anything else. Callers wanting the
        signed view apply opcodes.s64.
        """
        if self.code == MOV64_IMM:
            return self.imm & _M64
        if self.code == MOV32_IMM:
            return self.imm & 0xFFFFFFFF
        if self.code == LD_IMM64 and self.src == 0 and self.ref is None:
            return self.imm64 & _M64
        return None

    def make_r0_imm(self, value: int) -> None:
        """Turn this one-slot instruction into `r0 = value` in place, keeping its line and func metadata.

        Its relocation goes: libbpf fails on a relocated instruction that is not a call or ld_imm64.
        """
        self.code, self.dst, self.src, self.off, self.imm = MOV64_IMM, 0, 0, 0, value
        self.ref = None

    def defs(self) -> set[int]:
        """Registers this instruction writes (calls clobber r0-r5); empty for invalid encodings."""
        code = self.code
        cls = code & 0x07
        if cls in (Class.ALU, Class.ALU64):
            return {self.dst} if code & 0xF0 < 0xE0 else set()
        if cls == Class.LDX:
            return {self.dst} if _is_ldx_mem(code) else set()
        if cls == Class.LD:
            if code == LD_IMM64:
                return {self.dst}
            if code & 0xE0 in (Mode.ABS, Mode.IND):
                # the kernel treats these like a helper call: result in r0, r1-r5 clobbered
                return set(_CALL_DEFS)
            return set()
        if cls == Class.STX and code & 0xE0 == Mode.ATOMIC:
            op = self.imm
            if op == Atomic.CMPXCHG:
                return {0}
            if op == Atomic.LOAD_ACQ:
                return {self.dst}
            if op in _FETCH_OPS:
                return {self.src}
            return set()
        if code == CALL or code == CALLX:
            return set(_CALL_DEFS)
        return set()

    def uses(self) -> set[int]:
        """Registers this instruction reads (calls conservatively read r1-r5; exit reads r0)."""
        code = self.code
        cls = code & 0x07
        x = code & 0x08
        if cls in (Class.ALU, Class.ALU64):
            op = code & 0xF0
            if op >= 0xE0:
                return set()
            if op == 0xB0:  # mov
                return {self.src} if x else set()
            if op in (0x80, 0xD0):  # neg, byte swaps: one operand
                return {self.dst}
            return {self.dst, self.src} if x else {self.dst}
        mode = code & 0xE0
        if cls == Class.LDX:
            return {self.src} if _is_ldx_mem(code) else set()
        if cls == Class.LD:
            if mode == Mode.ABS:
                return {6}  # the skb is implicitly r6
            if mode == Mode.IND:
                return {6, self.src}
            return set()
        if cls == Class.ST:
            return {self.dst} if mode == Mode.MEM else set()
        if cls == Class.STX:
            if mode == Mode.MEM:
                return {self.dst, self.src}
            if mode != Mode.ATOMIC:
                return set()
            if self.imm == Atomic.LOAD_ACQ:
                return {self.src}
            if self.imm == Atomic.CMPXCHG:
                return {self.dst, self.src, 0}
            if self.imm in _NOFETCH_OPS or self.imm in _FETCH_OPS or self.imm == Atomic.STORE_REL:
                return {self.dst, self.src}
            return set()
        # JMP / JMP32
        if code == CALL:
            return set(_ARGS)
        if code == CALLX:
            return set(_ARGS) | {self.dst}
        if code == EXIT:
            return {0}
        if self.is_cond_jump:
            return {self.dst, self.src} if x else {self.dst}
        return set()


def _is_ldx_mem(code: int) -> bool:
    # MEMSX has no 8-byte form: sign-extending a 64-bit load would be a plain load.
    mode = code & 0xE0
    return mode == Mode.MEM or (mode == Mode.MEMSX and code & 0x18 != 0x18)


_NOFETCH_OPS = frozenset({Atomic.ADD, Atomic.OR, Atomic.AND, Atomic.XOR})
# Operations that write the old memory value back to src (cmpxchg writes r0 instead).
_FETCH_OPS = frozenset({op | Atomic.FETCH for op in _NOFETCH_OPS} | {Atomic.XCHG})
# Compare-and-jump operations (JEQ..JSLE including JSET; excludes JA, CALL, EXIT, JCOND).
_COND_OPS = frozenset({0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0})


def _s32(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def _imm_bytes(imm: int, byte_order: str) -> bytes:
    if not -(1 << 31) <= imm < (1 << 32):
        raise ValueError(f"imm {imm} does not fit in 32 bits")
    return (imm & 0xFFFFFFFF).to_bytes(4, byte_order)  # type: ignore[arg-type]


def _swap_pad(pad: bytes) -> bytes:
    """A second slot's code, registers and off in the other byte order (its own inverse)."""
    regs = pad[1]
    return bytes((pad[0], (regs & 0xF) << 4 | regs >> 4, pad[3], pad[2]))


def _pack(code: int, dst: int, src: int, off: int, imm: int, byte_order: str) -> bytes:
    if not (0 <= dst <= 15 and 0 <= src <= 15):
        raise ValueError(f"register out of range: dst={dst} src={src}")
    if not -(1 << 15) <= off < (1 << 16):
        raise ValueError(f"off {off} does not fit in 16 bits")
    if not -(1 << 31) <= imm < (1 << 32):
        raise ValueError(f"imm {imm} does not fit in 32 bits")
    regs = src << 4 | dst if byte_order == LITTLE else dst << 4 | src
    return _SLOT_ENCODE[byte_order].pack(code, regs, off & 0xFFFF, imm & 0xFFFFFFFF)


def decode(data: bytes, byte_order: str = LITTLE) -> list[Instruction]:
    """Decode a section's bytes (in byte_order, "little" or "big") into instructions (an ld_imm64 becomes one)."""
    if len(data) % 8:
        raise BpfrewriteError(f"BPF code length {len(data)} is not a multiple of 8 bytes")
    out: list[Instruction] = []
    append = out.append
    slots = _SLOT[byte_order].iter_unpack(data)
    little = byte_order == LITTLE
    pos = 0
    for code, regs, off, imm in slots:
        # one loop for both orders; the register nibbles are the only field struct cannot swap
        dst, src = (regs & 0xF, regs >> 4) if little else (regs >> 4, regs & 0xF)
        if code == LD_IMM64:
            second = next(slots, None)
            if second is None:
                raise BpfrewriteError(
                    f"ld_imm64 at byte offset {pos} is truncated: its second 8-byte slot is missing"
                )
            pad = data[pos + 8 : pos + 12]
            append(Instruction(code, dst, src, off, imm, second[3], pad if little else _swap_pad(pad)))
            pos += 16
        else:
            append(Instruction(code, dst, src, off, imm))
            pos += 8
    return out


def encode(insns: Iterable[Instruction], byte_order: str = LITTLE) -> bytes:
    """Encode instructions back to bytes in byte_order ("little" or "big")."""
    return b"".join([insn.encode(byte_order) for insn in insns])


def iter_slots(insns: Iterable[Instruction]) -> Iterator[tuple[int, int, Instruction]]:
    """Yield (list index, slot offset, instruction) for each instruction."""
    slot = 0
    for index, insn in enumerate(insns):
        yield index, slot, insn
        slot += 2 if insn.code == LD_IMM64 else 1


# Opcodes whose instructions branch (is_branch), decided once: the property chain costs more per
# instruction than the loops over 100k-instruction sections that ask it.
BRANCH_CODES = frozenset(code for code in range(256) if Instruction(code, 0, 0, 0, 0).is_branch)
