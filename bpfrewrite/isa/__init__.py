"""The BPF instruction codec: opcodes, Instruction, decode/encode, objdump-style text."""
from bpfrewrite.isa.instruction import Instruction, decode, encode, iter_slots

__all__ = ["Instruction", "decode", "encode", "iter_slots"]
