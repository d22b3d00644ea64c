"""The benchmark helpers: the generated large object's size and shape, the scripts' CLIs, docs markers.

No timing is asserted. The first run compiles the large objects (about 30 s with clang-19 on two
cores); later runs take them from the cache in the temp dir.
"""
from __future__ import annotations

import functools
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_tool

from bpfrewrite.elf.reader import read_object

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = ("large_object.py", "disasm_throughput.py", "termination.py", "twin_cost.py", "guard.py")
BPF_FUNC_MAP_LOOKUP_ELEM = 1  # uapi linux/bpf.h helper ids
BPF_FUNC_LOOP = 181


@pytest.fixture(scope="module")
def bench(request):
    """The benchmarks package, importable as the scripts import it (from the repository root)."""
    require_tool("clang-19")
    added = str(REPO) not in sys.path
    if added:
        sys.path.insert(0, str(REPO))
    yield importlib.import_module("benchmarks.large_object"), importlib.import_module("benchmarks.termination")
    if added:
        sys.path.remove(str(REPO))


@functools.lru_cache(maxsize=None)
def _counts(path: Path) -> tuple[int, int, int]:
    """(instructions, 8-byte slots, ld_imm64 count) over the executable sections."""
    obj = read_object(path)
    insns = [insn for sec in obj.exec_sections() for insn in sec.insns]
    slots = sum(sec.size // 8 for sec in obj.exec_sections())
    return len(insns), slots, sum(1 for insn in insns if insn.is_ld_imm64)


def test_large_object_has_at_least_100k_instructions(bench):
    large, _ = bench
    path = large.make_large_object()
    n, slots, wide = _counts(path)
    assert n >= 100_000
    # The section bytes are the oracle: every slot is an instruction or an ld_imm64's second half.
    assert n + wide == slots
    assert n < 110_000, "the generator should not overshoot the target by much"
    assert importlib.import_module("benchmarks.compiled").count_instructions(path) == n


def test_half_object_is_about_half(bench):
    large, _ = bench
    full, _, _ = _counts(large.make_large_object())
    half, _, _ = _counts(large.make_large_object(half=True))
    assert half >= 50_000
    assert 0.45 <= half / full <= 0.55


def test_large_object_has_the_documented_shape(bench):
    large, _ = bench
    obj = read_object(large.make_large_object(n_insns=2_000))
    sections = {f.section.name for f in obj.programs}
    assert sections == {"xdp", "tc", "socket", "tracepoint/syscalls/sys_enter_write"}
    assert any(not f.is_global for f in obj.subprograms), "static subprograms"
    assert any(f.is_global for f in obj.subprograms), "global subprograms"
    helpers = {insn.imm for f in obj.programs for insn in f.insns if insn.is_helper_call}
    assert {BPF_FUNC_MAP_LOOKUP_ELEM, BPF_FUNC_LOOP} <= helpers
    kinds = {insn.ref.kind.name for sec in obj.exec_sections() for insn in sec.insns if insn.ref}
    assert {"MAP", "DATA", "CALL", "CALLBACK"} <= kinds
    assert obj.btf_ext is not None and obj.btf_ext.line_info


def test_dest_dir_gets_a_copy_and_the_cache_is_reused(bench, tmp_path):
    large, _ = bench
    first = large.make_large_object(n_insns=1_500)
    stamp = first.stat().st_mtime_ns
    copy = large.make_large_object(tmp_path, n_insns=1_500)
    assert copy.parent == tmp_path
    assert copy.read_bytes() == first.read_bytes()
    assert large.make_large_object(n_insns=1_500) == first
    assert first.stat().st_mtime_ns == stamp, "a cached object must not be rebuilt"
    assert _counts(copy)[0] >= 1_500


def test_large_object_rejects_a_non_positive_size(bench):
    large, _ = bench
    with pytest.raises(ValueError):
        large.make_large_object(n_insns=0)


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_help(script):
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), "--help"], capture_output=True, text=True, cwd="/"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage:")


def test_disasm_benchmark_runs_on_a_small_object():
    require_tool("llvm-objdump-19")
    obj = REPO / "testdata" / "loop.bpf.o"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "disasm_throughput.py"), "--object", str(obj), "--repeat", "1"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    n = sum(len(sec.insns) for sec in read_object(obj).exec_sections())
    assert f"{n} instructions" in proc.stdout
    assert "llvm-objdump-19 -d -l" in proc.stdout and "bpfrewrite disasm /" in proc.stdout


def test_termination_refuses_non_root(bench, monkeypatch):
    _, term = bench
    monkeypatch.setattr(term.os, "geteuid", lambda: 1000)
    with pytest.raises(SystemExit) as exc:
        term.preflight()
    assert "root" in str(exc.value) and "\n" not in str(exc.value)


def test_termination_refuses_without_matplotlib(bench, monkeypatch):
    _, term = bench
    monkeypatch.setattr(term.os, "geteuid", lambda: 0)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    with pytest.raises(SystemExit) as exc:
        term.preflight()
    assert "matplotlib" in str(exc.value) and "\n" not in str(exc.value)


def test_termination_docs_block_is_replaced_between_markers(bench, tmp_path):
    _, term = bench
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Title\n\nbefore\n\n{term.BEGIN}\nold table\n{term.END}\n\nafter\n")
    block = f"{term.BEGIN}\nnew table\n{term.END}"
    term.write_docs(block, doc)
    term.write_docs(block, doc)  # a rerun replaces, it does not append
    text = doc.read_text()
    assert text == f"# Title\n\nbefore\n\n{block}\n\nafter\n"


def test_termination_docs_block_is_appended_without_markers(bench, tmp_path):
    _, term = bench
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Title\n")
    block = f"{term.BEGIN}\nrows\n{term.END}"
    term.write_docs(block, doc)
    assert doc.read_text() == f"# Title\n\n{block}\n"


@pytest.mark.parametrize(
    "ns, text",
    [(26, "26 ns"), (580, "580 ns"), (12_345, "12.3 µs"), (7_730_000, "7.73 ms"), (250e6, "250 ms"), (1.25e9, "1.25 s")],
)
def test_termination_formats_durations(bench, ns, text):
    _, term = bench
    assert term.fmt_ns(ns) == text


def test_twin_cost_table_on_two_objects(kernel):
    """benchmarks/twin_cost.py: per-object sums over originals and twins, then the totals."""
    sys.path.insert(0, str(REPO))
    try:
        cost = importlib.import_module("benchmarks.twin_cost")
    finally:
        sys.path.remove(str(REPO))
    objects = [REPO / "testdata" / "loop.bpf.o", REPO / "testdata" / "may_goto_long.bpf.o"]
    lines = cost.table(cost.measure(objects, rounds=1)).splitlines()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert [c[:2] for c in cells[:2]] == [["loop.bpf.o", "1"], ["may_goto_long.bpf.o", "2"]]
    assert cells[0][2] == cells[0][3] == "38"  # loop_prog and its twin: the same 38 instructions processed
    assert int(cells[1][3]) < int(cells[1][2])  # may_goto twins leave their loops: fewer insns to verify
    assert cells[2][2] == f"**{int(cells[0][2]) + int(cells[1][2])}**" and cells[2][7].endswith(" us**")


@pytest.fixture(scope="module")
def guard_bench():
    """benchmarks/guard.py as a module."""
    added = str(REPO) not in sys.path
    if added:
        sys.path.insert(0, str(REPO))
    yield importlib.import_module("benchmarks.guard")
    if added:
        sys.path.remove(str(REPO))


def test_guard_benchmark_refuses_non_root(guard_bench, monkeypatch):
    monkeypatch.setattr(guard_bench.os, "geteuid", lambda: 1000)
    with pytest.raises(SystemExit) as exc:
        guard_bench.preflight()
    assert "root" in str(exc.value) and "\n" not in str(exc.value)


def test_guard_benchmark_docs_block_is_replaced_between_markers(guard_bench, tmp_path):
    doc = tmp_path / "guard.md"
    doc.write_text(f"# Title\n\nbefore\n\n{guard_bench.BEGIN}\nold table\n{guard_bench.END}\n\nafter\n")
    block = f"{guard_bench.BEGIN}\nnew table\n{guard_bench.END}\n"
    guard_bench.write_docs(block, doc)
    guard_bench.write_docs(block, doc)  # a rerun replaces, it does not append
    assert doc.read_text() == f"# Title\n\nbefore\n\n{block}\nafter\n"


def test_guard_benchmark_rate_skips_partial_intervals(guard_bench):
    samples = [{"running": "p", "runs": n} for n in (5, 100, 100, 7)] + [{"running": "q", "runs": 1}]
    # The middle two 100 ms intervals: 200 runs in 0.2 s.
    assert guard_bench.rate(samples, "p") == pytest.approx(1000)
