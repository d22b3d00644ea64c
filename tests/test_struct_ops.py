"""struct_ops programs: their twins load only through a twin struct_ops map (testdata/struct_ops_cc)."""
from __future__ import annotations

import errno
from pathlib import Path

import pytest

from bpfrewrite.btf.types import BtfKind
from bpfrewrite.elf.reader import read_object
from bpfrewrite.patching import patch_object
from bpfrewrite.passes.transforms import fastpath
from bpfrewrite.twins import TWIN_SUFFIX, read_report

SOURCE = Path(__file__).resolve().parent.parent / "testdata" / "struct_ops_cc.bpf.o"
PROGRAMS = ("cc_ssthresh", "cc_undo_cwnd", "cc_cong_avoid")


def _load_everything(path: Path) -> tuple[int, dict[str, int], list[str]]:
    """libbpf-load every program (twins switched on, whatever their default); errno, fds, messages."""
    from bpfrewrite.kernel import libbpf

    with libbpf.captured_messages() as messages, libbpf.BpfObject(path) as obj:
        progs = obj.programs()
        for prog in progs:
            prog.set_autoload(True)
        err = obj.load()
        fds = {p.name: p.fd for p in progs}
    return err, fds, messages


@pytest.mark.parametrize("name", ["cc_ops", "cc_ops_lite"])
def test_twin_map_names_the_twins(name: str, tmp_path: Path) -> None:
    out = tmp_path / "p.o"
    patch_object(SOURCE, out)
    obj = read_object(out)
    sec = obj.section(".struct_ops")
    twin = next(s for s in obj.symbols if s.name == name + TWIN_SUFFIX)
    orig = next(s for s in obj.symbols if s.name == name)
    assert twin.shndx == sec.index and twin.size == orig.size and twin.value >= 2 * orig.size
    # Same bytes (name, flags), members relocated against the twins instead of the originals.
    assert sec.data[twin.value:twin.value + twin.size] == sec.data[orig.value:orig.value + orig.size]
    relocs = obj.other_relocations[".rel.struct_ops"]

    def members(var):
        return sorted((off - var.value, sym.name) for off, _, sym in relocs if var.value <= off < var.value + var.size)

    assert members(twin) == [(off, name + TWIN_SUFFIX) for off, name in members(orig)]
    assert {name for _, name in members(orig)} == set(PROGRAMS)
    datasec = next(t for t in obj.btf.types[1:] if t.kind == BtfKind.DATASEC and t.name == ".struct_ops")
    by_name = {obj.btf.types[v.type].name: v for v in datasec.datasec_vars}
    assert set(by_name) == {"cc_ops", "cc_ops_lite", "cc_ops__fast", "cc_ops_lite__fast"}
    assert by_name[name + TWIN_SUFFIX].offset == twin.value
    assert obj.btf.types[by_name[name + TWIN_SUFFIX].type].size_or_type == \
        obj.btf.types[by_name[name].type].size_or_type  # the same struct tcp_congestion_ops
    assert {"original": name, "twin": name + TWIN_SUFFIX, "section": ".struct_ops"} in read_report(obj)["maps"]


def test_patched_object_loads_with_every_twin(tmp_path: Path, kernel) -> None:
    out = tmp_path / "p.o"
    patch_object(SOURCE, out)
    err, fds, messages = _load_everything(out)
    assert err == 0, "".join(messages)[-2000:]
    assert sorted(fds) == sorted([*PROGRAMS, *(p + TWIN_SUFFIX for p in PROGRAMS)])
    assert all(fd >= 0 for fd in fds.values())


def test_without_a_twin_map_the_kernel_refuses_the_twins(tmp_path: Path, kernel, monkeypatch) -> None:
    """The reason for the twin map: a struct_ops program no map names has no attach_btf_id (-524)."""
    monkeypatch.setattr(fastpath, "add_twin_maps", lambda obj, twins, suffix: [])
    out = tmp_path / "p.o"
    patch_object(SOURCE, out)
    err, fds, messages = _load_everything(out)
    assert err == 524 or err == errno.ENOTSUP, err  # ENOTSUPP (kernel-internal 524)
    assert "__fast" in "".join(messages)
    err, fds, messages = _load_everything(SOURCE)
    assert err == 0, "".join(messages)[-2000:]


@pytest.mark.parametrize("section", [".struct_ops", ".struct_ops.link", "?.struct_ops"])
def test_struct_ops_sections_are_recognised(section: str) -> None:
    from bpfrewrite.passes.transforms.struct_ops import is_struct_ops_section

    assert is_struct_ops_section(section)
    assert not is_struct_ops_section(".maps")
