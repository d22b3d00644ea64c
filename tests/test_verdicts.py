"""Static verdicts: what programs and their twins return, named per program type, checked on the kernel."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bpfrewrite.elf.reader import read_object
from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.kernel import return_codes
from bpfrewrite.kernel.return_codes import s32
from bpfrewrite.patching import patch_object
from bpfrewrite.twins import REPORT_SECTION, TWIN_SUFFIX, read_report
from bpfrewrite.passes.verdicts import can_drop, fails_closed, only_drops, twin_verdicts
from tests.conftest import require_tool

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "testdata" / "lint" / "xdp_fails_closed.bpf.o"
# Every object that loads (as in test_fastpath), and the XDP fixture whose twin fails closed.
OBJECTS = sorted(p for p in (REPO / "testdata").glob("*.bpf.o") if "_bad" not in p.name) + [FIXTURE]


def source_header(obj: Path) -> str:
    return (obj.parent / "src" / (obj.name[: -len(".o")] + ".c")).read_text().split("*/")[0]


@pytest.fixture(scope="module")
def patched(tmp_path_factory) -> dict[str, tuple[Path, object]]:
    out_dir = tmp_path_factory.mktemp("verdicts")
    return {p.name: (out_dir / p.name, patch_object(p, out_dir / p.name)) for p in OBJECTS}


# ----- the table of names ----------------------------------------------------------------------

def test_named_codes_match_the_uapi_headers(tmp_path: Path) -> None:
    """Every C-identifier name in return_codes.json has the value the installed uapi headers give it."""
    require_tool("clang-19")
    names = {}
    for prog_type in ("xdp", "sched_cls", "sk_lookup"):
        codes = return_codes.for_type(prog_type)
        for value, (name, _) in codes.codes.items():
            names[name] = value
    assert len(names) >= 17
    prog = "#include <stdio.h>\n#include <linux/bpf.h>\n#include <linux/pkt_cls.h>\nint main(void){\n"
    prog += "".join(f'printf("{n} %d\\n", (int)({n}));\n' for n in sorted(names)) + "return 0;}\n"
    (tmp_path / "codes.c").write_text(prog)
    subprocess.run(["clang-19", "-I/usr/include/x86_64-linux-gnu", "codes.c", "-o", "codes"], cwd=tmp_path, check=True)
    out = subprocess.run([str(tmp_path / "codes")], capture_output=True, text=True, check=True).stdout
    assert {line.split()[0]: int(line.split()[1]) for line in out.splitlines()} == names


def test_names_fates_and_kinds() -> None:
    assert return_codes.label("xdp", 1) == "1 (XDP_DROP)"
    assert return_codes.fate("xdp", 7) == "drop"  # drivers treat an unknown action as XDP_ABORTED
    assert return_codes.name("sched_act", 2) == return_codes.name("sched_cls", 2) == "TC_ACT_SHOT"
    assert return_codes.fate("sched_cls", 0x7100) == "pass"  # unknown tc codes let the packet go on
    assert return_codes.name("lsm", 0xFFFFFFFF) == "-EPERM" and return_codes.fate("lsm", -13) == "drop"
    assert return_codes.name("socket_filter", 0) == "drop (0 bytes kept)"
    assert return_codes.fate("socket_filter", 64) == "pass"
    assert return_codes.name("kprobe", 0) is None and return_codes.label("kprobe", 0) == "0"
    assert s32(0xFFFFFFFF) == -1 and s32(0x1_0000_0002) == 2


@pytest.mark.parametrize("doc, words", [
    ({"schema": 2, "types": {}}, "schema 1"),
    ({"schema": 1, "types": {"x": {"kind": "bits", "source": "s"}}}, "unknown kind"),
    ({"schema": 1, "types": {"x": {"same_as": "nothing"}}}, "same_as"),
    ({"schema": 1, "types": {"x": {"source": "s", "codes": [{"value": 0, "name": "A", "fate": "maybe"}],
                                   "other": {"name": None, "fate": None}}}}, "bad code entry"),
])
def test_table_is_checked_strictly(doc, words) -> None:
    with pytest.raises(BpfrewriteError, match=words):
        return_codes.parse(json.dumps(doc))


# ----- the analysis ------------------------------------------------------------------------------

def test_callee_values_branches_and_unknowns(tmp_path: Path, compile_bpf) -> None:
    obj = read_object(compile_bpf(tmp_path, r'''
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
static __attribute__((noinline)) int pick(int x) { return x > 100 ? 7 : 9; }
SEC("tc") int via_call(struct __sk_buff *skb) { return pick(skb->len); }
SEC("tc") int random_bit(struct __sk_buff *skb) { return bpf_get_prandom_u32() & 1; }
SEC("tc") int dead_branch(struct __sk_buff *skb)
{
	volatile int k = 3;    /* spilled and filled: the fill still knows 3 */
	int v = k;
	if (v == 3)
		return TC_ACT_OK;
	return TC_ACT_SHOT;
}
char LICENSE[] SEC("license") = "GPL";
''', "shapes"))
    verdicts = twin_verdicts(obj)
    assert verdicts["via_call"][0].values == {7, 9} and not verdicts["via_call"][0].unknown
    assert verdicts["random_bit"][0].unknown
    dead = verdicts["dead_branch"][0]
    assert dead.values == {0} and not dead.unknown and not can_drop(dead)
    assert dead.labels() == ["0 (TC_ACT_OK)"]


def test_tail_call_makes_the_original_unknown_and_the_twin_known() -> None:
    original, twin = twin_verdicts(read_object(REPO / "testdata" / "tail_call.bpf.o"))["tail_entry"]
    assert original.unknown and original.tail_call and "unknown (tail call)" in original.labels()
    assert not twin.unknown and not twin.tail_call  # the twin's tail call is stubbed: it falls through


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_plan_read_twin_verdict_equals_the_written_twins(path: Path, patched) -> None:
    """lint reads a twin's verdict from the plan; patch from the twin's code: the two agree."""
    planned = twin_verdicts(read_object(path))
    written = twin_verdicts(read_object(patched[path.name][0]))
    assert planned.keys() == written.keys() == {p.name for p in read_object(path).programs}
    for prog, (original, twin) in planned.items():
        assert written[prog] == (original, twin), prog


def test_fail_closed_fixture() -> None:
    verdicts = twin_verdicts(read_object(FIXTURE))
    original, twin = verdicts["fail_closed"]
    assert only_drops(twin) and fails_closed(original, twin) and can_drop(twin)
    assert [return_codes.name("xdp", v) for v in sorted(twin.values)] == ["XDP_ABORTED"]
    assert "XDP_PASS" in ", ".join(original.labels())
    open_original, open_twin = verdicts["fail_open"]
    assert not fails_closed(open_original, open_twin) and "2 (XDP_PASS)" in open_twin.labels()


def _one_big_function(directory: Path, units: int) -> Path:
    """One XDP function of `units` lookup-test-return units (14 instructions each), via llvm-mc-19."""
    lines = ['\t.section xdp,"ax",@progbits', "\t.globl big", "\t.type big,@function", "big:", "\tr6 = 2"]
    for i in range(units):
        lines += ["\t*(u32 *)(r10 - 4) = r6", "\tr2 = r10", "\tr2 += -4", "\tr1 = 0", "\tcall 1",
                  f"\tif r0 == 0 goto Lf{i}", "\tr7 = *(u64 *)(r0 + 0)", f"\tif r7 != {i} goto Ln{i}",
                  f"\tr6 = {i % 5}", f"\tgoto Ln{i}", f"Lf{i}:", f"\tr0 = {i % 3}", "\texit", f"Ln{i}:",
                  "\tr8 = *(u32 *)(r10 - 4)", "\tr8 += 1"]
    lines += ["\tr0 = r6", "\texit", "\t.size big, .-big"]
    src, obj = directory / f"big{units}.s", directory / f"big{units}.o"
    src.write_text("\n".join(lines) + "\n")
    subprocess.run(["llvm-mc-19", "-triple", "bpfel", "-filetype=obj", str(src), "-o", str(obj)], check=True)
    return obj


def test_analysis_stays_linear_in_one_large_function(tmp_path: Path) -> None:
    """Twice the instructions in one function: about twice the work, and not much more time."""
    import time

    from bpfrewrite.passes.analysis.dataflow import Dataflow
    from bpfrewrite.passes.analysis.return_values import ReturnValues, TwinReturnValues
    from bpfrewrite.passes.manager import AnalysisManager

    require_tool("llvm-mc-19")

    def measure(units: int) -> tuple[int, float]:
        obj = read_object(_one_big_function(tmp_path, units))
        (func,) = obj.programs
        am = AnalysisManager(obj)
        am.get(Dataflow, func)  # what it builds on is timed by benchmarks/analysis_scaling.py
        t0 = time.perf_counter()
        original, twin = am.get(ReturnValues)[func], am.get(TwinReturnValues)[func]
        took = time.perf_counter() - t0
        # Every unit may leave with i % 3 or set r6 to i % 5 (r6 starts at 2); the twin's first
        # lookup is NULL, so it always leaves with 0 % 3.
        assert original.values == {i % 3 for i in range(units)} | {i % 5 for i in range(units)} | {2}
        assert twin.values == {0} and not original.unknown and not twin.unknown
        assert original.visits >= func.count  # every instruction is reachable in the original
        return original.visits, took

    (small_work, small_time), (large_work, large_time) = measure(600), measure(1200)
    assert large_work <= 2.2 * small_work, (small_work, large_work)
    assert large_time <= 4 * small_time + 0.5, (small_time, large_time)  # the machine is shared


def test_a_counting_loop_widens_instead_of_walking_once_per_value(tmp_path: Path, compile_bpf) -> None:
    """A loop whose counter takes a new value each round is walked a few times, not once per value."""
    from bpfrewrite.passes.analysis.return_values import WIDEN_AFTER, ReturnValues
    from bpfrewrite.passes.manager import AnalysisManager

    obj = read_object(compile_bpf(tmp_path, r'''
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("tc") int counting(struct __sk_buff *skb)
{
	int ret = 0;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 200; i++)
		if (skb->len == i)
			ret = i;
	return ret;
}
char LICENSE[] SEC("license") = "GPL";
''', "counting"))
    (func,) = obj.programs
    exits = AnalysisManager(obj).get(ReturnValues)[func]
    assert exits.unknown  # sound: the counter's values are not all known
    assert exits.visits <= (WIDEN_AFTER + 3) * func.count, (exits.visits, func.count)  # 239 without widening


# ----- patch --report, the record, verify --run ----------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpfrewrite", *args], capture_output=True, text=True, cwd=REPO)


def test_report_json_and_record_carry_verdicts_of_every_program(tmp_path: Path) -> None:
    proc = _cli("patch", str(FIXTURE), str(tmp_path / "p.o"), "--report", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["version"] == 2
    by_prog = {v["program"]: v for v in report["verdicts"]}
    assert set(by_prog) == {p.name for p in read_object(FIXTURE).programs}
    closed = by_prog["fail_closed"]
    assert closed["twin"] == "fail_closed" + TWIN_SUFFIX and closed["type"] == "xdp"
    assert closed["fast"] == {"values": [0], "names": ["XDP_ABORTED"], "unknown": False, "tail_call": False}
    assert "XDP_PASS" in closed["original"]["names"]
    assert read_report(read_object(tmp_path / "p.o"))["verdicts"] == report["verdicts"]


def test_report_text_names_the_verdicts(tmp_path: Path) -> None:
    proc = _cli("patch", str(FIXTURE), str(tmp_path / "p.o"), "--report")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("PROGRAM"))
    assert "TWIN RETURNS" in lines[header]
    closed = next(line for line in lines[header:] if line.startswith("fail_closed "))
    assert "2 (XDP_PASS)" in closed and closed.rstrip().endswith("fails closed: the twin only drops")
    assert closed.split("  ")[0].strip() == "fail_closed"
    opened = next(line for line in lines[header:] if line.startswith("fail_open "))
    assert "fails closed" not in opened


def test_old_records_are_still_read(tmp_path: Path) -> None:
    """A version 1 record (before verdicts) reads; verdicts then come from the code."""
    out = tmp_path / "p.o"
    patch_object(FIXTURE, out)
    obj = read_object(out)
    sec = obj.section(REPORT_SECTION)
    doc = json.loads(sec.data.strip(b"\0"))  # a string table: NUL, the JSON document, NUL
    doc["version"] = 1
    del doc["verdicts"]
    sec.data = b"\0" + json.dumps(doc).encode() + b"\0"
    assert read_report(obj)["verdicts"] == [] and read_report(obj)["twins"] == doc["twins"]
    assert fails_closed(*twin_verdicts(obj)["fail_closed"])
    doc["version"] = 3
    sec.data = b"\0" + json.dumps(doc).encode() + b"\0"
    with pytest.raises(BpfrewriteError, match="unknown .bpfrewrite report version"):
        read_report(obj)


def test_linked_patched_object_keeps_its_twin_verdicts(patched, tmp_path: Path) -> None:
    """libbpf's static linker drops the record; the twins are found by their shape instead."""
    require_tool("bpftool")
    out = patched[FIXTURE.name][0]
    linked = tmp_path / "linked.o"
    subprocess.run(["bpftool", "gen", "object", str(linked), str(out)], check=True, capture_output=True)
    obj = read_object(linked)
    assert obj.section(REPORT_SECTION) is None
    assert twin_verdicts(obj) == twin_verdicts(read_object(out))
    assert set(twin_verdicts(obj)) == {"fail_closed", "fail_open"}


def test_program_patched_without_twin_has_no_pair(tmp_path: Path) -> None:
    out = tmp_path / "one.o"
    patch_object(FIXTURE, out, programs=("fail_open",))
    assert set(twin_verdicts(read_object(out))) == {"fail_open"}


def test_verify_run_names_return_values(patched, kernel) -> None:
    out = patched[FIXTURE.name][0]
    proc = _cli("verify", str(out), "--run")
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert "2 (XDP_PASS)" in rows["fail_closed"]
    assert "0 (XDP_ABORTED)" in rows["fail_closed" + TWIN_SUFFIX]
    programs = json.loads(_cli("verify", str(out), "--run", "--format", "json").stdout)["programs"]
    named = {p["name"]: p.get("retval_name") for p in programs}
    assert named["fail_closed" + TWIN_SUFFIX] == "XDP_ABORTED" and named["fail_open" + TWIN_SUFFIX] == "XDP_PASS"


def test_measured_return_values_fall_in_the_static_sets(patched, kernel) -> None:
    """Every program and twin with a test run returns a value its static verdict contains."""
    from bpfrewrite.kernel.runner import verify_object

    known = 0
    for path in OBJECTS:
        out = patched[path.name][0]
        verdicts = twin_verdicts(read_object(out))
        for r in verify_object(out, run=True):
            if r.retval is None:
                continue
            original, twin = verdicts[r.twin_of or r.name]
            verdict = twin if r.twin_of else original
            assert verdict.unknown or s32(r.retval) in verdict.values, (path.name, r.name, r.retval, verdict)
            known += not verdict.unknown
    # Most runs are checked against a set with no "unknown" in it (membership is then a real check).
    assert known >= 40, known
