"""benchmarks/realworld.py on a tiny corpus made of testdata objects, and its reason grouping."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "realworld.py"


def _import():
    sys.path.insert(0, str(REPO))
    try:
        import benchmarks.realworld as rw
    finally:
        sys.path.remove(str(REPO))
    return rw


def test_reasons_name_the_cause_and_group() -> None:
    rw = _import()
    messages = [
        "libbpf: prog 'fx': BPF program load failed: Operation not permitted\n",
        "libbpf: prog 'fx': -- BEGIN PROG LOAD LOG --\n\n-- END PROG LOAD LOG --\n",
        "libbpf: prog 'fx': failed to load: -1\n",
        "libbpf: failed to load object 'a.o'\n",
    ]
    assert rw.load_reason(messages, 1, {"fx": "fentry/do_nanosleep"}) == \
        "[fentry] prog '…': BPF program load failed: Operation not permitted"
    verifier = ["libbpf: prog 'p': BPF program load failed: Permission denied\n",
                "libbpf: prog 'p': -- BEGIN PROG LOAD LOG --\n0: (b7) r0 = 0\n"
                "R1 offset is outside of the packet\nprocessed 12 insns (limit 1000000)\n-- END PROG LOAD LOG --\n"]
    assert rw.load_reason(verifier, 13, {"p": "xdp"}) == \
        "[xdp] verifier: Rn offset is outside of the packet (Permission denied)"
    extern = ["libbpf: extern (func ksym) 'bpf_xdp_flow_lookup': not found in kernel or module BTFs\n",
              "libbpf: failed to load object 'x.o'\n"]
    assert rw.load_reason(extern, 22, {}) == "extern (func ksym) '…': not found in kernel or module BTFs"


def test_benchmark_on_testdata_objects(tmp_path: Path, kernel) -> None:
    """Every object is examined; struct_ops_cc (twin map) and tail_call load patched with all twins."""
    corpus = tmp_path / "corpus"
    objs = corpus / "objs" / "testdata"
    objs.mkdir(parents=True)
    names = ["struct_ops_cc.bpf.o", "tail_call.bpf.o", "fentry_bad_eperm.bpf.o"]
    for name in names:
        shutil.copy(REPO / "testdata" / name, objs / name)
    manifest = {"projects": {"testdata": {"objects": [f"objs/testdata/{n}" for n in names], "failed": {}}}}
    (corpus / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--corpus", str(corpus), "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcomes = {Path(o["object"]).name: o for o in json.loads(out.read_text())["testdata"]}
    assert set(outcomes) == set(names)
    for name in ("struct_ops_cc.bpf.o", "tail_call.bpf.o"):
        o = outcomes[name]
        assert o["lint"] and o["patch"] and o["loads"] and o["patched_loads"], o
        assert o["patched_programs_loaded"] == 2 * o["programs_loaded"] > 0
    # fentry is refused here (EPERM, see testdata/README.md); where it loads, its twins must too.
    fentry = outcomes["fentry_bad_eperm.bpf.o"]
    assert fentry["patch"]
    if fentry["loads"]:
        assert fentry["patched_loads"], fentry
    else:
        assert fentry["load_error"].startswith("[fentry]"), fentry
        assert "input does not load (1 objects):" in proc.stdout
    loads = 2 + fentry["loads"]
    table = proc.stdout.splitlines()
    assert table[0].split()[:2] == ["project", "objects"]
    assert table[1].split() == ["testdata", "3", "0", "3", "3", str(loads), str(loads), "/", str(loads)]


def test_corpus_build_picks_bpf_sources_only(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks.corpus.build import Project
    finally:
        sys.path.remove(str(REPO))
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "prog.c").write_text('SEC("xdp") int f(void *ctx) { return 2; }\n')
    (tmp_path / "a" / "loader.c").write_text('#define SEC(x)\nint main(int argc, char **argv) { return 0; }\n')
    (tmp_path / "a" / "helper.c").write_text("int g(void) { return 1; }\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "other.bpf.c").write_text('SEC("tc") int h(void *ctx) { return 0; }\n')
    found = Project("p", None, ["a"]).candidates(tmp_path)
    assert [p.name for p in found] == ["prog.c"]
    assert [p.name for p in Project("p", None, ["a", "b"]).candidates(tmp_path)] == ["prog.c", "other.bpf.c"]


def test_a_slow_object_keeps_what_was_done_and_says_which_step(monkeypatch, tmp_path: Path) -> None:
    rw = _import()

    def slow(path, tmpdir, progress):
        out = {"object": path, "lint": True, "patch": True}
        progress(out)
        time.sleep(30)  # "loading": longer than the limit below

    monkeypatch.setattr(rw, "examine", slow)
    monkeypatch.setattr(rw, "private_mounts", lambda: None)
    got = []
    start = time.monotonic()
    rw.examine_all(["a.o"], 1, 2.0, got.append)
    assert time.monotonic() - start < 20
    assert got == [{"object": "a.o", "lint": True, "patch": True, "timeout": "loading the input took over 2 s"}]
    rows, reasons = rw.summarise({"p": got})
    assert rows[0][1]["lint"] == 1 and rows[0][1]["patch"] == 1 and rows[0][1]["loads"] == 0
    assert reasons["timeout"] == {"loading the input took over 2 s": 1}


def test_enotsupp_is_named() -> None:
    rw = _import()
    messages = ["libbpf: prog 'so': BPF program load failed: ERROR: strerror_r(524)=22\n"]
    assert rw.load_reason(messages, 524, {"so": "struct_ops/x"}) == "[struct_ops] prog '…': BPF program load failed: ENOTSUPP"
