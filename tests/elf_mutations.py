"""Structured mutations of a little-endian ELF64 BPF object, for the fuzz tests.

Each mutation knows the ELF layout (section headers, symbols, string tables, .llvm_addrsig,
.BTF.ext records), so it hits the tables a reader must cross-check instead of random bytes.
A mutation that does not apply to an object (no such section) returns the data unchanged.
"""
from __future__ import annotations

import struct

_EHDR_SHOFF, _EHDR_SHNUM, _EHDR_SHSTRNDX = 0x28, 0x3C, 0x3E
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
SHT_SYMTAB, SHT_STRTAB, SHT_LLVM_ADDRSIG = 2, 3, 0x6FFF4C03

KINDS = ("dup_section_header", "symbol_field", "strtab_byte", "addrsig", "btf_ext_id")


def sections(data: bytes) -> list[dict]:
    """Section headers: name, type, offset, size, link, and where the header itself is."""
    (shoff,) = struct.unpack_from("<Q", data, _EHDR_SHOFF)
    shnum, shstrndx = struct.unpack_from("<HH", data, _EHDR_SHNUM)
    heads = []
    for i in range(shnum):
        at = shoff + i * _SHDR.size
        name, typ, _flags, _addr, off, size, link, _info, _align, _entsize = _SHDR.unpack_from(data, at)
        heads.append({"index": i, "name_off": name, "type": typ, "offset": off, "size": size, "link": link, "at": at})
    names = heads[shstrndx]
    for h in heads:
        start = names["offset"] + h["name_off"]
        h["name"] = data[start: data.index(b"\0", start)].decode("latin-1")
    return heads


def _find(data: bytes, pred) -> dict | None:
    return next((h for h in sections(data) if pred(h)), None)


def dup_section_header(data: bytes, pick: int, value: int) -> bytes:
    """Append a copy of one section header (the table is last in clang's objects) and count it."""
    heads = sections(data)
    (shoff,) = struct.unpack_from("<Q", data, _EHDR_SHOFF)
    end = shoff + len(heads) * _SHDR.size
    src = heads[1 + pick % (len(heads) - 1)]
    out = bytearray(data[:end]) + data[src["at"]: src["at"] + _SHDR.size] + data[end:]
    struct.pack_into("<H", out, _EHDR_SHNUM, len(heads) + 1)
    return bytes(out)


def symbol_field(data: bytes, pick: int, value: int) -> bytes:
    """Set one field of one symbol: name offset, info, section index, value or size."""
    symtab = _find(data, lambda h: h["type"] == SHT_SYMTAB)
    if symtab is None or symtab["size"] < 2 * _SYM.size:
        return data
    count = symtab["size"] // _SYM.size
    at = symtab["offset"] + (1 + pick % (count - 1)) * _SYM.size
    field = (pick // count) % 5
    out = bytearray(data)
    offset, fmt, bits = [(0, "<I", 32), (4, "<B", 8), (6, "<H", 16), (8, "<Q", 64), (16, "<Q", 64)][field]
    struct.pack_into(fmt, out, at + offset, value % (1 << bits))
    return bytes(out)


def strtab_byte(data: bytes, pick: int, value: int) -> bytes:
    """Change one byte of the symbol string table (names become non-identifiers, non-UTF-8, or merge)."""
    symtab = _find(data, lambda h: h["type"] == SHT_SYMTAB)
    if symtab is None:
        return data
    strtab = sections(data)[symtab["link"]]
    if strtab["size"] < 2:
        return data
    out = bytearray(data)
    out[strtab["offset"] + 1 + pick % (strtab["size"] - 1)] = value % 256
    return bytes(out)


def addrsig(data: bytes, pick: int, value: int) -> bytes:
    """Change one byte of .llvm_addrsig (symbol indexes as ULEB128)."""
    sig = _find(data, lambda h: h["type"] == SHT_LLVM_ADDRSIG)
    if sig is None or sig["size"] == 0:
        return data
    out = bytearray(data)
    out[sig["offset"] + pick % sig["size"]] = value % 256
    return bytes(out)


def btf_ext_id(data: bytes, pick: int, value: int) -> bytes:
    """Set the type id or insn offset of one .BTF.ext func_info record, or a line_info field."""
    ext = _find(data, lambda h: h["name"] == ".BTF.ext")
    if ext is None:
        return data
    base = ext["offset"]
    hdr_len, func_off, func_len, line_off, line_len = struct.unpack_from("<I4I", data, base + 4)
    fields = []  # absolute offsets of u32 fields worth editing
    for sub_off, sub_len, per in ((func_off, func_len, (0, 4)), (line_off, line_len, (0, 12))):
        start = base + hdr_len + sub_off
        end = start + sub_len
        if sub_len < 4:
            continue
        (rec_size,) = struct.unpack_from("<I", data, start)
        at = start + 4
        while at + 8 <= end and rec_size:
            _sec, num = struct.unpack_from("<II", data, at)
            at += 8
            for i in range(num):
                rec = at + i * rec_size
                if rec + rec_size > end:
                    break
                fields.extend(rec + f for f in per)
            at += num * rec_size
    if not fields:
        return data
    out = bytearray(data)
    struct.pack_into("<I", out, fields[pick % len(fields)], value % (1 << 32))
    return bytes(out)


def mutate(data: bytes, kind: str, pick: int, value: int) -> bytes:
    """Apply the mutation called kind."""
    return {"dup_section_header": dup_section_header, "symbol_field": symbol_field, "strtab_byte": strtab_byte,
            "addrsig": addrsig, "btf_ext_id": btf_ext_id}[kind](data, pick, value)
