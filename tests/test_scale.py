"""One huge function: patched within a memory budget and loaded by the kernel; the budget's error.

The huge program is generated (benchmarks/single_function.py, unrolled loops with many branches
and stack slots, as pyperf has) and cached in the temp dir, so only the first run pays for clang.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_tool

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"
HUGE_INSNS = 80_000


def cli(*args: str, budget: str | None = None) -> subprocess.CompletedProcess:
    """The CLI in a fresh interpreter (peak RSS is per process), with BPFREWRITE_MEMORY_BUDGET=budget."""
    env = dict(os.environ)
    env.pop("BPFREWRITE_MEMORY_BUDGET", None)
    if budget is not None:
        env["BPFREWRITE_MEMORY_BUDGET"] = budget
    return subprocess.run([sys.executable, "-m", "bpfrewrite", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=REPO)


@pytest.fixture(scope="module")
def huge():
    require_tool("clang-19")
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks.single_function import make_single_function

        path, count = make_single_function(HUGE_INSNS, "loops")
    finally:
        sys.path.remove(str(REPO))
    return path, count


def test_huge_function_is_one_function(huge):
    from bpfrewrite.elf.reader import read_object

    path, count = huge
    obj = read_object(path)
    assert [f.name for f in obj.functions] == ["big"]
    assert obj.functions[0].count == count
    assert abs(count - HUGE_INSNS) <= 0.03 * HUGE_INSNS


def test_huge_function_patches_in_1_gib_and_the_kernel_loads_both(huge, kernel, tmp_path):
    path, count = huge
    out = tmp_path / "huge.fast.o"
    # The budget is the assertion: patch stops with exit 2 if it ever needs more than 1 GiB.
    proc = cli("patch", path, out, budget="1024")
    assert proc.returncode == 0, proc.stderr
    lint = cli("lint", "--fail-on", "never", "--show-infos", "--format", "json", path, budget="1024")
    assert lint.returncode == 0, lint.stderr
    assert json.loads(lint.stdout)["diagnostics"], "the huge program calls helpers the fast path keeps"
    verify = cli("verify", "--format", "json", out)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    programs = {p["name"]: p for p in json.loads(verify.stdout)["programs"]}
    assert set(programs) == {"big", "big__fast"}
    assert all(p["accepted"] for p in programs.values()), programs
    # The twin stubs the map lookups, whose NULL branches skip most of the work.
    assert programs["big__fast"]["verified_insns"] < programs["big"]["verified_insns"]


@pytest.mark.parametrize("command", ["lint", "patch", "cfg"])
def test_memory_budget_exceeded_is_one_line_and_exit_2(command, tmp_path):
    src = TESTDATA / "loop.bpf.o"
    before = src.read_bytes()
    out = tmp_path / "out"
    args = {"lint": ["lint", src], "patch": ["patch", src, out], "cfg": ["cfg", src, "-o", out]}[command]
    proc = cli(*args, budget="1")  # any Python process is past 1 MiB
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "memory budget of 1 MiB" in lines[0] and "BPFREWRITE_MEMORY_BUDGET" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert src.read_bytes() == before


def test_memory_budget_must_be_a_number():
    proc = cli("lint", TESTDATA / "loop.bpf.o", budget="lots")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "BPFREWRITE_MEMORY_BUDGET='lots'" in proc.stderr


def test_memory_budget_zero_means_no_limit():
    proc = cli("lint", "--fail-on", "never", TESTDATA / "loop.bpf.o", budget="0")
    assert proc.returncode == 0, proc.stderr


def test_default_budget_lets_a_normal_run_through():
    from bpfrewrite import budget

    assert budget.DEFAULT_MIB >= 1024
    proc = cli("lint", "--fail-on", "never", TESTDATA / "loop.bpf.o")
    assert proc.returncode == 0, proc.stderr


def test_budget_counts_only_the_programs_own_peak():
    """A child of a large process does not start with its parent's peak (Linux's ru_maxrss would say so)."""
    parent_mib = 400
    ballast = bytearray(parent_mib << 20)
    ballast[::4096] = b"\1" * len(ballast[::4096])  # touch every page: resident, not just reserved
    code = "from bpfrewrite.budget import peak_mib; print(peak_mib())"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    del ballast
    assert float(proc.stdout) < parent_mib / 2, proc.stdout
