"""`bpfrewrite cfg`: dot that graphviz accepts, the JSON shape, atomic -o, clear errors."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_tool

from bpfrewrite.render import cfg as render_cfg
from bpfrewrite.errors import BpfrewriteError

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-c", "from bpfrewrite.cli import main; main()", "cfg", *args],
                          capture_output=True)
    if check:
        assert proc.returncode == 0, proc.stderr.decode()
    return proc


@pytest.mark.parametrize("obj", ["subprogs.bpf.o", "may_goto_long.bpf.o", "plain_loop.bpf.o"])
def test_dot_is_accepted_by_graphviz(obj):
    require_tool("dot")
    dot = run(str(TESTDATA / obj)).stdout
    proc = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.lstrip().startswith(b"<?xml") or b"<svg" in proc.stdout[:500]


def test_dot_content():
    dot = run(str(TESTDATA / "subprogs.bpf.o"), "--prog", "subprogs_main").stdout.decode()
    assert dot.count("subgraph cluster_") == 7  # main + 6 reached functions
    assert 'label="callback via bpf_loop"' in dot and 'label="call"' in dot
    assert "[subprogs.bpf.c:" in dot  # source lines
    loop = run(str(TESTDATA / "plain_loop.bpf.o")).stdout.decode()
    assert "loop header, depth 1, bound 100" in loop and 'xlabel="back"' in loop


def test_json_shape():
    data = json.loads(run(str(TESTDATA / "may_goto_long.bpf.o"), "--format", "json").stdout)
    assert set(data) == {"version", "functions", "calls"} and data["version"] == 1
    (f,) = [f for f in data["functions"] if f["name"] == "may_goto_budget"]
    # Slots are the section's (objdump): may_goto_budget spans 25..49.
    assert f["blocks"][0]["start"] == 25 and f["blocks"][-1]["end"] == 50
    for a, b in zip(f["blocks"], f["blocks"][1:]):
        assert a["end"] == b["start"]
    assert {"src": 2, "dst": 5, "kind": "may_goto"} in f["edges"]
    assert {"src": 5, "dst": "exit", "kind": "exit"} in f["edges"]
    (loop,) = f["loops"]
    assert loop["header"] == 2 and loop["may_goto"] == [35] and "bound" not in loop
    again = run(str(TESTDATA / "may_goto_long.bpf.o"), "--format", "json").stdout
    assert json.loads(again) == data  # deterministic


def test_json_calls():
    data = json.loads(run(str(TESTDATA / "loop.bpf.o"), "--format", "json").stdout)
    assert data["calls"] == [{"caller": "loop_prog", "callee": "mix_step", "kind": "callback",
                              "via": "bpf_loop", "slot": 12}]


def test_output_file_svg(tmp_path):
    require_tool("dot")
    out = tmp_path / "g.svg"
    run(str(TESTDATA / "loop.bpf.o"), "--format", "svg", "-o", str(out))
    assert b"<svg" in out.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["g.svg"]  # no temporary left behind


def test_errors():
    proc = run(str(TESTDATA / "loop.bpf.o"), "--prog", "nope", check=False)
    assert proc.returncode == 2 and b"no program or function named 'nope'" in proc.stderr
    proc = run(str(TESTDATA / "loop.bpf.o"), "--format", "pdf", check=False)
    assert proc.returncode == 2 and b"unknown --format" in proc.stderr


def test_graphviz_missing(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(BpfrewriteError, match="graphviz is not installed: apt-get install graphviz"):
        render_cfg.run_graphviz(b"digraph {}", "svg")
