"""Big-endian (bpfeb) objects: read, listed, linted and patched as their bpfel twins from the same C are.

testdata/eb/X.bpf.o is testdata/src/X.bpf.c built with -target bpfeb (Makefile). Oracles: the bpfel
object from the same source (same listing, lint, patch report and twin, where clang emits the same
code for both), llvm-objdump-19 on inputs and patched outputs (test_isa_objdump covers the inputs),
libbpf's BTF reader (bpftool btf dump), and the kernel, through a test-only little-endian copy of
the parsed model (tests/byteswap.py): this machine cannot load bpfeb code.
"""
from __future__ import annotations

import dataclasses
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from byteswap import to_little_endian
from conftest import require_tool
from test_isa_objdump import compare as objdump_compare
from test_writer import _sections as elf_sections
from typer.testing import CliRunner

from bpfrewrite.cli import app
from bpfrewrite.render.listing import json_listing, text_listing
from bpfrewrite.elf.reader import parse_object, read_object
from bpfrewrite.elf.writer import serialize, write_object
from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.patching import patch_object

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"
EB = sorted((TESTDATA / "eb").glob("*.bpf.o"))
# clang emits other code for these in bpfeb: constants that follow the byte order (a network-order
# address, a string packed into a 64-bit immediate), so their listings differ from the bpfel ones.
ORDER_DEPENDENT_CODE = {"global_data", "sk_lookup"}
SAME_CODE = [p for p in EB if p.name.removesuffix(".bpf.o") not in ORDER_DEPENDENT_CODE]


def _ids(p: Path) -> str:
    return p.name.removesuffix(".bpf.o")


def _el(eb: Path) -> Path:
    return TESTDATA / eb.name


def test_eb_testdata_is_big_endian_and_covers_the_features() -> None:
    assert len(EB) >= 10
    features = set()
    for path in EB:
        assert path.read_bytes()[5] == 2  # EI_DATA: ELFDATA2MSB
        obj = read_object(path)
        assert obj.byte_order == "big" and obj.btf is not None and obj.btf_ext is not None
        features |= {"subprogram"} if obj.subprograms else set()
        features |= {"map"} if obj.maps else set()
        features |= {"core"} if any(i.core for s in obj.exec_sections() for i in s.insns) else set()
        features |= {r.ref.kind.name for s in obj.exec_sections() for r in s.insns if r.ref is not None}
    assert {"subprogram", "map", "core", "CALLBACK", "CALL", "KFUNC", "DATA", "MAP"} <= features, features


@pytest.mark.parametrize("path", EB, ids=_ids)
def test_unchanged_eb_object_round_trips_every_section(path: Path, tmp_path: Path) -> None:
    out = tmp_path / path.name
    write_object(read_object(path), out)
    assert out.read_bytes()[5] == 2
    assert elf_sections(out) == elf_sections(path)


@pytest.mark.parametrize("path", EB, ids=_ids)
def test_eb_model_is_the_el_model(path: Path) -> None:
    """Same functions, maps, references, line and CO-RE records; the same listing where the code is the same."""
    eb, el = read_object(path), read_object(_el(path))
    assert [(f.name, f.section.name, f.prog_type, f.btf_func_id) for f in eb.functions] == \
        [(f.name, f.section.name, f.prog_type, f.btf_func_id) for f in el.functions]
    assert [(m.name, m.type, m.key_size, m.value_size, m.max_entries) for m in eb.maps] == \
        [(m.name, m.type, m.key_size, m.value_size, m.max_entries) for m in el.maps]
    if path in SAME_CODE:
        assert list(text_listing(eb)) == list(text_listing(el))
        core = [[(c.type_id, c.kind) for c in i.core] for s in eb.exec_sections() for i in s.insns]
        assert core == [[(c.type_id, c.kind) for c in i.core] for s in el.exec_sections() for i in s.insns]
    else:
        assert list(text_listing(eb)) != list(text_listing(el))


def test_disasm_json_bytes_are_the_inputs_bytes() -> None:
    path = TESTDATA / "eb" / "loop.bpf.o"
    obj = read_object(path)
    text = next(s for s in obj.exec_sections() if s.name == "xdp")
    records = [r for r in json_listing(obj)["instructions"] if r["section"] == "xdp"]
    assert "".join(r["bytes"] for r in records) == text.data.hex()
    assert records[2]["text"] == "*(u64 *)(r10 - 0x10) = r1" and records[2]["bytes"] == "7ba1fff000000000"


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


@pytest.mark.parametrize("path", EB, ids=_ids)
def test_lint_says_of_eb_what_it_says_of_el(path: Path) -> None:
    for fmt in ("text", "json"):
        code_eb, out_eb = _cli("lint", "--format", fmt, str(path))
        code_el, out_el = _cli("lint", "--format", fmt, str(_el(path)))
        assert (code_eb, out_eb.replace("testdata/eb/", "testdata/")) == (code_el, out_el)


@pytest.mark.parametrize("path", SAME_CODE, ids=_ids)
def test_cfg_of_eb_is_the_cfg_of_el(path: Path) -> None:
    """Blocks, edges, loops and their bounds: the same graph from either byte order (dot and json)."""
    for fmt in ("dot", "json"):
        code_eb, out_eb = _cli("cfg", "--format", fmt, str(path))
        code_el, out_el = _cli("cfg", "--format", fmt, str(_el(path)))
        assert code_eb == code_el == 0 and out_eb.replace("testdata/eb/", "testdata/") == out_el and out_el


@pytest.fixture(scope="module")
def patched(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """name -> (patched bpfel, patched bpfeb), written by the patch command's library call."""
    d = tmp_path_factory.mktemp("eb_patched")
    out = {}
    for path in EB:
        el, eb = d / f"el_{path.name}", d / f"eb_{path.name}"
        patch_object(_el(path), el)
        patch_object(path, eb)
        out[_ids(path)] = (el, eb)
    return out


@pytest.mark.parametrize("path", EB, ids=_ids)
def test_twin_is_written_in_the_inputs_byte_order(path: Path, patched, tmp_path: Path) -> None:
    el, eb = patched[_ids(path)]
    assert eb.read_bytes()[5] == 2
    model = read_object(eb)
    assert model.byte_order == "big" and any(f.name.endswith("__fast") for f in model.functions)
    assert objdump_compare(eb) > 0  # llvm-objdump-19 reads our bpfeb output as we list it
    if path in SAME_CODE:
        assert list(text_listing(model)) == list(text_listing(read_object(el)))
        reports = [_cli("patch", str(src), str(tmp_path / "o.o"), "--report", "--format", "json")
                   for src in (path, _el(path))]
        assert reports[0] == reports[1] and reports[0][0] == 0


def _btf_dump(path: Path) -> str:
    proc = subprocess.run(["bpftool", "btf", "dump", "file", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("path", SAME_CODE, ids=_ids)
def test_libbpf_reads_the_patched_eb_btf_as_the_el_one(path: Path, patched) -> None:
    """libbpf's BTF reader swaps a foreign-order .BTF itself (btf.c, since 0.3): its dump is the oracle."""
    require_tool("bpftool")
    el, eb = patched[_ids(path)]
    dump = _btf_dump(eb)
    assert "__fast" in dump and dump == _btf_dump(el)


def test_libbpf_linker_oracle_needs_libbpf_1_5(patched) -> None:
    """`bpftool gen object` (libbpf's linker) reads bpfeb only from libbpf 1.5; before, it refuses it.

    Either way this test checks something: on 1.5+ the linker accepts our patched bpfeb objects;
    before, the refusal is the documented one, so a newer bpftool turns this into the oracle.
    """
    require_tool("bpftool")
    version = subprocess.run(["bpftool", "version"], capture_output=True, text=True).stdout
    found = re.search(r"libbpf v(\d+)\.(\d+)", version)
    assert found, version
    for name, (_, eb) in patched.items():
        proc = subprocess.run(["bpftool", "gen", "object", str(eb) + ".linked", str(eb)], capture_output=True,
                              text=True)
        if (int(found[1]), int(found[2])) >= (1, 5):
            assert proc.returncode == 0, (name, proc.stderr)
        else:
            assert proc.returncode != 0 and "unsupported byte order" in proc.stderr, (name, proc.stderr)


@pytest.mark.parametrize("path", EB, ids=_ids)
def test_kernel_loads_the_parsed_eb_model_and_runs_its_twins(path: Path, patched, tmp_path: Path, kernel) -> None:
    """The patched bpfeb object, parsed and written little-endian, verifies as the patched bpfel one does."""
    from bpfrewrite.kernel.runner import verify_object

    el, eb = patched[_ids(path)]
    model = read_object(eb)
    to_little_endian(model)
    le = tmp_path / "le.o"
    write_object(model, le)
    got = {r.name: r for r in verify_object(le, run=True)}
    want = {r.name: r for r in verify_object(el, run=True)}
    assert got.keys() == want.keys() and any(name.endswith("__fast") for name in got)
    for name, w in want.items():
        assert got[name].accepted == w.accepted, (name, got[name].message, w.message)
        if path in SAME_CODE:
            assert got[name].retval == w.retval, name  # same code, same data: same result
    assert any(r.accepted for r in got.values() if r.twin_of)


def test_verify_refuses_eb_in_one_line() -> None:
    proc = subprocess.run([sys.executable, "-m", "bpfrewrite", "verify", str(TESTDATA / "eb" / "loop.bpf.o")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"bpfrewrite: error: {TESTDATA / 'eb' / 'loop.bpf.o'}: a big-endian (bpfeb) object; this little-endian "
        "machine cannot load it (disasm, cfg, lint and patch read it)"]


def _with_section(path: Path, name: str, data: bytes) -> bytes:
    """path's bytes with section name's contents replaced by data (same size)."""
    obj = read_object(path)
    sec = obj.section(name)
    assert sec is not None and len(data) == len(sec.data)
    raw = bytearray(path.read_bytes())
    start = raw.find(sec.data)
    raw[start:start + len(data)] = data
    return bytes(raw)


@pytest.mark.parametrize("section", [".BTF", ".BTF.ext"])
@pytest.mark.parametrize("elf", ["little", "big"])
def test_a_mixed_order_object_is_refused_in_one_line(tmp_path: Path, section: str, elf: str) -> None:
    """The ELF header says one order and a BTF section's magic the other: exit 2, one line, nothing written."""
    path = TESTDATA / "loop.bpf.o" if elf == "little" else TESTDATA / "eb" / "loop.bpf.o"
    obj = read_object(path)
    other = "big" if elf == "little" else "little"
    part = obj.btf if section == ".BTF" else obj.btf_ext
    mixed = tmp_path / "mixed.o"
    mixed.write_bytes(_with_section(path, section, part.serialize(other)))
    with pytest.raises(BpfrewriteError, match=rf"{re.escape(section)} is {other}-endian .* but the ELF header says {elf}-endian"):
        read_object(mixed)
    proc = subprocess.run([sys.executable, "-m", "bpfrewrite", "patch", str(mixed), str(tmp_path / "out.o")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and "mixed-order object" in proc.stderr
    assert not (tmp_path / "out.o").exists()


def _facts(obj) -> dict:
    """What a byte order must not change: listing, references, symbols, maps, BTF types and BTF.ext records."""
    def ref(r) -> tuple | None:
        if r is None:
            return None
        reloc = None if r.reloc is None else (r.reloc.rtype, r.reloc.symbol.name)
        return (r.kind, r.name, r.section, r.addend, r.target and r.target.name, reloc)

    ext = obj.btf_ext
    return {
        "listing": list(text_listing(obj)),
        "references": [[ref(i.ref) for i in s.insns] for s in obj.exec_sections()],
        "other_relocations": {name: [(off, rtype, sym.name) for off, rtype, sym in rels]
                              for name, rels in obj.other_relocations.items()},
        "symbols": [(y.name, y.value, y.size, y.bind, y.type, y.other, y.shndx) for y in obj.symbols],
        "maps": [(m.name, m.section, m.type, m.key_size, m.value_size, m.max_entries, m.flags,
                  m.key_type_id, m.value_type_id) for m in obj.maps],
        "btf_types": obj.btf.types,
        "btf_strings": obj.btf.strings.to_bytes(),
        "btf_ext": (ext.func_info, ext.line_info, ext.core_relos),
    }


@pytest.mark.parametrize("path", EB, ids=_ids)
def test_serialize_in_the_other_order_swaps_every_field(path: Path) -> None:
    """A bpfeb model written little-endian reads back (parse_object) as the same model, and its code
    slots differ exactly as struct bpf_insn's layout says."""
    obj = read_object(path)
    big = serialize(obj)
    obj.byte_order = "little"
    little = serialize(obj)
    assert big[5] == 2 and little[5] == 1 and len(big) == len(little)
    back = read_object(path)
    parsed = parse_object(little, "little.o")
    assert parsed.byte_order == "little" and parsed.btf.byte_order == parsed.btf_ext.byte_order == "little"
    facts, expected = _facts(parsed), _facts(back)
    assert expected["listing"] and expected["btf_types"][1:] and expected["btf_ext"][1]
    for key in expected:
        assert facts[key] == expected[key], key
    for sec in back.exec_sections():
        for insn in sec.insns:
            b, le = insn.encode("big"), insn.encode("little")
            code, regs, off, imm = struct.unpack(">BBhi", b[:8])
            assert le[:8] == struct.pack("<BBhi", code, (regs & 0xF) << 4 | regs >> 4, off, imm)


# A 64-bit result spilled, then tested through a 4-byte fill of its low half: at the slot's offset
# on bpfel, 4 bytes further on bpfeb (clang emits `*(u32 *)(r10 - 0x8)` and `(r10 - 0x4)`).
LOW_HALF_SRC = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
extern int lock_thing(void *p) __ksym;
extern void unlock_thing(void *p) __ksym;
SEC("tc") int low_half(struct __sk_buff *skb) {
	volatile long err = lock_thing(skb);
	skb->mark = bpf_get_prandom_u32();
	if (*(volatile int *)((char *)&err + (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0)))
		return 1;
	unlock_thing(skb);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.mark.parametrize("target", ["bpfel", "bpfeb"])
def test_dataflow_follows_a_spilled_value_into_its_low_half_in_either_order(tmp_path: Path, target: str) -> None:
    from bpfrewrite.passes.analysis.dataflow import Dataflow
    from bpfrewrite.passes.manager import AnalysisManager

    require_tool("clang-19")
    (tmp_path / "low.bpf.c").write_text(LOW_HALF_SRC)
    subprocess.run(["clang-19", "-target", target, "-O2", "-g", "-I/usr/include/x86_64-linux-gnu", "-c",
                    "low.bpf.c", "-o", "low.bpf.o"], cwd=tmp_path, check=True, capture_output=True)
    obj = read_object(tmp_path / "low.bpf.o")
    func = obj.function("low_half")
    fills = [i.text() for i in func.insns if i.is_load and i.mem_access == (10, i.off, 4)]
    assert fills == ["r2 = *(u32 *)(r10 - 0x4)" if target == "bpfeb" else "r2 = *(u32 *)(r10 - 0x8)"]
    (lock,) = [k for k, i in enumerate(func.insns) if i.ref is not None and i.ref.name == "lock_thing"]
    assert AnalysisManager(obj).get(Dataflow, func).result_tested(lock)


# A 64-bit spill of 1 read back by a 32-bit fill: which half a slot holds follows the byte order.
_SPILL_FILL = """\t.section xdp,"ax"
\t.globl prog
\t.type prog,@function
prog:
\tr1 = 1
\t*(u64 *)(r10 - 8) = r1
\tr0 = *(u32 *)(r10 - {fill})
\texit
.Lend:
\t.size prog, .Lend-prog
\t.section license,"aw"
_license:
\t.asciz "GPL"
"""


@pytest.mark.parametrize("triple, fill, values", [
    ("bpfel", 8, [1]),  # the low half sits at the spill's offset
    ("bpfeb", 4, [1]),  # ... and at its end in bpfeb
    ("bpfeb", 8, []),   # the high half (0): not claimed to be 1
])
def test_return_values_read_the_half_a_slot_holds(tmp_path, triple, fill, values):
    require_tool("llvm-mc-19")
    src, obj = tmp_path / "p.s", tmp_path / f"p_{triple}.o"
    src.write_text(_SPILL_FILL.format(fill=fill))
    subprocess.run(["llvm-mc-19", "-triple", triple, "-filetype=obj", str(src), "-o", str(obj)], check=True)
    result = CliRunner().invoke(app, ["patch", str(obj), str(tmp_path / "out.o"), "--report", "--format", "json"])
    assert result.exit_code == 0, result.output
    (verdict,) = json.loads(result.output)["verdicts"]
    assert verdict["original"]["values"] == values and verdict["original"]["unknown"] == (not values)


def test_fields_this_version_does_not_know_are_not_written_in_the_other_order():
    """Unknown header bytes or record tails cannot be swapped: written as read they would mix orders."""
    obj = read_object(TESTDATA / "eb" / "loop.bpf.o")
    obj.btf.header_extra = bytes(4)
    assert obj.btf.serialize()[:2] == b"\xeb\x9f"  # its own order still writes
    with pytest.raises(BpfrewriteError, match="cannot write it in little-endian order"):
        obj.btf.serialize("little")
    ext = obj.btf_ext
    assert ext.serialize("little")  # known fields only: swapped
    recs = next(r for r in ext.func_info.values() if r)
    recs[0] = dataclasses.replace(recs[0], tail=bytes(4))
    ext.func_info_rec_size += 4
    assert ext.serialize()
    with pytest.raises(BpfrewriteError, match="cannot write it in little-endian order"):
        ext.serialize("little")
