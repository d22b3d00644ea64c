"""BPF's two byte orders, and binary layouts that can be read and written in either.

clang builds `-target bpfel` (little-endian, x86 and arm64 hosts) or `-target bpfeb` (big-endian:
s390x, some MIPS and PowerPC). The ELF header says which (EI_DATA); every multi-byte field of the
object follows it: ELF structures, instructions, .BTF and .BTF.ext (whose magic 0xeB9F reads as
0x9FEB in the other order). The model keeps the order once, on the Object, as Python spells it
(`int.to_bytes`, `sys.byteorder`).
"""
from __future__ import annotations

import struct

LITTLE = "little"
BIG = "big"
_PREFIX = {LITTLE: "<", BIG: ">"}
ELF_DATA = {LITTLE: 1, BIG: 2}  # the ELF header's EI_DATA byte: ELFDATA2LSB, ELFDATA2MSB


def layout(fmt: str) -> dict[str, struct.Struct]:
    """A struct format (without a byte-order prefix) compiled for each byte order: {order: Struct}."""
    return {order: struct.Struct(prefix + fmt) for order, prefix in _PREFIX.items()}


def target(order: str) -> str:
    """clang's name for the BPF target of a byte order ("bpfel" or "bpfeb"), for messages."""
    return "bpfel" if order == LITTLE else "bpfeb"
