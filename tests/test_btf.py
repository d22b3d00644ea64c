"""BTF and BTF.ext: round trips on real objects, cross-checks against bpftool and llvm-objdump-19,
edits accepted by libbpf's linker (and loader), and the libbpf-style map definition reader."""
from __future__ import annotations

import ctypes
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool
from elftools.elf.elffile import ELFFile

from bpfrewrite.btf import BTF, BTFExt, BtfKind, BtfType, ByteOffset, CoreReloRec, LineInfoRec, line_text
from bpfrewrite.btf.ext import to_slot
from bpfrewrite.btf.maps import read_map_def
from bpfrewrite.btf.types import BtfArray, BtfMember, BtfParam
from bpfrewrite.errors import BpfrewriteError

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT / "testdata"
CLANG = "clang-19"

# Every constant below that a test compares against is checked by the compiler with _Static_assert,
# so the expected values come from clang, not from the code under test.
KINDS_SRC = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define __tag __attribute__((btf_decl_tag("x")))
#define __ttag __attribute__((btf_type_tag("y")))

enum color { RED = -1, GREEN = 2 };
enum big { BIG = 0x1234567890ULL };
enum sbig { SBIG = -0x1234567890LL };
struct bits { unsigned int a:3, b:5; int c __tag; };
union u { int i; float f; };
struct fwd;
struct node {
	int x; struct node *next; union u un; enum color col; enum big bg; enum sbig sb;
	double d; struct fwd *f; char name[6];
};
typedef const volatile struct node cvnode_t;
typedef cvnode_t node_arr_t[3];
_Static_assert(sizeof(struct node) == 64, "node size");
_Static_assert(sizeof(node_arr_t) == 192, "array size");
_Static_assert(sizeof(struct bits) == 8, "bits size");
_Static_assert(BPF_MAP_TYPE_HASH == 1 && BPF_MAP_TYPE_ARRAY == 2 && BPF_MAP_TYPE_ARRAY_OF_MAPS == 12, "");
_Static_assert(BPF_F_NO_PREALLOC == 1, "");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, int);
	__type(value, struct node);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} hmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__uint(key_size, 4);
	__uint(value_size, 24);
} amap SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = { .values = { &inner_map } };

struct bits gbits __tag;
int __ttag *tagged_ptr;
volatile const int cst = 3;
float fv = 1.5f;
node_arr_t nodes;

struct task_struct { int pid; int tgid; } __attribute__((preserve_access_index));

static __noinline int helper(struct bits *b __tag, int * restrict k)
{
	return b->a + b->b + *k;
}

SEC("tp/sched/sched_switch")
int prog(struct task_struct *t)
{
	int k = 0;
	struct node *n = bpf_map_lookup_elem(&hmap, &k);
	if (!n)
		return 0;
	k = n->x + *(int *)__builtin_preserve_access_index(&t->tgid);
	return helper(&gbits, &k) + t->pid + (tagged_ptr ? *tagged_ptr : 0) + cst + n->un.i + (n->f != 0);
}

SEC("xdp") int xdp_a(struct xdp_md *ctx) { return XDP_PASS + helper(&gbits, (int *)&fv); }
SEC("xdp") int xdp_b(struct xdp_md *ctx) { return XDP_DROP; }

char LICENSE[] SEC("license") = "GPL";
"""

# Small enough for the verifier, with a subprogram so func_info has two functions to check.
LOAD_SRC = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __noinline int twice(int v)
{
	return v * 2 + 1;
}

SEC("xdp")
int load_me(struct xdp_md *ctx)
{
	int n = ctx->data_end - ctx->data;

	if (n > 100)
		return twice(n) & 3;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
"""


def _require(tool: str) -> str:
    require_tool(tool)
    path = shutil.which(tool)
    return path


def _compile(src: str, out: Path) -> Path:
    c = out.with_suffix(".c")
    c.write_text(src)
    subprocess.run(
        [_require(CLANG), "-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86",
         "-I/usr/include/x86_64-linux-gnu", "-c", str(c), "-o", str(out)],
        check=True, capture_output=True,
    )
    return out


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> dict[str, Path]:
    """The test's own objects, compiled once per session."""
    d = tmp_path_factory.mktemp("btf")
    return {"kinds": _compile(KINDS_SRC, d / "kinds.o"), "load": _compile(LOAD_SRC, d / "load.o")}


def _sections(path: Path) -> tuple[bytes | None, bytes | None]:
    with open(path, "rb") as f:
        elf = ELFFile(f)
        btf = elf.get_section_by_name(".BTF")
        ext = elf.get_section_by_name(".BTF.ext")
        return btf.data() if btf is not None else None, ext.data() if ext is not None else None


def _has_btf(path: Path) -> bool:
    try:
        return _sections(path)[0] is not None
    except Exception:  # an object another test run is still writing, or not an ELF file at all
        return False


# Objects assembled from .s files (testdata/asm) carry no BTF; everything clang built with -g has
# .BTF, .BTF.ext and .rel.BTF.ext, so the tests below assert them rather than skip without them.
TESTDATA_OBJS = sorted(p for p in TESTDATA.glob("**/*.o") if _has_btf(p) and p.parent.name != "repro")  # repro/: corrupt on purpose


def _all_objects(built: dict[str, Path]) -> list[Path]:
    return [*built.values(), *TESTDATA_OBJS]


@pytest.fixture(params=["kinds", "load", *(str(p.relative_to(TESTDATA)) for p in TESTDATA_OBJS)])
def obj(request, built) -> Path:
    """Each object to check: ours, then every .o under testdata/."""
    return built.get(request.param) or TESTDATA / request.param


def _parsed(path: Path) -> tuple[BTF, BTFExt | None]:
    btf_bytes, ext_bytes = _sections(path)
    btf = BTF.parse(btf_bytes)
    return btf, BTFExt.parse(ext_bytes, btf) if ext_bytes is not None else None


# ---- round trips --------------------------------------------------------------------------------

def test_btf_round_trip_is_byte_identical(obj):
    data, _ = _sections(obj)
    btf = BTF.parse(data)
    prefix = "<" if btf.byte_order == "little" else ">"  # testdata/eb/: bpfeb objects
    _, _, _, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(prefix + "HBBIIIII", data)
    # clang lays out header|types|strings, so the writer re-encodes every type rather than
    # handing the input back (the verbatim path is only for other layouts).
    assert (type_off, str_off, hdr_len + type_len + str_len) == (0, type_len, len(data))
    assert btf.serialize() == data
    assert BTF.parse(btf.serialize()).types == btf.types


def test_btf_ext_round_trip_is_byte_identical(obj):
    btf_bytes, ext_bytes = _sections(obj)
    assert ext_bytes is not None, "clang -g always emits .BTF.ext"
    ext = BTFExt.parse(ext_bytes, BTF.parse(btf_bytes))
    assert ext.serialize() == ext_bytes


def test_every_kind_is_seen(built):
    kinds = {BtfKind.VOID}  # id 0 is VOID by definition
    for path in _all_objects(built):
        kinds |= {t.kind for t in _parsed(path)[0].types}
    assert kinds == set(BtfKind)


# ---- oracle: bpftool's raw dump ----------------------------------------------------------------

_INT_ENCODING = {0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL"}
_LINKAGE = {0: "static", 1: "global", 2: "extern"}
_TYPE_KEY_KINDS = {BtfKind.PTR, BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT,
                   BtfKind.FUNC, BtfKind.VAR, BtfKind.DECL_TAG, BtfKind.TYPE_TAG}


def _as_bpftool_json(btf: BTF, type_id: int) -> dict:
    """Our parse rendered the way bpftool's `btf dump -j` renders a type (from bpftool's btf.c)."""
    t = btf.types[type_id]
    name = btf.strings.get
    d: dict = {"id": type_id, "kind": t.kind.name, "name": t.name or "(anon)"}
    if t.kind in _TYPE_KEY_KINDS:
        d["type_id"] = t.size_or_type
    if t.kind == BtfKind.INT:
        d |= {"size": t.size_or_type, "bits_offset": t.int_offset, "nr_bits": t.int_bits,
              "encoding": _INT_ENCODING[t.int_flags]}
    elif t.kind == BtfKind.ARRAY:
        d |= {"index_type_id": t.array.index_type, "nr_elems": t.array.nelems, "type_id": t.array.type}
    elif t.kind in (BtfKind.STRUCT, BtfKind.UNION):
        members = []
        for m in t.members:
            md = {"name": name(m.name_off) or "(anon)", "type_id": m.type, "bits_offset": t.member_bit_offset(m)}
            if t.member_bitfield_size(m):
                md["bitfield_size"] = t.member_bitfield_size(m)
            members.append(md)
        d |= {"size": t.size_or_type, "vlen": len(t.members), "members": members}
    elif t.kind in (BtfKind.ENUM, BtfKind.ENUM64):
        d |= {"encoding": "SIGNED" if t.kflag else "UNSIGNED", "size": t.size_or_type,
              "vlen": len(t.enum_values), "values": [{"name": name(e.name_off), "val": e.value}
                                                     for e in t.enum_values]}
    elif t.kind == BtfKind.FWD:
        d["fwd_kind"] = "union" if t.kflag else "struct"
    elif t.kind == BtfKind.FUNC:
        d["linkage"] = _LINKAGE[t.vlen]
    elif t.kind == BtfKind.FUNC_PROTO:
        d |= {"ret_type_id": t.size_or_type, "vlen": len(t.params),
              "params": [{"name": name(p.name_off) or "(anon)", "type_id": p.type} for p in t.params]}
    elif t.kind == BtfKind.VAR:
        d["linkage"] = _LINKAGE[t.linkage]
    elif t.kind == BtfKind.DATASEC:
        d |= {"size": t.size_or_type, "vlen": len(t.datasec_vars),
              "vars": [{"type_id": v.type, "offset": v.offset, "size": v.size} for v in t.datasec_vars]}
    elif t.kind == BtfKind.FLOAT:
        d["size"] = t.size_or_type
    elif t.kind == BtfKind.DECL_TAG:
        d["component_idx"] = t.component_idx
    return d


def test_types_match_bpftool(obj):
    out = subprocess.run([_require("bpftool"), "btf", "dump", "file", str(obj), "-j"],
                         check=True, capture_output=True, text=True).stdout
    expected = json.loads(out)["types"]
    btf, _ = _parsed(obj)
    assert len(btf.types) - 1 == len(expected)
    for e in expected:
        assert _as_bpftool_json(btf, e["id"]) == e


def test_raw_text_dump_agrees_on_kind_and_name(built):
    """The plain `bpftool btf dump file X` (raw format) lines: `[id] KIND 'name' ...`."""
    path = built["kinds"]
    out = subprocess.run([_require("bpftool"), "btf", "dump", "file", str(path)],
                         check=True, capture_output=True, text=True).stdout
    rows = re.findall(r"^\[(\d+)\] (\w+) '([^']*)'", out, re.M)
    btf, _ = _parsed(path)
    assert [(int(i), k, n) for i, k, n in rows] == \
        [(i, t.kind.name, t.name or "(anon)") for i, t in enumerate(btf.types) if i]


# ---- oracle: llvm-objdump-19 line annotations (DWARF) -------------------------------------------

def _objdump_lines(path: Path) -> dict[str, dict[int, int | None]]:
    out = subprocess.run([_require("llvm-objdump-19"), "-dl", "--no-show-raw-insn", str(path)],
                         check=True, capture_output=True, text=True).stdout
    lines: dict[str, dict[int, int | None]] = {}
    section: dict[int, int | None] | None = None
    current = None
    for text in out.splitlines():
        if m := re.match(r"^Disassembly of section (.*):$", text):
            section, current = lines.setdefault(m.group(1), {}), None
        elif m := re.match(r"^; .*:(\d+)$", text):
            current = int(m.group(1))
        elif (m := re.match(r"^\s*(\d+):\t", text)) and section is not None:
            section[int(m.group(1))] = current
    return lines


def test_line_info_matches_objdump(obj):
    btf, ext = _parsed(obj)
    assert ext is not None, "clang -g always emits .BTF.ext"
    dwarf = _objdump_lines(obj)
    n_records = 0
    for sec_off, records in ext.line_info.items():
        section = btf.strings.get(sec_off)
        func_starts = {r.insn_off for r in ext.func_info.get(sec_off, [])}
        assert [r.insn_off for r in records] == sorted(r.insn_off for r in records)
        assert records[0].insn_off == 0  # libbpf: each function's first insn needs a line record
        for rec in records:
            n_records += 1
            slot = to_slot(rec.insn_off)
            assert slot in dwarf[section], f"{section}: line_info at slot {slot} is not an instruction"
            file_name, source = line_text(btf, rec)
            assert file_name.endswith(".c")
            if rec.insn_off in func_starts:
                # BTF puts the function's declaration line on its first insn; DWARF may name a later one.
                assert rec.line <= dwarf[section][slot]
            else:
                assert rec.line == dwarf[section][slot], f"{section} slot {slot}"
    assert n_records > 0


def test_line_text_is_the_source_line(built):
    btf, ext = _parsed(built["kinds"])
    source = KINDS_SRC.splitlines()
    texts = [line_text(btf, r) for recs in ext.line_info.values() for r in recs]
    lines = [r.line for recs in ext.line_info.values() for r in recs]
    assert {Path(f).name for f, _ in texts} == {"kinds.c"}
    # KINDS_SRC starts with a newline, so line N of the file is source[N - 1]
    assert all(text == source[line - 1] for (_, text), line in zip(texts, lines))


# ---- decoded meaning --------------------------------------------------------------------------

def test_decoded_kind_data(built):
    btf, ext = _parsed(built["kinds"])
    bits = btf.types[btf.find(BtfKind.STRUCT, "bits")]
    assert bits.kflag == 1
    assert [(btf.strings.get(m.name_off), bits.member_bit_offset(m), bits.member_bitfield_size(m))
            for m in bits.members] == [("a", 0, 3), ("b", 3, 5), ("c", 32, 0)]
    color = btf.types[btf.find(BtfKind.ENUM, "color")]
    assert [(btf.strings.get(e.name_off), e.value) for e in color.enum_values] == [("RED", -1), ("GREEN", 2)]
    big = btf.types[btf.find(BtfKind.ENUM64, "big")]
    sbig = btf.types[btf.find(BtfKind.ENUM64, "sbig")]
    assert big.enum_values[0].value == 0x1234567890 and sbig.enum_values[0].value == -0x1234567890
    helper = btf.types[btf.find(BtfKind.FUNC, "helper")]
    proto = btf.types[helper.size_or_type]
    assert helper.vlen == 0 and proto.kind == BtfKind.FUNC_PROTO  # static linkage
    assert [btf.strings.get(p.name_off) for p in proto.params] == ["b", "k"]
    assert btf.types[btf.resolve(proto.params[1].type)].kind == BtfKind.PTR  # restrict skipped
    tags = [t for t in btf.types if t.kind == BtfKind.DECL_TAG]
    assert {t.component_idx for t in tags} >= {-1, 0, 2}  # var, first param, member c
    tt = btf.types[btf.find(BtfKind.TYPE_TAG, "y")]
    assert btf.types[tt.size_or_type].name == "int"
    fwd = btf.types[btf.find(BtfKind.FWD, "fwd")]
    assert fwd.kflag == 0  # a struct, not a union
    rodata = btf.types[btf.find(BtfKind.DATASEC, ".rodata")]
    assert {btf.name(v.type) for v in rodata.datasec_vars} == {"cst", "nodes"}  # both are const
    assert btf.types[btf.find(BtfKind.VAR, "cst")].linkage == 1  # BTF_VAR_GLOBAL_ALLOCATED
    assert btf.find(BtfKind.STRUCT, "no_such_struct") is None
    core = [r for recs in ext.core_relos.values() for r in recs]
    assert {btf.name(r.type_id) for r in core} == {"task_struct"}
    # access strings "0:1" (tgid) and "0:0" (pid): first member access is index 0, then the field
    assert {btf.strings.get(r.access_str_off) for r in core} == {"0:0", "0:1"}


def test_resolve_and_size_of(built):
    btf, _ = _parsed(built["kinds"])
    node = btf.find(BtfKind.STRUCT, "node")
    cv = btf.find(BtfKind.TYPEDEF, "cvnode_t")
    assert btf.types[btf.types[cv].size_or_type].kind in (BtfKind.CONST, BtfKind.VOLATILE)
    assert btf.resolve(cv) == node
    assert btf.size_of(node) == 64  # _Static_assert in KINDS_SRC
    assert btf.size_of(btf.find(BtfKind.TYPEDEF, "node_arr_t")) == 192
    assert btf.size_of(btf.find(BtfKind.VAR, "nodes")) == 192
    assert btf.size_of(btf.find(BtfKind.STRUCT, "bits")) == 8
    assert btf.size_of(btf.find(BtfKind.FWD, "fwd")) is None
    assert btf.size_of(btf.find(BtfKind.FUNC, "helper")) is None
    assert btf.size_of(0) is None
    assert btf.name(0) == "" and btf.name(node) == "node"
    with pytest.raises(BpfrewriteError, match="does not exist"):
        btf.name(len(btf.types))


def test_map_def(built):
    btf, _ = _parsed(built["kinds"])
    var = lambda n: btf.find(BtfKind.VAR, n)  # noqa: E731
    int_id, node_id = btf.find(BtfKind.INT, "int"), btf.find(BtfKind.STRUCT, "node")
    assert read_map_def(btf, var("hmap")) == {"type": 1, "max_entries": 16, "key_type_id": int_id, "key_size": 4,
                                        "value_type_id": node_id, "value_size": 64, "map_flags": 1}
    assert read_map_def(btf, var("amap")) == {"type": 2, "max_entries": 4, "key_size": 4, "value_size": 24}
    inner = read_map_def(btf, var("inner_map"))
    assert (inner["type"], inner["key_size"], inner["value_size"]) == (2, 4, 8)
    assert btf.resolve(inner["key_type_id"]) == btf.find(BtfKind.INT, "unsigned int")
    outer = read_map_def(btf, var("outer"))
    assert (outer["type"], outer["max_entries"], outer["key_size"]) == (12, 2, 4)
    assert outer["values_type_id"] == btf.find(BtfKind.STRUCT, "inner")
    # the struct itself works too, and non-map variables are unknown shapes
    assert read_map_def(btf, btf.find(BtfKind.STRUCT, "inner")) == inner
    assert read_map_def(btf, var("cst")) == {} and read_map_def(btf, var("gbits")) == {}


def test_map_def_conflicting_key_size_is_unknown(built):
    btf, _ = _parsed(built["kinds"])
    int_id = btf.find(BtfKind.INT, "int")
    arr = btf.add_type(BtfType(BtfKind.ARRAY, array=BtfArray(int_id, int_id, 8)))
    uint8 = btf.add_type(BtfType(BtfKind.PTR, size_or_type=arr))
    key = btf.add_type(BtfType(BtfKind.PTR, size_or_type=int_id))
    bad = btf.add_type(BtfType(BtfKind.STRUCT, name="bad_map", size_or_type=16, members=[
        BtfMember(btf.strings.add("key"), key, 0), BtfMember(btf.strings.add("key_size"), uint8, 64)]))
    assert read_map_def(btf, bad) == {}  # libbpf refuses key_size 8 with a 4-byte key type


# ---- edits, then libbpf's linker and loader as judges -------------------------------------------

def _write_back(src: Path, dst: Path, btf: BTF, ext: BTFExt | None) -> Path:
    args = [_require("llvm-objcopy-19")]
    btf_file = dst.with_suffix(".btf")
    btf_file.write_bytes(btf.serialize())
    args += ["--update-section", f".BTF={btf_file}"]
    if ext is not None:
        ext_file = dst.with_suffix(".btfext")
        ext_file.write_bytes(ext.serialize())
        args += ["--update-section", f".BTF.ext={ext_file}"]
    subprocess.run([*args, str(src), str(dst)], check=True, capture_output=True)
    return dst


def _link(obj_path: Path) -> subprocess.CompletedProcess:
    out = obj_path.with_name(obj_path.stem + ".linked.o")
    return subprocess.run([_require("bpftool"), "gen", "object", str(out), str(obj_path)],
                          capture_output=True, text=True)


def _edit(btf: BTF, ext: BTFExt, section: str) -> tuple[int, str]:
    """Add types, strings and records the way a rewriter would; return (added line, its text)."""
    int_id = btf.find(BtfKind.INT, "int")
    proto = btf.add_type(BtfType(BtfKind.FUNC_PROTO, size_or_type=int_id,
                                 params=[BtfParam(btf.strings.add("arg"), int_id)]))
    btf.add_type(BtfType(BtfKind.FUNC, name="added_fn", size_or_type=proto))  # static: the linker keeps it
    btf.add_type(BtfType(BtfKind.STRUCT, name="added_struct", size_or_type=4,
                         members=[BtfMember(btf.strings.add("field"), int_id, 0)]))
    text = "/* line added by test_btf */"
    sec = btf.strings.add(section)
    recs = ext.line_info[sec]
    # The kernel wants insn_off strictly increasing, so the new record goes on an instruction that
    # has none yet; it is appended out of order on purpose: the writer must sort.
    taken = {to_slot(r.insn_off) for r in recs}
    free = min(set(range(max(taken))) - taken)
    recs.append(LineInfoRec(ByteOffset(free * 8), recs[0].file_name_off, btf.strings.add(text), 4242, 7))
    return 4242, text


def test_edited_btf_is_accepted_by_libbpf_linker(built, tmp_path):
    src = built["kinds"]
    btf, ext = _parsed(src)
    line, text = _edit(btf, ext, "tp/sched/sched_switch")
    core = ext.core_relos[btf.strings.add("tp/sched/sched_switch")]
    core.append(CoreReloRec(core[0].insn_off, core[0].type_id, core[0].access_str_off, core[0].kind))
    edited = _write_back(src, tmp_path / "edited.o", btf, ext)
    result = _link(edited)
    assert result.returncode == 0, result.stderr
    linked_btf, linked_ext = _parsed(tmp_path / "edited.linked.o")
    assert linked_btf.find(BtfKind.STRUCT, "added_struct") is not None
    assert linked_btf.find(BtfKind.FUNC, "added_fn") is not None
    added = [line_text(linked_btf, r) for recs in linked_ext.line_info.values() for r in recs if r.line == line]
    assert [t for _, t in added] == [text]


def test_linker_rejects_a_corrupt_btf_ext(built, tmp_path):
    """Negative control: the linker really reads .BTF.ext, so its acceptance above means something."""
    src = built["kinds"]
    btf, ext = _parsed(src)
    data = bytearray(ext.serialize())
    # line_info's record size (its subsection's first u32) set to 12, below the 16 libbpf requires
    hdr_len, _, _, line_off = struct.unpack_from("<IIII", data, 4)
    struct.pack_into("<I", data, hdr_len + line_off, 12)
    bad = tmp_path / "bad.btfext"
    bad.write_bytes(bytes(data))
    with pytest.raises(BpfrewriteError, match="record size 12"):
        BTFExt.parse(bytes(data))
    out = tmp_path / "bad.o"
    subprocess.run([_require("llvm-objcopy-19"), "--update-section", f".BTF.ext={bad}", str(src), str(out)],
                   check=True, capture_output=True)
    assert _link(out).returncode != 0


def _libbpf_load(path: Path) -> int:
    """Open and load every program of an object with libbpf (no attach, no pins); 0 on success."""
    lib = ctypes.CDLL("libbpf.so.1", use_errno=True)
    lib.bpf_object__open_file.restype = ctypes.c_void_p
    lib.bpf_object__open_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.bpf_object__load.argtypes = [ctypes.c_void_p]
    lib.bpf_object__close.argtypes = [ctypes.c_void_p]
    obj = lib.bpf_object__open_file(str(path).encode(), None)
    if not obj:
        return -ctypes.get_errno() or -1
    try:
        return lib.bpf_object__load(obj)
    finally:
        lib.bpf_object__close(obj)


def _can_load() -> None:
    """Skip (or, under CI, fail) where this process may not load BPF programs."""
    from conftest import _kernel_unavailable_reason, unavailable

    reason = _kernel_unavailable_reason()
    if reason is not None:
        unavailable(f"cannot load BPF programs here: {reason}")


def test_edited_btf_ext_loads_in_the_kernel(built, tmp_path):
    """The kernel checks line_info order and func_info against the program: the strictest judge."""
    _can_load()
    src = built["load"]
    assert _libbpf_load(src) == 0  # the unedited object loads, so a failure below is ours
    btf, ext = _parsed(src)
    _edit(btf, ext, "xdp")
    assert _libbpf_load(_write_back(src, tmp_path / "edited.o", btf, ext)) == 0


def test_unsorted_line_info_is_refused_by_the_kernel(built, tmp_path):
    """Negative control for the sorting rule: the same edit written unsorted does not load."""
    _can_load()
    src = built["load"]
    btf, ext = _parsed(src)
    _edit(btf, ext, "xdp")
    good = ext.serialize()
    sec = btf.strings.add("xdp")
    n = len(ext.line_info[sec])
    # Swap the first two records of the xdp block in the written bytes (the writer never does this).
    hdr_len, _, _, line_off = struct.unpack_from("<IIII", good, 4)
    pos = hdr_len + line_off + 4
    data = bytearray(good)
    while struct.unpack_from("<I", data, pos)[0] != sec:
        pos += 8 + 16 * struct.unpack_from("<I", data, pos + 4)[0]
    assert struct.unpack_from("<I", data, pos + 4)[0] == n
    first, second = pos + 8, pos + 24
    data[first:first + 16], data[second:second + 16] = data[second:second + 16], data[first:first + 16]
    bad = tmp_path / "bad.btfext"
    bad.write_bytes(bytes(data))
    btf_file = tmp_path / "b.btf"
    btf_file.write_bytes(btf.serialize())
    out = tmp_path / "unsorted.o"
    subprocess.run([_require("llvm-objcopy-19"), "--update-section", f".BTF={btf_file}",
                    "--update-section", f".BTF.ext={bad}", str(src), str(out)], check=True, capture_output=True)
    assert _libbpf_load(out) != 0
    assert BTFExt.parse(bytes(data)).serialize() == good  # and our writer puts them back in order


def test_writer_sorts_records_and_keeps_all(built):
    btf, ext = _parsed(built["kinds"])
    before = {k: sorted((r.insn_off, r.line) for r in v) for k, v in ext.line_info.items()}
    for recs in ext.line_info.values():
        recs.reverse()
    again = BTFExt.parse(ext.serialize(), btf)
    for k, recs in again.line_info.items():
        assert [(r.insn_off, r.line) for r in recs] == before[k]
    ext.sort()
    assert all(r == sorted(r, key=lambda x: x.insn_off) for r in ext.line_info.values())


def test_record_offsets_are_what_clang_relocates(obj):
    """Each record's insn_off field carries one .rel.BTF.ext entry against its code section."""
    from bpfrewrite.btf.ext import record_offsets

    btf, ext = _parsed(obj)
    assert ext is not None, "clang -g always emits .BTF.ext"
    with open(obj, "rb") as f:
        elf = ELFFile(f)
        rel = elf.get_section_by_name(".rel.BTF.ext")
        assert rel is not None, "clang relocates .BTF.ext"
        symtab = elf.get_section(rel["sh_link"])
        relocated = sorted(
            (r["r_offset"], elf.get_section(symtab.get_symbol(r["r_info_sym"])["st_shndx"]).name)
            for r in rel.iter_relocations()
        )
    _, ext_bytes = _sections(obj)
    ours = sorted((pos, btf.strings.get(name_off)) for pos, name_off in record_offsets(ext_bytes))
    assert ours == relocated
    assert len(ours) == sum(len(v) for t in (ext.func_info, ext.line_info, ext.core_relos) for v in t.values())
