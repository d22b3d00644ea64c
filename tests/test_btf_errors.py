"""BTF and BTF.ext on unusual and broken input: exact pass-through of what we do not interpret,
one clear BpfrewriteError for what is wrong, and never any other exception (hypothesis)."""
from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfrewrite.btf import BTF, BTFExt, BtfKind, BtfType, ByteOffset, CoreReloRec, FuncInfoRec, StringTable
from bpfrewrite.btf.ext import record_offsets, to_byte_offset, to_slot
from bpfrewrite.btf.maps import read_map_def
from bpfrewrite.errors import BpfrewriteError

SRC = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct pair { int a; long b; } __attribute__((preserve_access_index));
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, int); __type(value, struct pair); }
	m SEC(".maps");
enum e { A = 1, B = -2 };
static __noinline int f(struct pair *p) { return p->a + (int)p->b; }
SEC("xdp") int x(struct xdp_md *ctx) { int k = 0; struct pair *p = bpf_map_lookup_elem(&m, &k);
	return p ? f(p) + B : A; }
char LICENSE[] SEC("license") = "GPL";
"""


def _compile(tmp: Path, target: str) -> tuple[bytes, bytes]:
    clang = shutil.which("clang-19")
    require_tool("clang-19")
    c, o = tmp / "prog.c", tmp / f"{target}.o"
    c.write_text(SRC)
    # relative names, so the line info's file name is the same whatever the directory or target
    subprocess.run([clang, "-target", target, "-O2", "-g", f"-fdebug-prefix-map={tmp}=.", "-I/usr/include/x86_64-linux-gnu", "-c", c.name,
                    "-o", o.name], check=True, capture_output=True, cwd=tmp)
    with open(o, "rb") as f:
        elf = ELFFile(f)
        return elf.get_section_by_name(".BTF").data(), elf.get_section_by_name(".BTF.ext").data()


@pytest.fixture(scope="module")
def sections(tmp_path_factory) -> tuple[bytes, bytes]:
    """(.BTF, .BTF.ext) of a small little-endian object."""
    return _compile(tmp_path_factory.mktemp("btferr"), "bpfel")


def _raises(data: bytes, match: str, parse=BTF.parse) -> str:
    with pytest.raises(BpfrewriteError, match=match) as info:
        parse(data)
    message = str(info.value)
    assert "\n" not in message and message
    return message


# ---- .BTF header and sections -----------------------------------------------------------------

def _named_types(btf: BTF) -> list[tuple]:
    """Every type with its string offsets replaced by the strings (clang orders the table differently per target)."""
    name = btf.strings.get
    return [(t.kind, t.name, t.kflag, t.size_or_type, t.int_encoding, t.array, t.linkage, t.component_idx,
             [(name(m.name_off), m.type, m.offset) for m in t.members], [(name(e.name_off), e.value) for e in t.enum_values],
             [(name(p.name_off), p.type) for p in t.params], t.datasec_vars) for t in btf.types]


def _named_lines(btf: BTF, ext: BTFExt) -> list[tuple]:
    name = btf.strings.get
    return [(name(sec), r.insn_off, name(r.file_name_off), name(r.line_off), r.line, r.col)
            for sec, recs in ext.line_info.items() for r in recs]


def test_big_endian_sections_read_as_the_little_endian_ones(tmp_path, sections):
    """clang's bpfeb .BTF/.BTF.ext mean what its bpfel ones do, and each is written back in its own order."""
    el_btf, el_ext = sections
    eb_btf, eb_ext = _compile(tmp_path, "bpfeb")
    little, big = BTF.parse(el_btf), BTF.parse(eb_btf)
    assert (little.byte_order, big.byte_order) == ("little", "big")
    assert _named_types(big) == _named_types(little) and len(big.types) > 10
    assert big.serialize() == eb_btf and BTF.parse(big.serialize("little")).serialize("big") == eb_btf
    assert BTF.parse(little.serialize("big")).byte_order == "big"
    lx, bx = BTFExt.parse(el_ext, little), BTFExt.parse(eb_ext, big)
    assert (lx.byte_order, bx.byte_order) == ("little", "big")
    assert _named_lines(big, bx) == _named_lines(little, lx) and bx.line_info
    assert [r.insn_off for recs in bx.func_info.values() for r in recs] == \
        [r.insn_off for recs in lx.func_info.values() for r in recs] != []
    assert bx.serialize() == eb_ext and BTFExt.parse(bx.serialize("little")).serialize("big") == eb_ext
    assert record_offsets(eb_ext) == record_offsets(el_ext)  # .rel.BTF.ext: the same positions in both


def _patch(data: bytes, fmt: str, off: int, *values: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, off, *values)
    return bytes(out)


def test_btf_header_errors(sections):
    btf, _ = sections
    hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<IIIII", btf, 4)
    _raises(btf[:10], "too short")
    _raises(_patch(btf, "<H", 0, 0x1234), "bad magic 0x1234")
    _raises(_patch(btf, "<B", 2, 2), "unsupported version 2")
    _raises(_patch(btf, "<I", 4, len(btf) + 1), "header length")
    _raises(_patch(btf, "<I", 4, 12), "header length")
    _raises(_patch(btf, "<I", 12, len(btf)), "type section .* runs past the end")
    _raises(_patch(btf, "<I", 20, str_len + 1), "string section .* runs past the end")
    _raises(_patch(btf, "<I", 8, 2), "not 4-byte aligned")
    _raises(_patch(btf, "<I", 16, type_len - 12), "overlap")
    _raises(btf[:-1] + b"x", "NUL")  # string table no longer ends in NUL


def test_btf_type_errors(sections):
    btf, _ = sections
    hdr_len = struct.unpack_from("<I", btf, 4)[0]
    first_type = hdr_len  # type 1: name_off, info, size_or_type
    info = struct.unpack_from("<I", btf, first_type + 4)[0]
    _raises(_patch(btf, "<I", first_type + 4, (info & 0xE0FFFFFF) | (25 << 24)), "unknown kind 25")
    _raises(_patch(btf, "<I", first_type + 4, info & 0xE0FFFFFF), "unknown kind 0")
    _raises(_patch(btf, "<I", first_type, 0xFFFFFF), "string offset 16777215")
    small = BTF()
    small.add_type(BtfType(BtfKind.INT, name="int", size_or_type=4, int_encoding=1 << 24 | 32))
    small.add_type(BtfType(BtfKind.PTR, size_or_type=1))
    raw = small.serialize()
    # header (24) + INT (12 + 4) + PTR: its size_or_type is at 24 + 16 + 8
    assert BTF.parse(_patch(raw, "<I", 48, 2)).types[2].size_or_type == 2  # a self-reference is fine
    _raises(_patch(raw, "<I", 48, 3), "PTR type 2 refers to type 3, but there are only 3")
    # a type section cut inside a record
    type_len = struct.unpack_from("<I", btf, 12)[0]
    cut = _patch(btf, "<II", 12, type_len - 4, type_len - 4)[:hdr_len + type_len - 4] + \
        btf[hdr_len + type_len:]
    _raises(cut, "ends inside")


def test_loops_are_errors_not_hangs():
    b = BTF()
    a = b.add_type(BtfType(BtfKind.TYPEDEF, name="a", size_or_type=2))  # forward references are allowed
    with pytest.raises(BpfrewriteError, match="refers to type 2"):
        b.serialize()  # ... but must be resolved by the time the BTF is written
    b.add_type(BtfType(BtfKind.CONST, size_or_type=a))
    with pytest.raises(BpfrewriteError, match="loop"):
        b.resolve(a)
    again = BTF.parse(b.serialize())
    with pytest.raises(BpfrewriteError, match="loop"):
        again.size_of(a)


# ---- layouts we do not write ourselves are passed through --------------------------------------

def test_btf_with_strings_first_and_a_gap_round_trips(sections):
    btf, _ = sections
    hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<IIIII", btf, 4)
    types = btf[hdr_len:hdr_len + type_len]
    strings = btf[hdr_len + str_off:hdr_len + str_off + str_len]
    extra = b"\0" * 8  # header bytes past the 24 we know
    gap = b"\xaa" * (4 + -len(strings) % 4)  # the type section must stay 4-byte aligned
    odd = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 32, len(strings) + len(gap), len(types), 0, len(strings)) \
        + extra \
        + strings + gap + types
    parsed = BTF.parse(odd)
    assert parsed.types == BTF.parse(btf).types
    assert parsed.serialize() == odd
    new_id = parsed.add_type(BtfType(BtfKind.PTR, size_or_type=1))
    rewritten = parsed.serialize()
    assert struct.unpack_from("<I", rewritten, 4)[0] == 32  # header extra kept
    assert rewritten[24:32] == extra
    assert BTF.parse(rewritten).types[new_id].size_or_type == 1
    assert BTF.parse(rewritten).types[:new_id] == BTF.parse(btf).types


def _ext(func: bytes, line: bytes, core: bytes | None, gap: bytes = b"") -> bytes:
    """A .BTF.ext built from its spec: 24- or 32-byte header, then the subsections in order."""
    if core is None:
        header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(func), len(func) + len(gap), len(line))
        return header + func + gap + line
    header = struct.pack("<HBBIIIIIII", 0xEB9F, 1, 0, 32, 0, len(func), len(func) + len(gap), len(line),
                         len(func) + len(gap) + len(line), len(core))
    return header + func + gap + line + core


def _sub(rec_size: int, blocks: list[tuple[int, list[bytes]]]) -> bytes:
    out = struct.pack("<I", rec_size)
    for name_off, recs in blocks:
        out += struct.pack("<II", name_off, len(recs)) + b"".join(recs)
    return out


def test_record_tails_are_kept():
    func = _sub(12, [(1, [struct.pack("<II", 0, 5) + b"\x01\x02\x03\x04",
                          struct.pack("<II", 16, 6) + b"\x05\x06\x07\x08"])])
    line = _sub(20, [(1, [struct.pack("<IIII", 0, 2, 3, 7 << 10 | 5) + b"\x09\x0a\x0b\x0c"])])
    core = _sub(24, [(1, [struct.pack("<IIII", 8, 5, 4, 0) + bytes(range(8))])])
    data = _ext(func, line, core)
    ext = BTFExt.parse(data)
    assert (ext.func_info_rec_size, ext.line_info_rec_size, ext.core_relo_rec_size) == (12, 20, 24)
    assert [(r.insn_off, r.type_id, r.tail) for r in ext.func_info[1]] == \
        [(0, 5, b"\x01\x02\x03\x04"), (16, 6, b"\x05\x06\x07\x08")]
    (line_rec,) = ext.line_info[1]
    assert (line_rec.line, line_rec.col, line_rec.file_name_off, line_rec.line_off) == (7, 5, 2, 3)
    assert ext.core_relos[1][0].tail == bytes(range(8))
    assert ext.serialize() == data
    # a record added without a tail is padded with zeros to the record size
    ext.func_info[1].append(FuncInfoRec(ByteOffset(24), 7))
    again = BTFExt.parse(ext.serialize())
    assert again.func_info[1][-1].tail == b"\0\0\0\0"
    assert [r.tail for r in again.func_info[1][:2]] == [b"\x01\x02\x03\x04", b"\x05\x06\x07\x08"]
    ext.func_info[1].append(FuncInfoRec(ByteOffset(32), 7, tail=b"\0" * 8))
    with pytest.raises(BpfrewriteError, match="tail"):
        ext.serialize()


def test_short_header_without_core_relos_round_trips_and_grows_when_needed():
    func = _sub(8, [(1, [struct.pack("<II", 0, 5)])])
    line = _sub(16, [(1, [struct.pack("<IIII", 0, 2, 3, 1 << 10)])])
    data = _ext(func, line, None)
    ext = BTFExt.parse(data)
    assert not ext.has_core_relo_header and ext.core_relos == {}
    assert ext.serialize() == data
    ext.core_relos[1] = [CoreReloRec(ByteOffset(0), 5, 4, 0)]
    grown = ext.serialize()
    assert struct.unpack_from("<I", grown, 4)[0] == 32
    assert [(r.insn_off, r.type_id, r.access_str_off, r.kind) for r in BTFExt.parse(grown).core_relos[1]] == \
        [(0, 5, 4, 0)]


def test_ext_with_a_gap_round_trips():
    func = _sub(8, [(1, [struct.pack("<II", 0, 5)])])
    line = _sub(16, [(1, [struct.pack("<IIII", 0, 2, 3, 1 << 10)])])
    data = _ext(func, line, b"", gap=b"\0" * 4)
    assert BTFExt.parse(data).serialize() == data


def test_ext_errors():
    func = _sub(8, [(1, [struct.pack("<II", 0, 5)])])
    line = _sub(16, [(1, [struct.pack("<IIII", 0, 2, 3, 1 << 10)])])
    good = _ext(func, line, b"")
    BTFExt.parse(good)
    parse = BTFExt.parse
    _raises(good[:6], "too short", parse)
    _raises(_patch(good, "<H", 0, 0xBEEF), "bad magic 0xbeef", parse)
    _raises(_patch(good, "<B", 2, 3), "unsupported version 3", parse)
    _raises(_patch(good, "<I", 4, 20), "header length 20", parse)
    _raises(_patch(good, "<I", 12, len(good)), "func_info subsection .* runs past the end", parse)
    _raises(_patch(good, "<I", 8, 2), "not 4-byte aligned", parse)
    _raises(_ext(_sub(6, []), line, b""), "func_info record size 6 is invalid", parse)
    _raises(_ext(func, _sub(18, []), b""), "line_info record size 18 is invalid", parse)
    _raises(_ext(func, _sub(16, []), b""), "line_info subsection has no records", parse)
    _raises(_ext(func, _sub(16, [(1, [])]), b""), "bad record count 0", parse)
    _raises(_ext(func, line[:-4], b""), "bad record count 1", parse)
    _raises(_ext(func, line + b"\0\0\0\0", b""), "ends inside a section header", parse)
    _raises(_ext(_sub(8, [(1, [struct.pack("<II", 4, 5)])]), line, b""), "insn_off 4 is not a multiple of 8",
            parse)
    _raises(_ext(func, line, _sub(12, [])), "core_relo record size 12", parse)


def test_ext_string_offsets_are_checked_against_btf(sections):
    btf_bytes, ext_bytes = sections
    btf = BTF.parse(btf_bytes)
    BTFExt.parse(ext_bytes, btf)
    line = _sub(16, [(1, [struct.pack("<IIII", 0, len(btf.strings) + 3, 1, 1 << 10)])])
    data = _ext(_sub(8, [(1, [struct.pack("<II", 0, 1)])]), line, b"")
    BTFExt.parse(data)  # without BTF there is nothing to check against
    _raises(data, f"line_info uses string offset {len(btf.strings) + 3}", lambda d: BTFExt.parse(d, btf))


# ---- small pieces -------------------------------------------------------------------------------

def test_string_table():
    s = StringTable(b"\0int\0char\0")
    assert s.get(1) == "int" and s.get(2) == "nt" and s.get(0) == ""
    assert s.add("char") == 5 and s.add("int") == 1 and s.add("") == 0
    off = s.add("long")
    assert off == 10 and s.to_bytes() == b"\0int\0char\0long\0" and s.add("long") == 10
    with pytest.raises(BpfrewriteError, match="outside the string table"):
        s.get(len(s))
    with pytest.raises(BpfrewriteError, match="NUL"):
        s.add("a\0b")
    with pytest.raises(BpfrewriteError):
        StringTable(b"int\0")


def test_byte_offsets_and_slots_are_not_mixed():
    assert to_slot(ByteOffset(24)) == 3
    assert to_byte_offset(3) == 24
    with pytest.raises(BpfrewriteError, match="not a multiple of 8"):
        to_slot(ByteOffset(12))


# ---- hypothesis: broken input raises BpfrewriteError and nothing else ----------------------------

def _exercise_btf(data: bytes) -> BTF | None:
    try:
        btf = BTF.parse(data)
    except BpfrewriteError:
        return None
    btf.serialize()
    for type_id in range(len(btf.types)):
        try:
            btf.name(type_id)
            btf.resolve(type_id)
            btf.size_of(type_id)
            read_map_def(btf, type_id)
        except BpfrewriteError:
            pass
    return btf


def _exercise_ext(data: bytes, btf: BTF | None) -> None:
    try:
        record_offsets(data)
    except BpfrewriteError:
        pass
    try:
        ext = BTFExt.parse(data, btf)
    except BpfrewriteError:
        return
    try:
        ext.serialize()
    except BpfrewriteError:
        pass


_mutations = st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
                      min_size=1, max_size=6)
_words = st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=2**32 - 1)),
                  min_size=1, max_size=3)


def _mutate(data: bytes, flips, words, cut: int | None) -> bytes:
    out = bytearray(data)
    for pos, value in flips:
        out[pos % len(out)] = value
    for pos, value in words:
        # whole u32 fields (offsets, counts, ids) reach deeper than single bytes do
        p = (pos % (len(out) // 4)) * 4
        struct.pack_into("<I", out, p, value)
    return bytes(out[:cut]) if cut is not None else bytes(out)


_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_SETTINGS
@given(flips=_mutations, words=_words, cut=st.none() | st.integers(min_value=0, max_value=4096))
def test_mutated_btf_raises_only_bpfrewrite_errors(sections, flips, words, cut):
    _exercise_btf(_mutate(sections[0], flips, words, cut))


@_SETTINGS
@given(flips=_mutations, words=_words, cut=st.none() | st.integers(min_value=0, max_value=4096))
def test_mutated_btf_ext_raises_only_bpfrewrite_errors(sections, flips, words, cut):
    btf = BTF.parse(sections[0])
    _exercise_ext(_mutate(sections[1], flips, words, cut), btf)


@_SETTINGS
@given(data=st.binary(max_size=256))
def test_random_bytes_raise_only_bpfrewrite_errors(data):
    _exercise_btf(data)
    _exercise_btf(struct.pack("<HBBI", 0xEB9F, 1, 0, 24) + data)
    _exercise_ext(data, None)
    _exercise_ext(struct.pack("<HBBI", 0xEB9F, 1, 0, 32) + data, None)
