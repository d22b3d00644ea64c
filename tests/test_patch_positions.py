"""`bpfrewrite patch` names places as lint does: file:line:col relative to the working directory,
`line N` in messages, and a SOURCE column in the --report table. Expected positions come from the
C source (tests.test_rules.position)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_rules import position, source_of

REPO = Path(__file__).resolve().parent.parent
OBJ = REPO / "testdata" / "lint" / "callback_leaks_r0.bpf.o"


def patch(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpfrewrite", "patch", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def test_problem_and_report_use_lint_positions(tmp_path):
    src = source_of(OBJ)
    rel = src.relative_to(REPO)
    ret_line, ret_col = position(src, "long v = (*slot >> 3) & 1;", "& 1")
    # `*slot = v + index;` starts with `*`, which position() takes for a comment line.
    use_line = src.read_text().splitlines().index("\t*slot = v + index;") + 1
    call_line, call_col = position(src, "bpf_loop(leak_iters, store_and_return", "bpf_loop")
    proc = patch(OBJ.relative_to(REPO), tmp_path / "out.o", "--report")
    assert proc.returncode == 0, proc.stderr
    (warning,) = proc.stderr.splitlines()
    assert warning.startswith(f"{rel}:{ret_line}:{ret_col}: warning: store_and_return: ")
    assert warning.endswith(f"also used at line {use_line}") and "slot" not in warning
    header, row = proc.stdout.splitlines()[:2]
    assert header.split()[:4] == ["FUNCTION", "SLOT", "SOURCE", "ACTION"]
    assert row.split()[2] == f"{rel}:{call_line}:{call_col}" and "bpf_loop" in row
    doc = json.loads(patch(OBJ.relative_to(REPO), tmp_path / "out2.o", "--report", "--format", "json").stdout)
    assert [s["source"] for s in doc["sites"]] == [f"{rel}:{call_line}:{call_col}"]
