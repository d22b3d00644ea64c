"""The .BTF.ext section: func_info, line_info and CO-RE relocation records, grouped by ELF section.

Layout per libbpf (btf.h / libbpf_internal.h): a header with (off, len) pairs for each subsection;
each subsection is a u32 record size followed by blocks of {sec_name_off, num_info, records...}.
In an object file insn_off counts BYTES from the start of the ELF section; the kernel's
bpf_func_info/bpf_line_info count 8-byte instruction SLOTS. ByteOffset keeps the two apart.
Either byte order, as the magic says (like .BTF's); a section is written back in the order it was read.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, NewType

from bpfrewrite.btf.types import magic_order
from bpfrewrite.byteorder import LITTLE, layout
from bpfrewrite.errors import BpfrewriteError

if TYPE_CHECKING:
    from bpfrewrite.btf.types import BTF

ByteOffset = NewType("ByteOffset", int)
INSN_SIZE = 8

BTF_EXT_MAGIC = 0xEB9F
BTF_EXT_VERSION = 1

# Each layout in both byte orders ({order: Struct}); sizes are the same in both.
_HEADER_PREFIX = layout("HBBI")  # magic, version, flags, hdr_len
_INFO_OFFSETS = layout("IIII")  # func_info_off, func_info_len, line_info_off, line_info_len
_CORE_OFFSETS = layout("II")  # core_relo_off, core_relo_len (optional header part)
_PREFIX_SIZE = _HEADER_PREFIX[LITTLE].size
_MIN_HEADER = _PREFIX_SIZE + _INFO_OFFSETS[LITTLE].size
_FULL_HEADER = _MIN_HEADER + _CORE_OFFSETS[LITTLE].size
_U32 = layout("I")  # record size at the start of each subsection
_SEC_HEADER = layout("II")  # sec_name_off, num_info
_SEC_HEADER_SIZE = _SEC_HEADER[LITTLE].size
_FUNC_INFO = layout("II")  # insn_off, type_id
_LINE_INFO = layout("IIII")  # insn_off, file_name_off, line_off, line_col
_CORE_RELO = layout("IIII")  # insn_off, type_id, access_str_off, kind

LINE_COL_BITS = 10  # line_col = line << 10 | col (BPF_LINE_INFO_LINE_NUM / _LINE_COL in linux/bpf.h)


def to_slot(off: ByteOffset) -> int:
    """Instruction slot index of a .BTF.ext byte offset."""
    if off % INSN_SIZE:
        raise BpfrewriteError(f".BTF.ext: insn_off {off} is not a multiple of {INSN_SIZE}")
    return off // INSN_SIZE


def to_byte_offset(slot: int) -> ByteOffset:
    """.BTF.ext byte offset of an instruction slot index."""
    return ByteOffset(slot * INSN_SIZE)


@dataclass
class FuncInfoRec:
    """A func_info record: the BTF FUNC type of the function starting at insn_off."""

    insn_off: ByteOffset
    type_id: int
    tail: bytes = b""  # bytes past the fields we know, when the record size is larger


@dataclass
class LineInfoRec:
    """A line_info record: the source line of the instruction at insn_off."""

    insn_off: ByteOffset
    file_name_off: int
    line_off: int
    line: int
    col: int
    tail: bytes = b""


@dataclass
class CoreReloRec:
    """A CO-RE relocation record for the instruction at insn_off."""

    insn_off: ByteOffset
    type_id: int
    access_str_off: int
    kind: int
    tail: bytes = b""


def _fail(msg: str) -> BpfrewriteError:
    return BpfrewriteError(f".BTF.ext: {msg}")


# A record's tail (fields past the ones we know) stays raw bytes, in the order it was read.
def _decode_func(raw: bytes, order: str) -> FuncInfoRec:
    fmt = _FUNC_INFO[order]
    off, type_id = fmt.unpack_from(raw)
    return FuncInfoRec(ByteOffset(off), type_id, raw[fmt.size:])


def _decode_line(raw: bytes, order: str) -> LineInfoRec:
    fmt = _LINE_INFO[order]
    off, file_off, line_off, line_col = fmt.unpack_from(raw)
    col = line_col & ((1 << LINE_COL_BITS) - 1)
    return LineInfoRec(ByteOffset(off), file_off, line_off, line_col >> LINE_COL_BITS, col, raw[fmt.size:])


def _decode_core(raw: bytes, order: str) -> CoreReloRec:
    fmt = _CORE_RELO[order]
    off, type_id, access_off, kind = fmt.unpack_from(raw)
    return CoreReloRec(ByteOffset(off), type_id, access_off, kind, raw[fmt.size:])


def _encode_func(r: FuncInfoRec, order: str) -> bytes:
    return _FUNC_INFO[order].pack(r.insn_off, r.type_id)


def _encode_line(r: LineInfoRec, order: str) -> bytes:
    if not 0 <= r.col < 1 << LINE_COL_BITS or not 0 <= r.line < 1 << (32 - LINE_COL_BITS):
        raise _fail(f"line {r.line} column {r.col} does not fit line_info's line_col field")
    return _LINE_INFO[order].pack(r.insn_off, r.file_name_off, r.line_off, r.line << LINE_COL_BITS | r.col)


def _encode_core(r: CoreReloRec, order: str) -> bytes:
    return _CORE_RELO[order].pack(r.insn_off, r.type_id, r.access_str_off, r.kind)


@dataclass(frozen=True)
class _Kind:
    """How one subsection's records are read and written."""

    desc: str
    known: dict[str, struct.Struct]
    decode: Callable
    encode: Callable
    str_fields: tuple[str, ...]  # record fields holding BTF string offsets


_FUNC = _Kind("func_info", _FUNC_INFO, _decode_func, _encode_func, ())
_LINE = _Kind("line_info", _LINE_INFO, _decode_line, _encode_line, ("file_name_off", "line_off"))
_CORE = _Kind("core_relo", _CORE_RELO, _decode_core, _encode_core, ("access_str_off",))


def _walk_subsection(kind: _Kind, body: bytes, off: int, length: int,
                     order: str) -> tuple[int, list[tuple[int, int]]]:
    """Record size and (section name offset, record position in body) of one subsection, validated."""
    known = kind.known[order].size
    if length == 0:
        return known, []
    if off % 4:
        raise _fail(f"{kind.desc} subsection offset {off} is not 4-byte aligned")
    if off + length > len(body):
        raise _fail(f"{kind.desc} subsection (off {off}, len {length}) runs past the end of the data")
    end = off + length
    u32 = _U32[order]
    if length < u32.size:
        raise _fail(f"{kind.desc} subsection has no record size")
    (rec_size,) = u32.unpack_from(body, off)
    if rec_size < known or rec_size % 4:
        raise _fail(f"{kind.desc} record size {rec_size} is invalid (minimum {known}, multiple of 4)")
    pos = off + u32.size
    if pos == end:
        raise _fail(f"{kind.desc} subsection has no records")
    records: list[tuple[int, int]] = []
    while pos < end:
        if pos + _SEC_HEADER_SIZE > end:
            raise _fail(f"{kind.desc} subsection ends inside a section header")
        name_off, count = _SEC_HEADER[order].unpack_from(body, pos)
        pos += _SEC_HEADER_SIZE
        if count == 0 or pos + count * rec_size > end:
            raise _fail(f"{kind.desc} block for section name offset {name_off} has a bad record count {count}")
        for _ in range(count):
            records.append((name_off, pos))
            pos += rec_size
    return rec_size, records


def _parse_subsection(kind: _Kind, body: bytes, off: int, length: int, order: str) -> tuple[int, dict[int, list]]:
    """Record size and records per section name offset of one subsection (off/len from the header)."""
    rec_size, positions = _walk_subsection(kind, body, off, length, order)
    sections: dict[int, list] = {}
    for name_off, pos in positions:
        rec = kind.decode(body[pos:pos + rec_size], order)
        to_slot(rec.insn_off)  # refuses offsets that cannot be instruction starts
        sections.setdefault(name_off, []).append(rec)
    return rec_size, sections


def _read_header(data: bytes) -> tuple[str, int, int, bool, tuple[int, ...]]:
    """Byte order, flags, hdr_len, whether the CO-RE fields are present, and the six subsection offsets/lengths."""
    if len(data) < _PREFIX_SIZE:
        raise _fail(f"section is {len(data)} bytes, too short for a header")
    order = magic_order(data)
    if order is None:
        raise _fail(f"bad magic 0x{int.from_bytes(data[:2], 'little'):04x} (expected 0x{BTF_EXT_MAGIC:04x})")
    _, version, flags, hdr_len = _HEADER_PREFIX[order].unpack_from(data)
    if version != BTF_EXT_VERSION:
        raise _fail(f"unsupported version {version} (expected {BTF_EXT_VERSION})")
    if hdr_len < _MIN_HEADER or hdr_len > len(data):
        raise _fail(f"header length {hdr_len} is invalid for a {len(data)}-byte section")
    has_core = hdr_len >= _FULL_HEADER
    core = _CORE_OFFSETS[order].unpack_from(data, _MIN_HEADER) if has_core else (0, 0)
    return order, flags, hdr_len, has_core, (*_INFO_OFFSETS[order].unpack_from(data, _PREFIX_SIZE), *core)


def record_offsets(data: bytes) -> list[tuple[int, int]]:
    """(byte position of insn_off in data, section name offset) for every record, in file order.

    Clang relocates each insn_off field (.rel.BTF.ext, one R_BPF_64_NODYLD32 against the code
    section); a writer that rebuilds .BTF.ext regenerates those relocations from this list.
    The input is validated like parse() does, so a bad record count cannot run away.
    """
    data = bytes(data)
    order, _, hdr_len, _, offs = _read_header(data)
    body = data[hdr_len:]
    out = []
    for i, kind in enumerate((_FUNC, _LINE, _CORE)):
        _, positions = _walk_subsection(kind, body, offs[2 * i], offs[2 * i + 1], order)
        out += [(hdr_len + pos, name_off) for name_off, pos in positions]
    return out


def _encode_subsection(kind: _Kind, rec_size: int, sections: dict[int, list], sort: bool, order: str) -> bytes:
    blocks = [(name_off, recs) for name_off, recs in sections.items() if recs]
    if not blocks:
        return b""  # an empty subsection is written as len 0; libbpf refuses one with no records
    known = kind.known[order].size
    if rec_size < known or rec_size % 4:
        raise _fail(f"{kind.desc} record size {rec_size} is invalid (minimum {known}, multiple of 4)")
    out = bytearray(_U32[order].pack(rec_size))
    tail_len = rec_size - known
    for name_off, recs in blocks:
        out += _SEC_HEADER[order].pack(name_off, len(recs))
        for rec in sorted(recs, key=lambda r: r.insn_off) if sort else recs:
            if len(rec.tail) > tail_len:
                raise _fail(f"{kind.desc} record at insn_off {rec.insn_off} has a {len(rec.tail)}-byte tail, "
                            f"more than the record size {rec_size} leaves")
            # A new record without a tail gets zeros, the value any newer field takes when absent.
            out += kind.encode(rec, order) + rec.tail + bytes(tail_len - len(rec.tail))
    return bytes(out)


class BTFExt:
    """A parsed .BTF.ext section; record dicts are keyed by the section name's BTF string offset.

    Several blocks for one section name are merged into one list. func_info and line_info are
    written sorted by insn_off (libbpf and the kernel require it); CO-RE records keep their order.
    """

    def __init__(self) -> None:
        """An empty .BTF.ext (header with core_relo fields, default record sizes)."""
        self.flags = 0
        self.header_extra = b""  # header bytes past the fields we know
        self.has_core_relo_header = True  # False for 24-byte headers from old compilers
        self.func_info: dict[int, list[FuncInfoRec]] = {}
        self.line_info: dict[int, list[LineInfoRec]] = {}
        self.core_relos: dict[int, list[CoreReloRec]] = {}
        self.func_info_rec_size = _FUNC_INFO[LITTLE].size
        self.line_info_rec_size = _LINE_INFO[LITTLE].size
        self.core_relo_rec_size = _CORE_RELO[LITTLE].size
        self.byte_order = LITTLE  # as read (the magic says); serialize() writes this order
        self._odd_layout: tuple[bytes, tuple[bytes, ...]] | None = None  # (input, its subsections) if not contiguous

    @classmethod
    def parse(cls, data: bytes, btf: "BTF | None" = None) -> "BTFExt":
        """Parse a .BTF.ext section; with btf, also check its string offsets against btf's strings."""
        data = bytes(data)
        order, flags, hdr_len, has_core, offsets = _read_header(data)
        func_off, func_len, line_off, line_len, core_off, core_len = offsets
        ext = cls()
        ext.byte_order = order
        ext.flags = flags
        ext.has_core_relo_header = has_core
        ext.header_extra = data[_FULL_HEADER if has_core else _MIN_HEADER:hdr_len]
        body = data[hdr_len:]
        ext.func_info_rec_size, ext.func_info = _parse_subsection(_FUNC, body, func_off, func_len, order)
        ext.line_info_rec_size, ext.line_info = _parse_subsection(_LINE, body, line_off, line_len, order)
        ext.core_relo_rec_size, ext.core_relos = _parse_subsection(_CORE, body, core_off, core_len, order)
        if btf is not None:
            ext.check_strings(btf)
        parts = (body[func_off:func_off + func_len], body[line_off:line_off + line_len],
                 body[core_off:core_off + core_len])
        canonical_body, canonical_offsets = ext._layout(*parts)
        n_fields = 6 if has_core else 4
        if canonical_body != body or canonical_offsets[:n_fields] != offsets[:n_fields]:
            ext._odd_layout = (data, parts)
        return ext

    def check_strings(self, btf: "BTF") -> None:
        """Raise if a section name or record refers to a string outside btf's string table."""
        for kind, table in ((_FUNC, self.func_info), (_LINE, self.line_info), (_CORE, self.core_relos)):
            for name_off, recs in table.items():
                offs = [name_off, *(getattr(r, f) for r in recs for f in kind.str_fields)]
                for off in offs:
                    if not btf.strings.contains(off):
                        raise _fail(f"{kind.desc} uses string offset {off}, outside the .BTF string table")

    @staticmethod
    def _layout(func: bytes, line: bytes, core: bytes) -> tuple[bytes, tuple[int, ...]]:
        # Subsections back to back, each empty one placed (len 0) where it would start, as clang does.
        offsets = (0, len(func), len(func), len(line), len(func) + len(line), len(core))
        return func + line + core, offsets

    def sort(self) -> None:
        """Sort every section's records by insn_off (stable), the order libbpf requires."""
        for table in (self.func_info, self.line_info, self.core_relos):
            for recs in table.values():
                recs.sort(key=lambda r: r.insn_off)

    def _check_swappable(self, order: str) -> None:
        """Raise unless every byte is one we know the meaning of: unknown header or record fields cannot be swapped."""
        tails = any(r.tail for t in (self.func_info, self.line_info, self.core_relos) for rs in t.values() for r in rs)
        if self.header_extra or tails:
            raise _fail(f"cannot write it in {order}-endian order: it has header or record fields this version "
                        f"does not know")

    def serialize(self, byte_order: str | None = None) -> bytes:
        """The .BTF.ext bytes: sections in dict order, func/line records sorted by insn_off.

        In byte_order ("little" or "big"), by default the order it was read in.
        """
        order = self.byte_order if byte_order is None else byte_order
        if order != self.byte_order:
            self._check_swappable(order)
        # libbpf walks func_info/line_info in order and stops at the first record past a program,
        # so those are always written sorted. CO-RE records are matched one by one, so their
        # order is kept as given (clang's order, for exact round trips).
        func = _encode_subsection(_FUNC, self.func_info_rec_size, self.func_info, True, order)
        line = _encode_subsection(_LINE, self.line_info_rec_size, self.line_info, True, order)
        core = _encode_subsection(_CORE, self.core_relo_rec_size, self.core_relos, False, order)
        odd = self._odd_layout
        if odd is not None and order == self.byte_order and (func, line, core) == odd[1]:
            return odd[0]  # keeps the input's gaps and order, which we have no reason to change
        if core and not self.has_core_relo_header:
            self.has_core_relo_header = True  # CO-RE records need the longer header to be seen at all
            self.header_extra = b""
        body, offsets = self._layout(func, line, core)
        core_fields = _CORE_OFFSETS[order].pack(*offsets[4:]) if self.has_core_relo_header else b""
        hdr_len = _MIN_HEADER + len(core_fields) + len(self.header_extra)
        header = _HEADER_PREFIX[order].pack(BTF_EXT_MAGIC, BTF_EXT_VERSION, self.flags, hdr_len)
        return header + _INFO_OFFSETS[order].pack(*offsets[:4]) + core_fields + self.header_extra + body


def line_text(btf: "BTF", rec: LineInfoRec) -> tuple[str, str]:
    """The file name and source text of a line_info record."""
    return btf.strings.get(rec.file_name_off), btf.strings.get(rec.line_off)

