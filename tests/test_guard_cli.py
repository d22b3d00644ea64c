"""`bpfrewrite guard`: its rules as pure functions, and refusals (one line, exit 2, nothing left)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_tool
from guard_world import GuardProcess, leftovers, run

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.guard.durations import parse_duration
from bpfrewrite.guard.rules import BudgetTrigger, RestoreClock

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"


def bpfrewrite(*args: str, user: list[str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [*(user or []), sys.executable, "-m", "bpfrewrite", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def refused(proc: subprocess.CompletedProcess, words: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bpfrewrite: error: "), proc.stderr
    assert words in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("text", "ns"), [("200us", 200_000), ("100ms", 100_000_000), ("1.5s", 1_500_000_000), ("2m", 120 * 10**9), ("750ns", 750)]
)
def test_durations(text, ns):
    assert parse_duration(text, "--x") == ns


@pytest.mark.parametrize("text", ["200", "fast", "0ms", "-1s", "1h", ""])
def test_bad_durations(text):
    with pytest.raises(BpfrewriteError, match="--budget"):
        parse_duration(text, "--budget")


def test_trigger_needs_window_consecutive_intervals_over_budget():
    trigger = BudgetTrigger(budget_ns=1000, window=2)
    assert not trigger.observe(10, 20_000)  # one interval over
    assert not trigger.observe(10, 5_000)  # under: the streak breaks
    assert not trigger.observe(10, 20_000)
    assert not trigger.observe(0, 0)  # no runs: no evidence either way
    assert trigger.observe(4, 4_004)  # mean 1001 ns > 1000: second in a row
    trigger.reset()
    assert not trigger.observe(1, 1_000)  # exactly the budget is within it
    # The interval's mean, not the lifetime's: 1000 cheap runs before do not hide a slow interval.
    one = BudgetTrigger(budget_ns=1000)
    assert not one.observe(1000, 100_000)
    assert one.observe(5, 50_000)


def test_restore_delay_doubles_per_switch():
    clock = RestoreClock(after_ns=1_000)
    assert clock.switched(now_ns=0) == 1_000
    assert not clock.due(999) and clock.due(1_000)
    clock.restored()
    assert not clock.due(10**9)
    assert clock.switched(now_ns=5_000) == 2_000 and clock.due(7_000) and not clock.due(6_999)
    never = RestoreClock(after_ns=None)
    assert never.switched(0) is None and not never.due(10**12)


@pytest.fixture(scope="module")
def net_fast(tmp_path_factory):
    out = tmp_path_factory.mktemp("guard_cli") / "guard_net.fast.o"
    proc = bpfrewrite("patch", str(TESTDATA / "guard_net.bpf.o"), str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_refuses_unpatched_object():
    refused(bpfrewrite("guard", str(TESTDATA / "loop.bpf.o"), "--budget", "1ms"), "no fast-path twins")


def test_refuses_non_bpf_input(tmp_path):
    text = tmp_path / "x.o"
    text.write_text("hello\n")
    refused(bpfrewrite("guard", str(text), "--budget", "1ms"), str(text))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--program", "guard_xdp__fast"], "guard_xdp__fast is a twin"),
        (["--program", "nope"], "'nope' has no twin"),
        (["--program", "guard_xdp"], "give --iface"),
        (["--iface", "bpfrw-no-such0"], "no network interface named 'bpfrw-no-such0'"),
        (["--budget", "200"], "--budget '200' is not a duration"),
        (["--interval", "0s"], "--interval must be more than zero"),
        (["--window", "0"], "--window must be at least 1"),
        (["--format", "xml"], "unknown --format 'xml'"),
    ],
)
def test_refusals_before_loading(net_fast, args, words):
    base = ["guard", str(net_fast)]
    if "--budget" not in args:
        base += ["--budget", "1ms"]
    refused(bpfrewrite(*base, *args), words)


def test_refuses_program_type_it_cannot_attach(kernel, compile_bpf, tmp_path):
    src = """
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
__u32 loops = 8;
static long step(__u32 i, void *ctx) { return 0; }
SEC("cgroup_skb/ingress")
int guard_cg(struct __sk_buff *skb) { return bpf_loop(loops, step, 0, 0) == loops; }
char LICENSE[] SEC("license") = "GPL";
"""
    obj = compile_bpf(tmp_path, src, "guard_cg")
    fast = tmp_path / "guard_cg.fast.o"
    assert bpfrewrite("patch", str(obj), str(fast)).returncode == 0
    refused(bpfrewrite("guard", str(fast), "--budget", "1ms"), "guard cannot attach cgroup_skb programs")
    assert "guard_cg" not in run("bpftool", "prog", "show").stdout


def test_attach_failure_detaches_what_was_attached(kernel, compile_bpf, tmp_path):
    require_tool("bpftool")
    src = """
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
__u32 loops = 8;
static long step(__u32 i, void *ctx) { return 0; }
SEC("raw_tp/task_rename")
int gd_first(void *ctx) { return bpf_loop(loops, step, 0, 0) == loops; }
SEC("raw_tp/bpfrw_no_such_tracepoint")
int gd_second(void *ctx) { return bpf_loop(loops, step, 0, 0) == loops; }
char LICENSE[] SEC("license") = "GPL";
"""
    obj = compile_bpf(tmp_path, src, "guard_fail")
    fast = tmp_path / "guard_fail.fast.o"
    assert bpfrewrite("patch", str(obj), str(fast)).returncode == 0
    proc = bpfrewrite("guard", str(fast), "--budget", "1ms", "--format", "json")
    refused(proc, "attach gd_second")
    attached = [e for e in map(json.loads, proc.stdout.splitlines()) if e["event"] == "attach"]
    assert [e["program"] for e in attached] == ["gd_first"]
    assert not leftovers([attached[0]["prog_id"], attached[0]["twin_id"]])


@pytest.mark.parametrize(
    ("keep", "words"),
    [
        ("", "needs root or CAP_BPF"),
        # Loading and attaching would work; BPF_ENABLE_STATS needs CAP_SYS_ADMIN.
        (",+bpf,+perfmon,+net_admin", "run-time statistics needs root (CAP_SYS_ADMIN)"),
    ],
    ids=["no-capabilities", "no-cap-sys-admin"],
)
def test_refuses_without_privileges(keep, words, tmp_path):
    require_tool("setpriv")
    fast = tmp_path / "guard_syscall.fast.o"
    assert bpfrewrite("patch", str(TESTDATA / "guard_syscall.bpf.o"), str(fast)).returncode == 0
    # Still uid 0, but with no capabilities (or only some) in the bounding set after exec. Either
    # refusal comes before anything is loaded (the statistics are turned on first).
    drop = ["setpriv", f"--bounding-set=-all{keep}", "--inh-caps=-all"]
    proc = bpfrewrite("guard", str(fast), "--budget", "1ms", user=drop)
    refused(proc, words)


def test_sigint_stops_with_summary_and_leaves_nothing(kernel, tmp_path):
    require_tool("bpftool")
    fast = tmp_path / "guard_syscall.fast.o"
    assert bpfrewrite("patch", str(TESTDATA / "guard_syscall.bpf.o"), str(fast)).returncode == 0
    guard = GuardProcess([str(fast), "--budget", "1ms", "--interval", "50ms"])
    attached = guard.wait_for("attach", 30)
    assert attached is not None
    guard.proc.send_signal(signal.SIGINT)
    code, stderr = guard.stop()
    assert code == 0, stderr
    summary = next(e for e in guard.seen if e["event"] == "summary")
    assert [s["running"] for s in summary["segments"]] == ["guard_rename"]
    assert not leftovers([attached["prog_id"], attached["twin_id"]])
