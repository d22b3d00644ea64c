"""`bpfrewrite guard` on this machine: switch latency, packets/s before and after, guard's own CPU.

A private netns with a veth pair (tests/guard_world.py, the same world the tests build) and
`bpfrewrite guard --format json --samples` run in it as a user would, guarding guard_xdp from
testdata/guard_net.bpf.o (patched), attached by XDP link to the receiving end.

- Latency, over --trials fresh sessions: frames at the compiled work (~0.7 ms per run, over the
  200 us budget) start at time T; reported are (a) guard's reaction, from the end of the interval
  that crossed the budget (its statistics read) to bpf_link_update having returned, as guard
  measures it, and (b) from T to this script reading the switch event, which also waits for the
  interval to end (at most --interval) and for the pipe.
- Packets/s: one session with --window 15 (1.5 s over budget before the switch), frames sent as
  fast as one Python thread can; XDP runs per second (run_cnt from the samples) before and after.
- Guard's CPU: the summary's CPU time of the watching loop per interval (wake-up, statistics
  read, decision, sample lines).

Writes the table into docs/guard.md (between the marker comments) and the plot docs/guard.png.

    sudo python3 benchmarks/guard.py [--trials N] [--no-write]

Needs root (it loads and attaches BPF programs in its own netns) and matplotlib
(`pip install 'bpfrewrite[bench]'`).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]
from bpfrewrite.render.layout import format_ns as fmt_ns  # noqa: E402 (after the path set-up)

DOCS = REPO / "docs" / "guard.md"
PLOT = REPO / "docs" / "guard.png"
BEGIN = "<!-- guard-bench:begin (written by benchmarks/guard.py; edits here are replaced) -->"
END = "<!-- guard-bench:end -->"
BUDGET_NS = 200_000
INTERVAL_NS = 100_000_000
PROGRAM = "guard_xdp"
MARK_TWIN = 0xEE  # guard_xdp's twin marks byte 14 so (guard_net.bpf.c)
LATENCY_PROGRAMS = (("guard_xdp", "XDP link"), ("guard_tc", "tcx link"))


def preflight() -> None:
    """Exit with one line unless this can run: root, matplotlib."""
    if os.geteuid() != 0:
        sys.exit("guard benchmark: needs root (it loads and attaches BPF programs)")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        sys.exit("guard benchmark: matplotlib is missing: pip install 'bpfrewrite[bench]' (or matplotlib)")


def patched_object(out: Path) -> Path:
    fast = out / "guard_net.fast.o"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-m", "bpfrewrite", "patch", str(REPO / "testdata" / "guard_net.bpf.o"), str(fast)],
                   check=True, env=env, capture_output=True)  # fmt: skip
    return fast


def _guard(ns: str, obj: Path, iface: str, window: int = 1, program: str = PROGRAM):
    from guard_world import GuardProcess

    guard = GuardProcess([str(obj), "--budget", f"{BUDGET_NS // 1000}us", "--interval", f"{INTERVAL_NS // 10**6}ms",
                          "--iface", iface, "--program", program, "--window", str(window), "--samples",
                          "--duration", "60s"], netns=ns)  # fmt: skip
    if guard.wait_for("attach", 30) is None:
        raise RuntimeError(f"guard did not attach: {guard.stop()[1].strip()}")
    return guard


def _stopped(guard) -> dict:
    code, stderr = guard.stop()
    if code != 0:
        raise RuntimeError(f"guard failed: {stderr.strip()}")
    return next(e for e in guard.seen if e["event"] == "summary")


def latency_trials(obj: Path, trials: int, program: str) -> list[tuple[int, int, int | None]]:
    """Per trial, in ns: interval end -> link update returned, -> first frame the twin stamped
    (guard_xdp only), and first over-budget frame -> switch event read."""
    from guard_world import drain, frame, sockets_in, veth_netns

    results = []
    with veth_netns() as (ns, tx, rx):
        send, recv, mac = sockets_in(ns, tx, rx)
        try:
            for _ in range(trials):
                guard = _guard(ns, obj, rx, program=program)
                try:
                    first = time.monotonic_ns()
                    switched, seq = None, 0
                    while switched is None and time.monotonic_ns() - first < 5 * 10**9:
                        send.send(frame(mac, seq))
                        seq += 1
                        switched = guard.wait_for("switch", 0.002)
                    seen = time.monotonic_ns()
                    for _ in range(20):  # frames for the twin, so its first one is stamped
                        send.send(frame(mac, seq))
                        seq += 1
                        time.sleep(0.001)
                finally:
                    _stopped(guard)
                if switched is None:
                    raise RuntimeError("no switch within 5 s")
                stamps = [int.from_bytes(f[20:28], "little") for f in drain(recv) if f[14] == MARK_TWIN]
                effect = min(stamps) - switched["interval_end_ns"] if stamps else None
                results.append((switched["latency_ns"], effect, seen - first))
        finally:
            send.close()
            recv.close()
    return results


def throughput(obj: Path, seconds: float = 3.5):
    """One session, --window 15: its samples, switch and summary."""
    from guard_world import frame, sockets_in, veth_netns

    with veth_netns() as (ns, tx, rx):
        send, recv, mac = sockets_in(ns, tx, rx)
        recv.close()
        guard = _guard(ns, obj, rx, window=15)
        try:
            end, seq = time.monotonic() + seconds, 0
            while time.monotonic() < end:
                send.send(frame(mac, seq))
                seq += 1
        finally:
            send.close()
            summary = _stopped(guard)
    samples = [e for e in guard.seen if e["event"] == "sample"]
    switch = next(e for e in guard.seen if e["event"] == "switch")
    return samples, switch, summary


def rate(samples, running: str) -> float:
    """XDP runs per second over the intervals `running` handled, without the first and last."""
    chosen = [s for s in samples if s["running"] == running and s["runs"]][1:-1]
    return sum(s["runs"] for s in chosen) / (len(chosen) * INTERVAL_NS / 1e9)


def markdown(lat: dict, samples, switch, summary, trials: int) -> str:
    before, after = rate(samples, PROGRAM), rate(samples, PROGRAM + "__fast")
    ns_before = statistics.median(s["ns_per_run"] for s in samples if s["running"] == PROGRAM and s["runs"])
    ns_after = statistics.median(s["ns_per_run"] for s in samples if s["running"] != PROGRAM and s["runs"])
    rows = [("budget, interval", f"{fmt_ns(BUDGET_NS)}, {fmt_ns(INTERVAL_NS)}")]
    def spread(values: list[int]) -> str:
        return f"{fmt_ns(statistics.median(values))} / {fmt_ns(max(values))}"

    for (program, how), triples in lat.items():
        rows.append((f"{program} ({how}): end of the crossing interval -> link update returned (guard's "
                     f"`latency_ns`; median / worst of {trials})", spread([t[0] for t in triples])))  # fmt: skip
        effect = [t[1] for t in triples if t[1] is not None]
        if effect:
            rows.append((f"{program} ({how}): end of the crossing interval -> first frame the twin handled "
                         f"(its bpf_ktime_get_ns stamp; frames 1-2 ms apart)", spread(effect)))  # fmt: skip
        rows.append((f"{program} ({how}): first over-budget frame -> switch event read from guard's stdout",
                     spread([t[2] for t in triples])))  # fmt: skip
    rows += [
        ("time per run: guard_xdp before / its twin after (median over intervals)",
         f"{fmt_ns(ns_before)} / {fmt_ns(ns_after)}"),
        ("frames/s through XDP before / after the switch (one Python sender)", f"{before:,.0f} / {after:,.0f}"),
        ("guard's CPU per interval, whole loop (1 program, samples printed)", fmt_ns(summary["cpu_ns_per_interval"])),
    ]  # fmt: skip
    lines = [BEGIN, "", f"`sudo python3 benchmarks/guard.py --trials {trials}` on {machine()}:", "",
             "| measure | value |", "| --- | --- |"]  # fmt: skip
    lines += [f"| {a} | {b} |" for a, b in rows]
    lines += ["", f"![ns/run over time, switch marked]({PLOT.name})", "", END]
    return "\n".join(lines) + "\n"


def machine() -> str:
    return f"{os.cpu_count()} CPUs, kernel {os.uname().release}"


def write_docs(text: str, path: Path = DOCS) -> None:
    """Replace the block between the markers (or append it)."""
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].removeprefix("\n")
        path.write_text(head + text + tail)
    else:
        path.write_text(old + ("\n" if old else "") + text)


def plot(samples, switch, path: Path = PLOT) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=110)
    for running, colour, label in ((PROGRAM, "tab:red", "original"), (PROGRAM + "__fast", "tab:green", "twin")):
        pts = [(s["time_s"], s["ns_per_run"]) for s in samples if s["running"] == running and s["runs"]]
        ax.plot([t for t, _ in pts], [v for _, v in pts], "o-", ms=3, color=colour, label=f"{label} ({running})")
    ax.axhline(BUDGET_NS, color="grey", ls="--", lw=1, label=f"budget {fmt_ns(BUDGET_NS)}")
    ax.axvline(switch["time_s"], color="black", lw=1, label="switch (link update)")
    ax.set_yscale("log")
    ax.set_xlabel("seconds since attach")
    ax.set_ylabel("ns per run (interval mean)")
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure bpfrewrite guard on a private veth pair.")
    parser.add_argument("--trials", type=int, default=20, help="fresh guard sessions for the latency figures")
    parser.add_argument("--no-write", action="store_true", help="print the table; leave docs/ alone")
    args = parser.parse_args(argv)
    preflight()
    with tempfile.TemporaryDirectory() as tmp:
        obj = patched_object(Path(tmp))
        lat = {(prog, how): latency_trials(obj, args.trials, prog) for prog, how in LATENCY_PROGRAMS}
        samples, switch, summary = throughput(obj)
    text = markdown(lat, samples, switch, summary, args.trials)
    print(text)
    if not args.no_write:
        write_docs(text)
        plot(samples, switch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
