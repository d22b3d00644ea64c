"""`bpfrewrite guard` on the real kernel: an XDP program on a veth pair and a raw tracepoint.

Each test builds its own world (a netns with a veth pair, or a raw_tp filtered on this process),
drives guard as a subprocess with --format json, and checks with bpftool that nothing is left.
"""
from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import require_tool, unavailable
from guard_world import (
    GuardProcess,
    data_offsets,
    drain,
    frame,
    leftovers,
    prog_map,
    run,
    sockets_in,
    veth_netns,
    write_vars,
)

from bpfrewrite.kernel.runner import verify_object

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"
BUDGET_NS = 200_000
INTERVAL = "100ms"
LOW_LOOPS = 16
MARK_FULL, MARK_SHORT = 0x11, 0xEE
XDP_PASS = 2
GETPPID = {"x86_64": 110, "aarch64": 173}


def bpfrewrite(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "bpfrewrite", *args], capture_output=True, text=True, env=env, check=check)


@pytest.fixture(scope="module")
def patched(tmp_path_factory):
    """The guard testdata objects, patched (twins written)."""
    out = tmp_path_factory.mktemp("guard")
    paths = {}
    for name in ("guard_net", "guard_syscall"):
        paths[name] = out / f"{name}.fast.o"
        bpfrewrite("patch", str(TESTDATA / f"{name}.bpf.o"), str(paths[name]))
    return paths


def stats_enabled() -> str:
    return Path("/proc/sys/kernel/bpf_stats_enabled").read_text().strip()


def _samples(events: list[dict], program: str) -> list[dict]:
    return [e for e in events if e["event"] == "sample" and e["program"] == program]


def test_guard_switches_xdp_on_veth(kernel, patched):
    require_tool("bpftool", "ip")
    obj = patched["guard_net"]
    # What verify --run measures for this object as compiled (work_loops = 1 << 16).
    verdicts = {r.name: r for r in verify_object(obj, run=True, repeat=20)}
    original, twin = verdicts["guard_xdp"], verdicts["guard_xdp__fast"]
    assert twin.retval == XDP_PASS
    factor = original.duration_ns / twin.duration_ns
    assert original.duration_ns > 2 * BUDGET_NS, "the compiled work must be over the test's budget"
    offsets = data_offsets(obj, ".data")
    sysctl_before = stats_enabled()

    with veth_netns() as (ns, tx, rx):
        guard = GuardProcess(
            [str(obj), "--budget", f"{BUDGET_NS // 1000}us", "--interval", INTERVAL, "--iface", rx,
             "--program", "guard_xdp", "--samples", "--duration", "60s"],
            netns=ns,
        )  # fmt: skip
        try:
            attached = guard.wait_for("attach", 30)
            assert attached is not None, guard.stop()[1]
            assert attached["method"] == "link-update" and attached["twin"] == "guard_xdp__fast"
            ids = [attached["prog_id"], attached["twin_id"]]
            links = json.loads(run("bpftool", "link", "show", "-j").stdout)
            assert [link["prog_id"] for link in links if link.get("prog_id") in ids] == [ids[0]]
            data_map = prog_map(attached["prog_id"], ".data")
            write_vars(data_map, offsets, work_loops=LOW_LOOPS)
            send, recv, mac = sockets_in(ns, tx, rx)
            try:
                # Under budget: a second of cheap packets, no switch, every frame marked by the original.
                seq = 0
                for _ in range(200):
                    send.send(frame(mac, seq))
                    seq += 1
                    time.sleep(0.005)
                assert guard.wait_for("switch", 0.5) is None
                low = drain(recv)
                assert len(low) >= 190 and {f[14] for f in low} == {MARK_FULL}

                # Over budget: the compiled work again (the one verify --run timed).
                write_vars(data_map, offsets, work_loops=1 << 16)
                raised = time.monotonic()
                switched = None
                while switched is None and time.monotonic() - raised < 10:
                    for _ in range(10):
                        send.send(frame(mac, seq))
                        seq += 1
                        time.sleep(0.005)
                    switched = guard.wait_for("switch", 0.001)
                assert switched is not None, "no switch within 10 s over budget"
                before_switch = drain(recv)
                # The twin now takes every frame: it passes them (its verify --run retval) with its mark.
                for _ in range(200):
                    send.send(frame(mac, seq))
                    seq += 1
                    time.sleep(0.002)
                guard.wait_for("never", 1.0)  # collect the samples of the twin's intervals
                after = drain(recv)
            finally:
                send.close()
                recv.close()
        finally:
            code, stderr = guard.stop()
        assert code == 0, stderr
        assert not leftovers(ids), leftovers(ids)
        assert f"xdp" not in run("ip", "-n", ns, "-d", "link", "show", rx).stdout.split("\n")[0]
    assert stats_enabled() == sysctl_before

    assert switched["from"] == "guard_xdp" and switched["to"] == "guard_xdp__fast"
    assert switched["method"] == "link-update"
    assert switched["ns_per_run"] > BUDGET_NS and switched["budget_ns"] == BUDGET_NS
    assert 0 <= switched["latency_ns"] < 50_000_000
    # Within two intervals of the first interval that ran over budget.
    samples = _samples(guard.seen, "guard_xdp")
    first_over = next(s["interval"] for s in samples if s["runs"] and s["ns_per_run"] > BUDGET_NS)
    assert switched["interval"] - first_over <= 1, samples
    # Atomic switch: in send order, frames are marked by the original, then only by the twin.
    marks = [f[14] for f in sorted(before_switch, key=lambda f: f[15:19])]
    assert marks[0] == MARK_FULL and set(marks) <= {MARK_FULL, MARK_SHORT}
    assert MARK_FULL not in marks[marks.index(MARK_SHORT):] if MARK_SHORT in marks else True
    assert len(after) >= 190, "the twin must pass frames (XDP_PASS, as verify --run reports)"
    assert {f[14] for f in after} == {MARK_SHORT}
    # The per-run time drops by about the factor verify --run measured.
    over = [s["ns_per_run"] for s in samples if s["running"] == "guard_xdp" and s["runs"] and s["ns_per_run"] > BUDGET_NS]
    on_twin = [s["ns_per_run"] for s in samples if s["running"] == "guard_xdp__fast" and s["runs"]]
    assert on_twin, samples
    measured = statistics.median(over) / statistics.median(on_twin)
    assert factor / 10 < measured < factor * 10, (measured, factor)
    summary = next(e for e in guard.seen if e["event"] == "summary")
    segments = [(s["running"], s["runs"]) for s in summary["segments"]]
    assert [name for name, _ in segments] == ["guard_xdp", "guard_xdp__fast"]
    assert segments[0][1] >= 200 and segments[1][1] >= 200
