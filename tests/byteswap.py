"""Test-only: a model read from a big-endian (bpfeb) object, made to be written little-endian.

This kernel cannot load bpfeb code, but it can judge what bpfrewrite parsed and patched: the model
is order-free (instructions, BTF, BTF.ext and relocations are decoded), so the writer emits it in
the other order when told to. Only section bytes the model passes through keep the input's order;
the global variables in them are swapped here, variable by variable, as their BTF types say.
"""
from __future__ import annotations

from bpfrewrite.btf.types import BTF, BtfKind
from bpfrewrite.model import Object

_SCALARS = (BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64, BtfKind.PTR, BtfKind.FLOAT)
# Sections the model decodes (written in the object's order by the writer) or that have no byte
# order (strings, JSON, ULEB128 symbol indexes). DWARF keeps the input's order: no loader reads it.
_NEUTRAL = (".BTF", ".BTF.ext", ".symtab", ".strtab", ".llvm_addrsig", "license", ".bpfrewrite")
_NEUTRAL_PREFIXES = (".rel", ".debug_", ".rodata.str")


def _swap(btf: BTF, type_id: int, buf: bytearray, off: int) -> None:
    t = btf.types[btf.resolve(type_id)]
    if t.kind == BtfKind.VAR:
        _swap(btf, t.size_or_type, buf, off)
    elif t.kind in _SCALARS:
        size = btf.size_of(type_id) or 0
        buf[off:off + size] = buf[off:off + size][::-1]
    elif t.kind == BtfKind.ARRAY and t.array is not None:
        step = btf.size_of(t.array.type) or 0
        for i in range(t.array.nelems if step > 1 else 0):  # bytes and chars need nothing
            _swap(btf, t.array.type, buf, off + i * step)
    elif t.kind == BtfKind.STRUCT:
        for m in t.members:
            if t.member_bitfield_size(m):
                raise NotImplementedError(f"bitfield {btf.strings.get(m.name_off)!r} in {t.name!r}")
            _swap(btf, m.type, buf, off + t.member_bit_offset(m) // 8)
    elif t.kind == BtfKind.UNION:
        size = btf.size_of(type_id) or 0
        if any(buf[off:off + size]):  # which member is live is not known; zeros read the same
            raise NotImplementedError(f"a non-zero union {t.name!r}")
    else:
        raise NotImplementedError(f"a variable of BTF kind {t.kind.name}")


def to_little_endian(obj: Object) -> None:
    """Make obj, read from a bpfeb object, write as bpfel: its data sections' variables swapped."""
    assert obj.byte_order == "big" and obj.btf is not None
    btf = obj.btf
    described = set()
    for t in btf.types:
        sec = obj.section(t.name) if t.kind == BtfKind.DATASEC else None
        if sec is None or sec.type == 8:  # SHT_NOBITS: .bss has no bytes
            continue
        buf = bytearray(sec.data)
        # clang leaves DATASEC offsets 0 in objects (libbpf fills them in from the symbols at load)
        at = {sym.name: sym.value for sym in obj.symbols if sym.shndx == sec.index}
        for var_id, _off, _size in t.datasec_vars:
            _swap(btf, var_id, buf, at[btf.types[var_id].name])
        sec.data = bytes(buf)
        described.add(sec.name)
    for sec in obj.sections[1:]:
        if sec.is_exec or sec.type == 8 or sec.name in described or sec.name in _NEUTRAL:
            continue
        if not sec.name.startswith(_NEUTRAL_PREFIXES):
            raise NotImplementedError(f"section {sec.name!r}: no BTF says how to swap it")
    obj.byte_order = "little"
