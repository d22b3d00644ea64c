"""The object model read from every testdata object, checked against readelf/pyelftools."""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfrewrite.elf.reader import parse_object, read_object
from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.model import RefKind

REPO = Path(__file__).resolve().parent.parent
OBJECTS = sorted((REPO / "testdata").glob("*.bpf.o"))


def _exec_relocations(path: Path) -> dict[str, int]:
    """Number of relocations per executable section, as pyelftools reads them."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        out = {}
        for sec in elf.iter_sections():
            if sec.header["sh_type"] == "SHT_REL":
                target = elf.get_section(sec.header["sh_info"])
                if target.header["sh_flags"] & 0x4:
                    out[target.name] = sec.num_relocations()
        return out


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_functions_tile_code_and_relocations_land_on_instructions(path: Path) -> None:
    obj = read_object(path)
    assert obj.programs, "every testdata object has at least one program"
    for sec in obj.exec_sections():
        funcs = [f for f in obj.functions if f.section is sec]
        covered = sorted(i for f in funcs for i in range(f.start, f.start + f.count))
        assert covered == list(range(len(sec.insns))), f"functions must tile {sec.name}"
        relocated = sum(1 for i in sec.insns if i.ref is not None and i.ref.reloc is not None)
        assert relocated == _exec_relocations(path).get(sec.name, 0)
    for func in obj.functions:
        for insn in func.insns:
            if insn.is_pseudo_call:  # bpf-to-bpf, or a kfunc as clang emits it (src_reg 1, extern symbol)
                assert insn.ref is not None and insn.ref.kind in (RefKind.CALL, RefKind.KFUNC)
                assert (insn.ref.target is not None) == (insn.ref.kind == RefKind.CALL)
            if insn.is_kfunc_call:
                assert insn.ref is not None and insn.ref.kind == RefKind.KFUNC


def test_loop_object_references() -> None:
    obj = read_object(REPO / "testdata" / "loop.bpf.o")
    prog = obj.function("loop_prog")
    assert prog is not None and prog.is_program and prog.prog_type == "xdp"
    refs = [(i.ref.kind, i.ref.name) for i in prog.insns if i.ref is not None]
    callbacks = [name for kind, name in refs if kind == RefKind.CALLBACK]
    assert len(callbacks) == 1
    cb = obj.function(callbacks[0])
    assert cb is not None and not cb.is_program and cb.section.name == ".text"
    assert any(kind == RefKind.DATA for kind, _ in refs)
    assert obj.license == "GPL"


def test_line_info_gives_source_positions() -> None:
    from bpfrewrite.source import function_positions

    obj = read_object(REPO / "testdata" / "loop.bpf.o")
    prog = obj.function("loop_prog")
    positions = [p for p in function_positions(obj, prog) if p is not None]
    assert positions and all(p.file.endswith("loop.bpf.c") for p in positions)
    src = (REPO / "testdata" / "src" / "loop.bpf.c").read_text().splitlines()
    for p in positions:  # the text clang stored is the line of the file at that number
        assert src[p.line - 1].strip() == p.text.strip()


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpfrewrite", *args], capture_output=True, text=True)


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    good = (REPO / "testdata" / "loop.bpf.o").read_bytes()
    cases = {
        "missing": tmp_path / "nope.o",
        "directory": tmp_path,
        "empty": tmp_path / "empty.o",
        "random": tmp_path / "random.o",
        "truncated": tmp_path / "trunc.o",
        "not-bpf": Path("/bin/ls"),
        "little-endian bytes, header says big": tmp_path / "be.o",
    }
    cases["empty"].write_bytes(b"")
    cases["random"].write_bytes(bytes(range(256)) * 3)
    cases["truncated"].write_bytes(good[: len(good) // 3])
    be = bytearray(good)
    be[5] = 2  # EI_DATA = ELFDATA2MSB
    struct.pack_into(">H", be, 18, 247)
    cases["little-endian bytes, header says big"].write_bytes(bytes(be))
    return cases


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for name, path in _bad_inputs(tmp_path).items():
        proc = _run_cli("disasm", str(path))
        assert proc.returncode == 2, (name, proc.stderr)
        assert proc.stdout == "", name
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("bpfrewrite: error:"), (name, proc.stderr)
        assert "Traceback" not in proc.stderr


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(min_value=0, max_value=max(len(OBJECTS) - 1, 0)),
    edits=st.lists(st.tuples(st.integers(min_value=0, max_value=1 << 20), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=1 << 20)),
)
def test_mutated_objects_raise_only_user_errors(which: int, edits, cut) -> None:
    data = bytearray(OBJECTS[which].read_bytes())
    for pos, value in edits:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    try:
        parse_object(bytes(data), "mutated.o")
    except BpfrewriteError:
        pass


def _code_ranges(path: Path) -> list[tuple[int, int]]:
    with open(path, "rb") as f:
        return [(s["sh_offset"], s["sh_size"]) for s in ELFFile(f).iter_sections()
                if s["sh_flags"] & 0x4 and s["sh_size"]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(min_value=0, max_value=max(len(OBJECTS) - 1, 0)),
    edits=st.lists(st.tuples(st.integers(min_value=0, max_value=1 << 20), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_mutated_code_raises_only_user_errors_in_every_command(which: int, edits) -> None:
    """Corrupt instruction bytes: reading, listing, CFGs, lint and patch fail only with BpfrewriteError."""
    from bpfrewrite.passes.analysis.flowgraphs import flow_graphs
    from bpfrewrite.render.cfg import cfg_dot, cfg_json
    from bpfrewrite.render.listing import json_listing
    from bpfrewrite.lint.runner import lint_object
    from bpfrewrite.passes.transforms.fastpath import make_twins

    path = OBJECTS[which]
    data = bytearray(path.read_bytes())
    ranges = _code_ranges(path)
    for pos, value in edits:
        start, size = ranges[pos % len(ranges)]
        data[start + (pos >> 4) % size] = value
    try:
        obj = parse_object(bytes(data), "mutated.o")
        json_listing(obj)
        graphs = flow_graphs(obj)
        cfg_json(graphs)
        cfg_dot(graphs)
        lint_object(obj)
        make_twins(obj)
    except BpfrewriteError:
        pass
