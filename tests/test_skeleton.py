"""A patched object in the ordinary libbpf workflow: skeleton, C loader, default loads, tools' silence.

The skeleton test builds a real loader (tests/skeleton/loader.c) with gcc against libbpf-dev and
attaches count_getpgid_calls (raw_tp/sys_enter) for a few getpgid(2) calls of its own; the program
counts only its loader's pid, and the loader detaches and unloads everything before it exits.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from bpfrewrite.elf.reader import read_object
from bpfrewrite.patching import patch_object
from bpfrewrite.twins import twin_names
from conftest import require_tool

REPO = Path(__file__).resolve().parent.parent
OBJECTS = sorted(p for p in (REPO / "testdata").glob("*.bpf.o") if "_bad" not in p.name)
LIBBPF_HEADER = "/usr/include/bpf/libbpf.h"
PROG, TWIN = "count_getpgid_calls", "count_getpgid_calls__fast"


@pytest.fixture(scope="module")
def loader(tmp_path_factory) -> Path:
    """The C loader, compiled against the skeleton of the patched testdata/skeleton_getpgid.bpf.o."""
    require_tool("bpftool", "gcc", LIBBPF_HEADER)
    work = tmp_path_factory.mktemp("skeleton")
    patched = work / "patched.bpf.o"
    patch_object(REPO / "testdata" / "skeleton_getpgid.bpf.o", patched)
    gen = subprocess.run(["bpftool", "gen", "skeleton", str(patched), "name", "patched"], capture_output=True, text=True)
    assert gen.returncode == 0 and gen.stderr == "", gen.stderr  # no libbpf word about the twin or the record
    (work / "patched.skel.h").write_text(gen.stdout)
    exe = work / "loader"
    cc = subprocess.run(["gcc", "-Wall", "-Werror", "-O1", f"-I{work}", "-o", str(exe),
                         str(REPO / "tests" / "skeleton" / "loader.c"), "-lbpf"], capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    return exe


def _run_loader(exe: Path, *args: str) -> tuple[dict[str, dict[str, str]], dict[str, int], dict[int, str]]:
    """Run the loader; return its per-program lines, its counters, and bpftool's name for each loaded id."""
    proc = subprocess.Popen([str(exe), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        progs: dict[str, dict[str, str]] = {}
        while True:
            line = proc.stdout.readline()
            assert line, f"loader stopped early: {proc.stderr.read()}"
            fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f) if line.startswith("prog ") else {}
            if line.startswith("prog "):
                progs[line.split()[1]] = fields
            elif line.startswith("getpgid="):
                counters = {k: int(v) for k, v in (f.split("=") for f in line.split())}
                break
        # While the loader holds them: bpftool's view of each loaded program.
        shown = {}
        for fields in progs.values():
            if fields.get("loaded") == "1":
                out = subprocess.run(["bpftool", "-j", "prog", "show", "id", fields["id"]], capture_output=True, text=True)
                assert out.returncode == 0, out.stderr
                shown[int(fields["id"])] = json.loads(out.stdout)["name"]
        _, err = proc.communicate("\n", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()  # exiting closes the loader's fds: its links detach, its programs unload
            proc.wait()
    assert proc.returncode == 0 and err == "", err  # libbpf prints nothing: no skipped-section notice
    return progs, counters, shown


def test_skeleton_loads_and_attaches_only_originals_by_default(kernel, loader: Path) -> None:
    progs, counters, shown = _run_loader(loader)
    assert progs[PROG]["loaded"] == "1" and progs[PROG]["attached"] == "1"
    assert progs[TWIN] == {"loaded": "0", "attached": "0"}
    # Every getpgid ran the original once and nothing else.
    assert counters["runs"] == counters["calls"] == counters["getpgid"]
    assert shown == {int(progs[PROG]["id"]): PROG}


def test_skeleton_loads_and_attaches_an_opted_in_twin(kernel, loader: Path) -> None:
    progs, counters, shown = _run_loader(loader, "twin")
    assert all(progs[name]["loaded"] == "1" and progs[name]["attached"] == "1" for name in (PROG, TWIN))
    # Both ran on every call; only the original counted in the map (the twin's lookup and update are stubbed).
    assert counters["runs"] == 2 * counters["getpgid"] and counters["calls"] == counters["getpgid"]
    # The kernel keeps 15 characters, the same for both; bpftool names each by its BTF FUNC.
    assert progs[PROG]["kernel_name"] == progs[TWIN]["kernel_name"] == PROG[:15]
    assert shown == {int(progs[PROG]["id"]): PROG, int(progs[TWIN]["id"]): TWIN}


@pytest.fixture(scope="module")
def patched_all(tmp_path_factory) -> dict[str, Path]:
    out_dir = tmp_path_factory.mktemp("patched")
    out = {}
    for path in OBJECTS:
        out[path.name] = out_dir / path.name
        patch_object(path, out[path.name])
    return out


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_default_load_is_originals_only(kernel, path: Path, patched_all) -> None:
    """bpf_object__load with libbpf's defaults loads every original and no twin."""
    from bpfrewrite.kernel import libbpf

    out = patched_all[path.name]
    twins = twin_names(read_object(out))
    assert twins
    with libbpf.captured_messages() as messages, libbpf.BpfObject(out) as obj:
        assert obj.load() == 0, messages
        loaded = {p.name: p.fd >= 0 for p in obj.programs()}
    originals = {f.name for f in read_object(path).programs}
    assert {name for name, ok in loaded.items() if ok} == originals
    assert {name for name, ok in loaded.items() if not ok} == twins & set(loaded)


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_tools_say_nothing_about_what_bpfrewrite_added(path: Path, patched_all, tmp_path: Path) -> None:
    """libbpf (via bpftool gen skeleton and gen object) and llvm-objdump-19 print no warning."""
    require_tool("bpftool", "llvm-objdump-19")
    out = patched_all[path.name]
    for cmd in (["bpftool", "gen", "skeleton", str(out)], ["bpftool", "gen", "object", str(tmp_path / "l.o"), str(out)],
                ["llvm-objdump-19", "-d", "-r", str(out)]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stderr == "", (cmd, proc.stderr)


def test_the_old_record_form_still_reads(tmp_path: Path) -> None:
    """Objects patched before the record became a string table (PROGBITS, JSON lines) still read."""
    from bpfrewrite.elf.reader import parse_object
    from bpfrewrite.elf.writer import serialize
    from bpfrewrite.twins import REPORT_SECTION, read_report

    out = tmp_path / "loop.o"
    patch_object(REPO / "testdata" / "loop.bpf.o", out)
    obj = read_object(out)
    new = read_report(obj)
    sec = obj.section(REPORT_SECTION)
    assert sec.type == 3 and sec.data.startswith(b"\0") and sec.data.endswith(b"\0")  # SHT_STRTAB
    line = json.dumps(new).encode() + b"\n"
    sec.type, sec.data, sec.size = 1, line + line, 2 * len(line)  # as the linker concatenated old records
    old = read_report(parse_object(serialize(obj), "old.o"))
    assert old["twins"] == new["twins"] * 2 and old["sites"] == new["sites"] * 2


def test_bpftool_loadall_refuses_twins_and_prog_load_pins_an_original(kernel, patched_all, tmp_path: Path) -> None:
    """What docs/fast-path.md tells bpftool users: loadall fails on autoload-off twins; load pins the first original."""
    require_tool("bpftool", "unshare")
    out = patched_all["loop.bpf.o"]
    script = (f"mount -t bpf bpf /sys/fs/bpf && bpftool prog load {out} /sys/fs/bpf/one && "
              "bpftool -j prog show pinned /sys/fs/bpf/one; rm -f /sys/fs/bpf/one; "
              f"bpftool prog loadall {out} /sys/fs/bpf/all; echo loadall=$?")
    # A private mount namespace and bpffs: nothing pinned here is visible outside or outlives the test.
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=60)
    first = json.loads(proc.stdout.splitlines()[0])
    assert first["name"] == "loop_prog"
    assert re.search(r"^loadall=(?!0$)\d+$", proc.stdout, re.M), proc.stdout
    assert "prog 'loop_prog__fast': can't pin program that wasn't loaded" in proc.stderr
