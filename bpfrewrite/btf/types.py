"""The .BTF section: type descriptors and strings, parsed into dataclasses and written back exactly.

Layout per the kernel's uapi linux/btf.h: a header, a type section of `struct btf_type` records each
followed by kind-specific data, and a string section. Either byte order: the magic 0xeB9F says
which (bpfel objects and the kernel's own BTF on x86 are little-endian, bpfeb objects big-endian),
and the section is written back in the order it was read.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple

from bpfrewrite.btf.strings import StringTable
from bpfrewrite.byteorder import BIG, LITTLE, layout
from bpfrewrite.errors import BpfrewriteError

BTF_MAGIC = 0xEB9F
BTF_VERSION = 1

# Each layout in both byte orders ({order: Struct}).
_HEADER = layout("HBBIIIII")  # magic, version, flags, hdr_len, type_off, type_len, str_off, str_len
_TYPE = layout("III")  # name_off, info, size_or_type
_U32 = layout("I")
_S32 = layout("i")
_TRIPLE = layout("III")  # btf_array, btf_member, btf_var_secinfo, btf_enum64
_PAIR = layout("II")  # btf_enum (value read as u32, sign applied by kflag), btf_param
_HEADER_SIZE = _HEADER[LITTLE].size
_LAYOUTS = (_TYPE, _U32, _S32, _TRIPLE, _PAIR)  # as _encode_type unpacks them

# info bits the kernel defines: vlen 0-15, kind 24-28, kind_flag 31. The rest is kept verbatim.
_INFO_KNOWN_MASK = 0x9F00FFFF
PTR_SIZE = 8  # BPF is a 64-bit target


class BtfKind(IntEnum):
    """BTF type kinds, numbered as in the kernel's BTF_KIND_* constants."""

    VOID = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


# Kinds whose size_or_type is a type id (the others carry a byte size or nothing).
_REF_KINDS = frozenset(
    {
        BtfKind.PTR, BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.FUNC,
        BtfKind.FUNC_PROTO, BtfKind.VAR, BtfKind.DECL_TAG, BtfKind.TYPE_TAG,
    }
)
_MODIFIER_KINDS = frozenset(
    {BtfKind.TYPEDEF, BtfKind.CONST, BtfKind.VOLATILE, BtfKind.RESTRICT, BtfKind.TYPE_TAG}
)
_SIZED_KINDS = frozenset(
    {BtfKind.INT, BtfKind.ENUM, BtfKind.ENUM64, BtfKind.STRUCT, BtfKind.UNION, BtfKind.FLOAT, BtfKind.DATASEC}
)


class BtfArray(NamedTuple):
    """struct btf_array."""

    type: int
    index_type: int
    nelems: int


class BtfMember(NamedTuple):
    """struct btf_member; offset is in bits (bitfield size in the top 8 bits when kflag is set)."""

    name_off: int
    type: int
    offset: int


class BtfEnumValue(NamedTuple):
    """struct btf_enum / btf_enum64; value is signed when the enum's kflag is set."""

    name_off: int
    value: int


class BtfParam(NamedTuple):
    """struct btf_param."""

    name_off: int
    type: int


class BtfVarSecinfo(NamedTuple):
    """struct btf_var_secinfo."""

    type: int
    offset: int
    size: int


@dataclass
class BtfType:
    """One BTF type: the common header fields plus its decoded kind-specific data."""

    kind: BtfKind
    name_off: int = 0
    vlen: int = 0  # as read; for kinds with a list the writer uses the list's length
    kflag: int = 0
    size_or_type: int = 0
    name: str = ""
    info_extra: int = 0  # info bits the kernel leaves unused, kept so output is exact
    int_encoding: int = 0  # INT: the raw u32 (encoding << 24 | bit offset << 16 | bits)
    array: BtfArray | None = None
    members: list[BtfMember] = field(default_factory=list)
    enum_values: list[BtfEnumValue] = field(default_factory=list)
    params: list[BtfParam] = field(default_factory=list)
    linkage: int = 0  # VAR: btf_var.linkage (FUNC keeps its linkage in vlen)
    datasec_vars: list[BtfVarSecinfo] = field(default_factory=list)
    component_idx: int = -1  # DECL_TAG

    @property
    def int_bits(self) -> int:
        """INT: number of value bits."""
        return self.int_encoding & 0xFF

    @property
    def int_offset(self) -> int:
        """INT: bit offset of the value."""
        return (self.int_encoding >> 16) & 0xFF

    @property
    def int_flags(self) -> int:
        """INT: BTF_INT_SIGNED | BTF_INT_CHAR | BTF_INT_BOOL bits."""
        return (self.int_encoding >> 24) & 0x0F

    def member_bit_offset(self, m: BtfMember) -> int:
        """Bit offset of member m inside this struct or union."""
        return m.offset & 0xFFFFFF if self.kflag else m.offset

    def member_bitfield_size(self, m: BtfMember) -> int:
        """Bitfield width of member m, 0 when it is not a bitfield (or kflag is clear)."""
        return m.offset >> 24 if self.kflag else 0


def _fail(msg: str) -> BpfrewriteError:
    return BpfrewriteError(f".BTF: {msg}")


def magic_order(data: bytes) -> str | None:
    """The byte order a BTF or BTF.ext section is in, from its magic (0xeB9F); None for a bad magic."""
    return {b"\x9f\xeb": LITTLE, b"\xeb\x9f": BIG}.get(bytes(data[:2]))


class _Reader:
    """Bounds-checked reads over the type section, in its byte order."""

    def __init__(self, data: bytes, order: str) -> None:
        self.data = data
        self.pos = 0
        self.order = order

    def take(self, layouts: dict[str, struct.Struct], what: str) -> tuple:
        fmt = layouts[self.order]
        if self.pos + fmt.size > len(self.data):
            raise _fail(f"type section ends inside {what} at byte {self.pos}")
        values = fmt.unpack_from(self.data, self.pos)
        self.pos += fmt.size
        return values


_MAX_KIND = max(BtfKind)


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def _decode_type(r: _Reader, type_id: int) -> BtfType:
    name_off, info, size_or_type = r.take(_TYPE, f"type {type_id}")
    raw_kind = (info >> 24) & 0x1F
    if raw_kind == 0 or raw_kind > _MAX_KIND:
        raise _fail(f"type {type_id} has unknown kind {raw_kind}")
    kind = BtfKind(raw_kind)
    vlen = info & 0xFFFF
    t = BtfType(kind, name_off, vlen, info >> 31, size_or_type, info_extra=info & ~_INFO_KNOWN_MASK)
    what = f"{kind.name} type {type_id}"
    if kind == BtfKind.INT:
        (t.int_encoding,) = r.take(_U32, what)
    elif kind == BtfKind.ARRAY:
        t.array = BtfArray(*r.take(_TRIPLE, what))
    elif kind in (BtfKind.STRUCT, BtfKind.UNION):
        t.members = [BtfMember(*r.take(_TRIPLE, what)) for _ in range(vlen)]
    elif kind == BtfKind.ENUM:
        values = (r.take(_PAIR, what) for _ in range(vlen))
        t.enum_values = [BtfEnumValue(n, _signed(v, 32) if t.kflag else v) for n, v in values]
    elif kind == BtfKind.ENUM64:
        values64 = (r.take(_TRIPLE, what) for _ in range(vlen))
        t.enum_values = [
            BtfEnumValue(n, _signed(hi << 32 | lo, 64) if t.kflag else hi << 32 | lo) for n, lo, hi in values64
        ]
    elif kind == BtfKind.FUNC_PROTO:
        t.params = [BtfParam(*r.take(_PAIR, what)) for _ in range(vlen)]
    elif kind == BtfKind.VAR:
        (t.linkage,) = r.take(_U32, what)
    elif kind == BtfKind.DATASEC:
        t.datasec_vars = [BtfVarSecinfo(*r.take(_TRIPLE, what)) for _ in range(vlen)]
    elif kind == BtfKind.DECL_TAG:
        (t.component_idx,) = r.take(_S32, what)
    return t


def _list_len(t: BtfType) -> int | None:
    """Length of the kind's variable-length list, or None for kinds whose vlen means something else."""
    if t.kind in (BtfKind.STRUCT, BtfKind.UNION):
        return len(t.members)
    if t.kind in (BtfKind.ENUM, BtfKind.ENUM64):
        return len(t.enum_values)
    if t.kind == BtfKind.FUNC_PROTO:
        return len(t.params)
    if t.kind == BtfKind.DATASEC:
        return len(t.datasec_vars)
    return None


def _encode_type(t: BtfType, out: bytearray, order: str) -> None:
    n = _list_len(t)
    vlen = t.vlen if n is None else n
    if vlen > 0xFFFF:
        raise _fail(f"{t.kind.name} type {t.name!r} has {vlen} entries, more than BTF allows (65535)")
    typ, u32, s32, triple, pair = (f[order] for f in _LAYOUTS)
    info = vlen | (t.info_extra & ~_INFO_KNOWN_MASK) | (int(t.kind) << 24) | ((t.kflag & 1) << 31)
    out += typ.pack(t.name_off, info, t.size_or_type)
    if t.kind == BtfKind.INT:
        out += u32.pack(t.int_encoding)
    elif t.kind == BtfKind.ARRAY:
        if t.array is None:
            raise _fail(f"ARRAY type {t.name!r} has no array data")
        out += triple.pack(*t.array)
    elif t.kind in (BtfKind.STRUCT, BtfKind.UNION):
        for m in t.members:
            out += triple.pack(*m)
    elif t.kind == BtfKind.ENUM:
        for e in t.enum_values:
            out += pair.pack(e.name_off, e.value & 0xFFFFFFFF)
    elif t.kind == BtfKind.ENUM64:
        for e in t.enum_values:
            v = e.value & 0xFFFFFFFFFFFFFFFF
            out += triple.pack(e.name_off, v & 0xFFFFFFFF, v >> 32)
    elif t.kind == BtfKind.FUNC_PROTO:
        for p in t.params:
            out += pair.pack(*p)
    elif t.kind == BtfKind.VAR:
        out += u32.pack(t.linkage)
    elif t.kind == BtfKind.DATASEC:
        for v in t.datasec_vars:
            out += triple.pack(*v)
    elif t.kind == BtfKind.DECL_TAG:
        out += s32.pack(t.component_idx)


def _type_refs(t: BtfType) -> list[int]:
    """Every type id t refers to."""
    refs = [t.size_or_type] if t.kind in _REF_KINDS else []
    if t.array is not None:
        refs += [t.array.type, t.array.index_type]
    refs += [m.type for m in t.members]
    refs += [p.type for p in t.params]
    refs += [v.type for v in t.datasec_vars]
    return refs


def _string_refs(t: BtfType) -> list[int]:
    """Every string offset t uses."""
    return [t.name_off, *(m.name_off for m in t.members), *(e.name_off for e in t.enum_values),
            *(p.name_off for p in t.params)]


class BTF:
    """A parsed .BTF section: types[id] for every type id (0 is VOID) and the string table."""

    def __init__(self, types: list[BtfType] | None = None, strings: StringTable | None = None,
                 flags: int = 0, header_extra: bytes = b"", byte_order: str = LITTLE) -> None:
        """Build BTF from types (index 0 must be VOID) and strings; empty BTF by default."""
        self.types: list[BtfType] = types if types is not None else [BtfType(BtfKind.VOID)]
        self.strings: StringTable = strings if strings is not None else StringTable()
        self.flags = flags
        self.byte_order = byte_order  # as read (the magic says); serialize() writes this order
        self.header_extra = header_extra  # header bytes past the fields we know (hdr_len > 24)
        # Set by parse() for inputs whose sections are not laid out header|types|strings.
        self._odd_layout: tuple[bytes, bytes, bytes] | None = None

    @classmethod
    def parse(cls, data: bytes) -> "BTF":
        """Parse the contents of a .BTF section."""
        data = bytes(data)
        if len(data) < _HEADER_SIZE:
            raise _fail(f"section is {len(data)} bytes, too short for the {_HEADER_SIZE}-byte header")
        order = magic_order(data)
        if order is None:
            raise _fail(f"bad magic 0x{int.from_bytes(data[:2], 'little'):04x} (expected 0x{BTF_MAGIC:04x})")
        magic, version, flags, hdr_len, type_off, type_len, str_off, str_len = _HEADER[order].unpack_from(data)
        if version != BTF_VERSION:
            raise _fail(f"unsupported version {version} (expected {BTF_VERSION})")
        if hdr_len < _HEADER_SIZE or hdr_len > len(data):
            raise _fail(f"header length {hdr_len} is invalid for a {len(data)}-byte section")
        body = data[hdr_len:]
        for what, off, length in (("type", type_off, type_len), ("string", str_off, str_len)):
            if off + length > len(body):
                raise _fail(f"{what} section (off {off}, len {length}) runs past the end of the data")
        if type_off % 4:
            raise _fail(f"type section offset {type_off} is not 4-byte aligned")
        if type_len and str_len and type_off < str_off + str_len and str_off < type_off + type_len:
            raise _fail("type and string sections overlap")
        type_bytes = body[type_off:type_off + type_len]
        str_bytes = body[str_off:str_off + str_len]
        try:
            strings = StringTable(str_bytes)
        except BpfrewriteError as e:
            raise _fail(str(e)) from None
        btf = cls(strings=strings, flags=flags, header_extra=data[_HEADER_SIZE:hdr_len], byte_order=order)
        reader = _Reader(type_bytes, order)
        while reader.pos < len(type_bytes):
            btf.types.append(_decode_type(reader, len(btf.types)))
        btf._check_references()
        for t in btf.types[1:]:
            t.name = strings.get(t.name_off)
        if not (type_off == 0 and str_off == type_len and len(body) == type_len + str_len):
            btf._odd_layout = (data, type_bytes, str_bytes)
        return btf

    def _check_references(self) -> None:
        count = len(self.types)
        for type_id, t in enumerate(self.types[1:], start=1):
            for off in _string_refs(t):
                if not self.strings.contains(off):
                    raise _fail(f"{t.kind.name} type {type_id} uses string offset {off}, "
                                f"outside the {len(self.strings)}-byte string table")
            for ref in _type_refs(t):
                if ref >= count:
                    raise _fail(f"{t.kind.name} type {type_id} refers to type {ref}, but there are only {count}")

    def _encode_types(self, order: str) -> bytes:
        out = bytearray()
        for t in self.types[1:]:
            _encode_type(t, out, order)
        return bytes(out)

    def serialize(self, byte_order: str | None = None) -> bytes:
        """The .BTF section bytes: header, types, strings (identical to the input when unchanged).

        In byte_order ("little" or "big"), by default the order it was read in.
        """
        order = self.byte_order if byte_order is None else byte_order
        if order != self.byte_order and self.header_extra:
            # Header fields we do not know cannot be swapped: written as read they would mix orders.
            raise _fail(f"cannot write it in {order}-endian order: its header has {len(self.header_extra)} "
                        f"bytes this version does not know")
        self._check_references()
        type_bytes = self._encode_types(order)
        str_bytes = self.strings.to_bytes()
        if self._odd_layout is not None:
            raw, old_types, old_strings = self._odd_layout
            if type_bytes == old_types and str_bytes == old_strings and order == self.byte_order:
                return raw  # keeps the input's gaps and section order, which we have no reason to change
        hdr_len = _HEADER_SIZE + len(self.header_extra)
        header = _HEADER[order].pack(BTF_MAGIC, BTF_VERSION, self.flags, hdr_len,
                                     0, len(type_bytes), len(type_bytes), len(str_bytes))
        return header + self.header_extra + type_bytes + str_bytes

    def add_type(self, t: BtfType) -> int:
        """Append t (naming it from t.name when name_off is 0) and return its new type id."""
        if t.kind == BtfKind.VOID:
            raise BpfrewriteError("cannot add a VOID type: id 0 is the only VOID")
        if t.name and not t.name_off:
            t.name_off = self.strings.add(t.name)
        elif t.name_off and not t.name:
            t.name = self.strings.get(t.name_off)
        n = _list_len(t)
        if n is not None:
            t.vlen = n
        # References are checked when writing, not here: mutually referencing types are added one by one.
        self.types.append(t)
        return len(self.types) - 1

    def _get(self, type_id: int) -> BtfType:
        if not 0 <= type_id < len(self.types):
            raise BpfrewriteError(f"BTF type id {type_id} does not exist (there are {len(self.types)} types)")
        return self.types[type_id]

    def name(self, type_id: int) -> str:
        """Name of a type ("" for anonymous types and VOID)."""
        return self._get(type_id).name

    def find(self, kind: BtfKind, name: str) -> int | None:
        """Id of the first type of this kind and name, or None."""
        for type_id, t in enumerate(self.types):
            if t.kind == kind and t.name == name:
                return type_id
        return None

    def resolve(self, type_id: int) -> int:
        """Id reached from type_id by skipping typedef/const/volatile/restrict/type_tag."""
        for _ in range(len(self.types)):
            t = self._get(type_id)
            if t.kind not in _MODIFIER_KINDS:
                return type_id
            type_id = t.size_or_type
        raise BpfrewriteError(f"BTF type {type_id} is part of a typedef/modifier loop")

    def size_of(self, type_id: int) -> int | None:
        """Size in bytes of a type, or None when it has none (void, functions, forward declarations)."""
        factor = 1
        for _ in range(len(self.types) + 1):
            t = self._get(self.resolve(type_id))
            if t.kind in _SIZED_KINDS:
                return factor * t.size_or_type
            if t.kind == BtfKind.PTR:
                return factor * PTR_SIZE
            if t.kind == BtfKind.ARRAY and t.array is not None:
                factor *= t.array.nelems
                type_id = t.array.type
            elif t.kind == BtfKind.VAR:
                type_id = t.size_or_type
            else:
                return None
        raise BpfrewriteError(f"BTF type {type_id} is part of an array loop")
