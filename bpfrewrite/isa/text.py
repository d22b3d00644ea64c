"""Instruction text in LLVM's BPF assembly syntax, exactly as llvm-objdump-19 -d prints it.

The rules mirror LLVM 19's BPF disassembler, which is run without a CPU so it uses the generic
subtarget: sub-64-bit loads, stores and atomics decode with 64-bit (`r`) register names, and the
32-bit fetch/xchg/cmpxchg atomics (and load-acquire / store-release, unknown to LLVM 19) print as
`<unknown>`. A field the LLVM decoder ignores is ignored here too; registers above r11 do not decode.
Tabs in LLVM's output (`ld_pseudo\t`) are written as one space. Checked against llvm-objdump-19 by
tests/test_isa_objdump.py, including a sweep over every opcode byte.
"""
from __future__ import annotations

from typing import Callable, Protocol

UNKNOWN = "<unknown>"


class _Insn(Protocol):
    code: int
    dst: int
    src: int
    off: int
    imm: int
    imm2: int


def _hex(value: int) -> str:
    return f"-0x{-value:x}" if value < 0 else f"0x{value:x}"


def _target(value: int) -> str:
    return f"-0x{-value:x}" if value < 0 else f"+0x{value:x}"


def _mem(reg: str, off: int) -> str:
    return f"{reg} - 0x{-off:x}" if off < 0 else f"{reg} + 0x{off:x}"


_SIZE_NAME = {0x00: "u32", 0x08: "u16", 0x10: "u8", 0x18: "u64"}
_SSIZE_NAME = {0x00: "s32", 0x08: "s16", 0x10: "s8"}
_ALU_SYM = {
    0x00: "+=", 0x10: "-=", 0x20: "*=", 0x40: "|=", 0x50: "&=", 0x60: "<<=", 0x70: ">>=",
    0xA0: "^=", 0xC0: "s>>=",
}
_JMP_SYM = {
    0x10: "==", 0x20: ">", 0x30: ">=", 0x40: "&", 0x50: "!=", 0x60: "s>", 0x70: "s>=",
    0xA0: "<", 0xB0: "<=", 0xC0: "s<", 0xD0: "s<=",
}
_ATOMIC_LOCK = {0x00: "+=", 0x40: "|=", 0x50: "&=", 0xA0: "^="}
_ATOMIC_FETCH = {0x01: "add", 0x41: "or", 0x51: "and", 0xA1: "xor"}

Formatter = Callable[[_Insn], "str | None"]


def _reg(n: int, prefix: str) -> str | None:
    # LLVM's GPR class stops at r11; a larger number fails to decode.
    return f"{prefix}{n}" if n <= 11 else None


def _with_reg(field: str, text: Callable[[str, _Insn], str]) -> Formatter:
    """A formatter of an instruction naming one 64-bit register (its `dst` or `src`)."""
    def f(i: _Insn) -> str | None:
        r = _reg(getattr(i, field), "r")
        return None if r is None else text(r, i)
    return f


def _with_regs(text: Callable[[str, str, _Insn], str | None]) -> Formatter:
    """A formatter of a memory instruction naming dst and src as 64-bit registers."""
    def f(i: _Insn) -> str | None:
        d, s = _reg(i.dst, "r"), _reg(i.src, "r")
        return None if d is None or s is None else text(d, s, i)
    return f


def _alu(code: int) -> Formatter:
    p = "w" if code & 0x07 == 0x04 else "r"
    op = code & 0xF0
    x = code & 0x08
    is64 = p == "r"

    if op in _ALU_SYM or op in (0x30, 0x90):
        def f(i: _Insn) -> str | None:
            if op == 0x30 or op == 0x90:
                if i.off not in (0, 1):
                    return None
                sym = ("s" if i.off else "") + ("/=" if op == 0x30 else "%=")
            else:
                if i.off != 0:
                    return None
                sym = _ALU_SYM[op]
            d = _reg(i.dst, p)
            if d is None:
                return None
            if x:
                s = _reg(i.src, p)
                return None if s is None else f"{d} {sym} {s}"
            return f"{d} {sym} {_hex(i.imm)}"
        return f

    if op == 0x80:  # neg: only the K form exists
        if x:
            return lambda i: None

        def f(i: _Insn) -> str | None:
            d = _reg(i.dst, p)
            return None if d is None else f"{d} = -{d}"
        return f

    if op == 0xB0:
        sx = {8: "(s8)", 16: "(s16)", 32: "(s32)"} if is64 else {8: "(s8)", 16: "(s16)"}

        def f(i: _Insn) -> str | None:
            d = _reg(i.dst, p)
            if d is None:
                return None
            if not x:
                return f"{d} = {_hex(i.imm)}" if i.off == 0 else None
            s = _reg(i.src, p)
            if s is None:
                return None
            if i.off == 0:
                return f"{d} = {s}"
            if i.off == 1 and is64:  # arena pointer cast (LLVM 19); imm = dst_as << 16 | src_as
                return f"{d} = addr_space_cast({s}, 0x{(i.imm >> 16) & 0xFFFF:x}, 0x{i.imm & 0xFFFF:x})"
            cast = sx.get(i.off)
            return None if cast is None else f"{d} = {cast}{s}"
        return f

    if op == 0xD0:
        if is64 and x:
            return lambda i: None
        name = "bswap" if is64 else ("be" if x else "le")

        def f(i: _Insn) -> str | None:
            d = _reg(i.dst, "r")
            if d is None or i.imm not in (16, 32, 64):
                return None
            return f"{d} = {name}{i.imm} {d}"
        return f

    return lambda i: None


def _jmp(code: int) -> Formatter:
    is32 = code & 0x07 == 0x06
    p = "w" if is32 else "r"
    op = code & 0xF0
    x = code & 0x08

    if op in _JMP_SYM:
        sym = _JMP_SYM[op]

        def f(i: _Insn) -> str | None:
            d = _reg(i.dst, p)
            if d is None:
                return None
            if x:
                s = _reg(i.src, p)
                if s is None:
                    return None
            else:
                s = _hex(i.imm)
            return f"if {d} {sym} {s} goto {_target(i.off)}"
        return f
    if code == 0x05:
        return lambda i: f"goto {_target(i.off)}"
    if code == 0x06:
        return lambda i: f"gotol {_target(i.imm)}"
    if code == 0x85:
        return lambda i: f"call {_hex(i.imm)}"
    if code == 0x8D:
        return _with_reg("dst", lambda d, i: f"callx {d}")
    if code == 0x95:
        return lambda i: "exit" if i.imm == 0 else None
    if code == 0xE5:
        return lambda i: f"may_goto {_target(i.off)}"
    return lambda i: None


def _ld(code: int) -> Formatter:
    mode = code & 0xE0
    size = code & 0x18
    if code == 0x18:
        def f(i: _Insn) -> str | None:
            d = _reg(i.dst, "r")
            if d is None or i.off != 0:
                return None
            if i.src == 0:
                value = (i.imm2 & 0xFFFFFFFF) << 32 | (i.imm & 0xFFFFFFFF)
                if value >> 63:
                    value -= 1 << 64
                return f"{d} = {_hex(value)} ll"
            return f"ld_pseudo {d}, {_hex(i.src)}, {_hex(i.imm & 0xFFFFFFFF)}"
        return f
    if size == 0x18:
        return lambda i: None
    if mode == 0x20:
        return lambda i: f"r0 = *({_SIZE_NAME[size]} *)skb[{_hex(i.imm)}]"
    if mode == 0x40:
        return _with_reg("src", lambda s, i: f"r0 = *({_SIZE_NAME[size]} *)skb[{s}]")
    return lambda i: None


def _ldx(code: int) -> Formatter:
    mode = code & 0xE0
    size = code & 0x18
    if mode == 0x60:
        ty = _SIZE_NAME[size]
    elif mode == 0x80 and size in _SSIZE_NAME:
        ty = _SSIZE_NAME[size]
    else:
        return lambda i: None
    return _with_regs(lambda d, s, i: f"{d} = *({ty} *)({_mem(s, i.off)})")


def _st(code: int) -> Formatter:
    if code & 0xE0 != 0x60:
        return lambda i: None
    ty = _SIZE_NAME[code & 0x18]
    return _with_reg("dst", lambda d, i: f"*({ty} *)({_mem(d, i.off)}) = {_hex(i.imm)}")


def _stx(code: int) -> Formatter:
    mode = code & 0xE0
    size = code & 0x18
    ty = _SIZE_NAME[size]
    if mode == 0x60:
        return _with_regs(lambda d, s, i: f"*({ty} *)({_mem(d, i.off)}) = {s}")
    if mode != 0xC0 or size not in (0x00, 0x18):
        return lambda i: None
    dw = size == 0x18

    def atomic(d: str, s: str, i: _Insn) -> str | None:
        # LLVM decodes only imm bits 0-7: the operation (4-7) and the fetch flag (0-3) when the
        # operation has a fetch form; other low bits fall back to the no-fetch form.
        op, flag = i.imm & 0xF0, i.imm & 0x0F
        addr = _mem(d, i.off)
        if not dw:
            # The generic CPU knows only the old 32-bit xadd; other 32-bit atomics need alu32.
            return f"lock *(u32 *)({addr}) += {s}" if op == 0 else None
        if flag == 1:
            if op | 1 in _ATOMIC_FETCH:
                return f"{s} = atomic_fetch_{_ATOMIC_FETCH[op | 1]}((u64 *)({addr}), {s})"
            if op == 0xE0:
                return f"{s} = xchg_64({addr}, {s})"
            if op == 0xF0:
                return f"r0 = cmpxchg_64({addr}, r0, {s})"
        if op in _ATOMIC_LOCK:
            return f"lock *(u64 *)({addr}) {_ATOMIC_LOCK[op]} {s}"
        return None
    return _with_regs(atomic)


_BY_CLASS = {0: _ld, 1: _ldx, 2: _st, 3: _stx, 4: _alu, 5: _jmp, 6: _jmp, 7: _alu}
_TABLE: list[Formatter] = [_BY_CLASS[code & 0x07](code) for code in range(256)]


def format_instruction(insn: _Insn) -> str:
    """llvm-objdump-19's text for one instruction, `<unknown>` where LLVM cannot decode it."""
    text = _TABLE[insn.code](insn)
    return UNKNOWN if text is None else text
