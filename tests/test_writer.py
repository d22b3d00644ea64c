"""Writing the model back: an unchanged object round-trips section by section, and libbpf's linker accepts it."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from bpfrewrite.elf.reader import read_object
from bpfrewrite.elf.writer import serialize, write_object

REPO = Path(__file__).resolve().parent.parent
OBJECTS = sorted((REPO / "testdata").glob("*.bpf.o"))


def _sections(path: Path) -> list[tuple]:
    with open(path, "rb") as f:
        elf = ELFFile(f)
        return [
            (s.name, s.header["sh_type"], s.header["sh_flags"], s.header["sh_link"], s.header["sh_info"],
             s.header["sh_addralign"], s.header["sh_entsize"], s.header["sh_size"],
             b"" if s.header["sh_type"] == "SHT_NOBITS" else s.data())
            for s in elf.iter_sections()
        ]


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_unchanged_object_round_trips_every_section(path: Path, tmp_path: Path) -> None:
    out = tmp_path / path.name
    write_object(read_object(path), out)
    before, after = _sections(path), _sections(out)
    assert [s[0] for s in before] == [s[0] for s in after]
    for b, a in zip(before, after):
        assert b == a, f"section {b[0]} differs after a round trip"


@pytest.mark.parametrize("path", OBJECTS[:4], ids=lambda p: p.name)
def test_round_trip_passes_libbpf_linker(path: Path, tmp_path: Path) -> None:
    if shutil.which("bpftool") is None:
        pytest.fail("bpftool is needed (make deps installs it)")
    out = tmp_path / "rt.o"
    out.write_bytes(serialize(read_object(path)))
    proc = subprocess.run(["bpftool", "gen", "object", str(tmp_path / "linked.o"), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_write_is_atomic_and_leaves_no_temporary(tmp_path: Path) -> None:
    obj = read_object(OBJECTS[0])
    target = tmp_path / "x.o"
    target.write_bytes(b"old")
    write_object(obj, target)
    assert target.read_bytes()[:4] == b"\x7fELF"
    assert [p.name for p in tmp_path.iterdir()] == ["x.o"]


def test_branch_offsets_are_derived_from_targets(tmp_path: Path, kernel) -> None:
    """Insert a no-op inside a loop: the writer re-derives every jump offset, and the kernel agrees."""
    from bpfrewrite.isa import Instruction
    from bpfrewrite.kernel.runner import verify_object

    obj = read_object(REPO / "testdata" / "plain_loop.bpf.o")
    func = obj.function("plain_loop")
    assert [f for f in obj.functions if f.section is func.section] == [func]  # nothing after it moves
    back = next(i for i in func.insns if i.is_cond_jump and i.branch_offset < 0)
    loop_head = func.insns.index(back.target)
    before = back.branch_offset
    func.section.insns.insert(func.start + loop_head + 1, Instruction.ja(0))  # a no-op in the loop body
    func.count += 1
    out = tmp_path / "grown.o"
    write_object(obj, out)
    again = read_object(out).function("plain_loop")
    new_back = next(i for i in again.insns if i.is_cond_jump and i.branch_offset < 0)
    assert new_back.branch_offset == before - 1
    (result,) = verify_object(out, run=True)
    assert result.accepted and result.retval == 0x5100, result.message


LOADABLE = [p for p in OBJECTS if "_bad" not in p.name]


@pytest.mark.parametrize("path", LOADABLE, ids=lambda p: p.name)
def test_round_tripped_object_loads_in_the_kernel(path: Path, tmp_path: Path, kernel) -> None:
    """What the writer emits for an unchanged object, the verifier accepts program by program."""
    from bpfrewrite.kernel.runner import verify_object

    out = tmp_path / path.name
    write_object(read_object(path), out)
    results = verify_object(out)
    assert results and all(r.accepted for r in results), [(r.name, r.message) for r in results if not r.accepted]
