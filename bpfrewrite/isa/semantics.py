"""What BPF operations compute, as the ISA defines them (RFC 9669 sections 4.1 and 4.3).

Values are a register's bits as an unsigned int; `bits` is the operation's width (32 for ALU and
JMP32, 64 for ALU64 and JMP). Analyses that evaluate code (constant propagation, loop bounds)
ask these instead of writing their own tables of operation codes.
"""
from __future__ import annotations

from bpfrewrite.isa.opcodes import AluOp, JmpOp

# Compare-and-jump operations that read their operands as signed numbers.
SIGNED_JUMPS = frozenset({JmpOp.JSGT, JmpOp.JSGE, JmpOp.JSLT, JmpOp.JSLE})
# The same comparison with its operands exchanged (`a < b` is `b > a`); jset has none.
SWAPPED = {
    JmpOp.JEQ: JmpOp.JEQ, JmpOp.JNE: JmpOp.JNE,
    JmpOp.JGT: JmpOp.JLT, JmpOp.JLT: JmpOp.JGT, JmpOp.JGE: JmpOp.JLE, JmpOp.JLE: JmpOp.JGE,
    JmpOp.JSGT: JmpOp.JSLT, JmpOp.JSLT: JmpOp.JSGT, JmpOp.JSGE: JmpOp.JSLE, JmpOp.JSLE: JmpOp.JSGE,
}


def sext(value: int, bits: int) -> int:
    """The low `bits` bits of value read as a two's complement number."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def as_number(value: int, bits: int, signed: bool) -> int:
    """The low `bits` bits of value as the number a signed or unsigned operation sees."""
    return sext(value, bits) if signed else value & ((1 << bits) - 1)


def alu(op: int, a: int, b: int, bits: int, off: int = 0) -> int | None:
    """`a op b` on `bits`-wide values (the result unsigned); None for operations not modelled.

    Not modelled: signed division and modulo (off 1), mov and byte swaps (not binary operations).
    """
    mask = (1 << bits) - 1
    a, b = a & mask, b & mask
    shift = b & (bits - 1)  # the ISA masks the shift amount to the operand width
    if op == AluOp.ADD:
        r = a + b
    elif op == AluOp.SUB:
        r = a - b
    elif op == AluOp.MUL:
        r = a * b
    elif op == AluOp.DIV and off == 0:
        r = a // b if b else 0  # division by zero gives 0
    elif op == AluOp.OR:
        r = a | b
    elif op == AluOp.AND:
        r = a & b
    elif op == AluOp.LSH:
        r = a << shift
    elif op == AluOp.RSH:
        r = a >> shift
    elif op == AluOp.NEG:
        r = -a
    elif op == AluOp.MOD and off == 0:
        r = a % b if b else a  # modulo by zero leaves dst unchanged
    elif op == AluOp.XOR:
        r = a ^ b
    elif op == AluOp.ARSH:
        r = sext(a, bits) >> shift
    else:
        return None
    return r & mask


def holds(op: int, a: int, b: int) -> bool:
    """Whether the ordering or equality jump op holds between two numbers already read (see as_number)."""
    if op == JmpOp.JEQ:
        return a == b
    if op == JmpOp.JNE:
        return a != b
    if op in (JmpOp.JGT, JmpOp.JSGT):
        return a > b
    if op in (JmpOp.JGE, JmpOp.JSGE):
        return a >= b
    if op in (JmpOp.JLT, JmpOp.JSLT):
        return a < b
    return a <= b  # JLE, JSLE


def jump_condition(op: int, a: int, b: int, bits: int) -> bool | None:
    """Whether compare-and-jump op on `bits`-wide register values a and b jumps; None: not one."""
    if op == JmpOp.JSET:
        return bool(a & b & ((1 << bits) - 1))
    if op not in SWAPPED:
        return None
    signed = op in SIGNED_JUMPS
    return holds(op, as_number(a, bits, signed), as_number(b, bits, signed))
