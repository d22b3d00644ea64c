"""Time to exit of the long-running testdata programs and of their fast-path twins, on the kernel.

For each program it patches the object (`patch_object`), loads the original and the twin
through libbpf and test-runs both with BPF_PROG_TEST_RUN (`verify_object(run=True)`). The
kernel times `repeat` back-to-back runs and reports the average; `repeat` is chosen per
program so one measurement takes about --budget seconds (a 250 ms original runs once, a
200 ns twin many thousand times), and the median of --rounds measurements is kept.

Writes a markdown table into docs/benchmarks.md (between the termination marker comments,
so a rerun replaces it) and a log-scale bar chart to docs/termination.png.

    sudo python3 benchmarks/termination.py [--rounds N] [--budget S] [--no-write]

Needs root (it loads BPF programs; nothing is attached or pinned) and matplotlib
(`pip install 'bpfrewrite[bench]'`).
"""
from __future__ import annotations

import argparse
import os
import math
import statistics
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"
DOCS = REPO / "docs" / "benchmarks.md"
PLOT = REPO / "docs" / "termination.png"
BEGIN = "<!-- termination:begin (written by benchmarks/termination.py; edits here are replaced) -->"
END = "<!-- termination:end -->"
MAX_REPEAT = 100_000

# (object, program, what keeps it running): the programs testdata/README.md lists as long-running.
PROGRAMS = [
    ("loop.bpf.o", "loop_prog", "bpf_loop, 2^20 callback calls"),
    ("iter_num_long.bpf.o", "iter_num_long", "open-coded bpf_iter_num over 2^20"),
    ("for_each_long.bpf.o", "for_each_long", "bpf_for_each_map_elem, 131072 elements"),
    ("may_goto_long.bpf.o", "may_goto_long", "may_goto loop to 2^20"),
    ("may_goto_long.bpf.o", "may_goto_budget", "may_goto loop to 2^32, cut by the budget"),
    ("may_goto_volatile.bpf.o", "may_goto_volatile", "for (;;) with may_goto, no constant in a register"),
]


@dataclass
class Timing:
    """Median time per run of one program, with how it was measured."""

    name: str
    ns: float
    repeat: int
    retval: int | None


@dataclass
class Row:
    """One program: what runs long, the original's and the twin's timing."""

    obj: str
    construct: str
    original: Timing
    twin: Timing

    @property
    def speedup(self) -> float:
        """How many times faster the twin exits."""
        return self.original.ns / max(self.twin.ns, 1.0)


def fmt_ns(ns: float) -> str:
    """A duration in the unit that reads best: 580 ns, 12.3 us, 7.73 ms, 1.25 s."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            value = ns / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{ns:.0f} ns"


def fmt_speedup(x: float) -> str:
    """A speed-up factor, grouped by thousands: 17,060x."""
    return f"{x:,.0f}x" if x >= 10 else f"{x:.1f}x"


def preflight() -> None:
    """Exit with one line unless this process can load BPF and draw the plot."""
    if os.geteuid() != 0:
        sys.exit("termination: must run as root: it loads BPF programs into the kernel")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        sys.exit("termination: matplotlib is missing: pip install 'bpfrewrite[bench]' (or matplotlib)")


def run_once(path: Path, prog: str, repeat: int):
    """The ProgResult of loading prog from path and test-running it repeat times (kernel average)."""
    from bpfrewrite.kernel.runner import verify_object

    (result,) = verify_object(path, prog=prog, run=True, repeat=repeat)
    if not result.accepted:
        sys.exit(f"termination: {path.name}: {prog} was rejected: {result.message}")
    if result.duration_ns is None:
        sys.exit(f"termination: {path.name}: {prog} gave no test-run time: {result.message}")
    return result


def measure(path: Path, prog: str, rounds: int, budget_s: float) -> Timing:
    """Median over rounds of the kernel's average run time, repeat sized to about budget_s a round."""
    first = run_once(path, prog, 1)
    repeat = int(min(MAX_REPEAT, max(1, budget_s * 1e9 // max(first.duration_ns, 1))))
    samples, retval = [], first.retval
    for _ in range(rounds):
        result = run_once(path, prog, repeat)
        samples.append(result.duration_ns)
        retval = result.retval
    return Timing(prog, statistics.median(samples), repeat, retval)


def measure_all(rounds: int, budget_s: float) -> list[Row]:
    """Patch each object once, then time each long-running program and its twin."""
    from bpfrewrite.patching import patch_object

    rows = []
    with tempfile.TemporaryDirectory(prefix="bpfrewrite-termination-") as tmp:
        patched: dict[str, Path] = {}
        for obj, prog, construct in PROGRAMS:
            if obj not in patched:
                patched[obj] = Path(tmp) / obj.replace(".bpf.o", ".fast.bpf.o")
                result = patch_object(TESTDATA / obj, patched[obj])
                for problem in result.problems:
                    print(f"termination: {obj}: patch problem: {problem}", file=sys.stderr)
            print(f"  {prog}: original ...", end="", flush=True, file=sys.stderr)
            original = measure(patched[obj], prog, rounds, budget_s)
            print(f" {fmt_ns(original.ns)}; twin ...", end="", flush=True, file=sys.stderr)
            twin = measure(patched[obj], prog + "__fast", rounds, budget_s)
            print(f" {fmt_ns(twin.ns)}", file=sys.stderr)
            rows.append(Row(obj, construct, original, twin))
    return rows


def _ret(value: int | None) -> str:
    return "-" if value is None else f"{value} ({value:#x})"


def machine() -> str:
    """Kernel release and CPU model, for the record."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"kernel {os.uname().release}, {os.cpu_count()} cores ({cpu})"


def markdown(rows: list[Row], rounds: int, budget_s: float) -> str:
    """The results table, with how it was measured."""
    lines = [
        BEGIN,
        "",
        f"Measured on {machine()}: median of {rounds} BPF_PROG_TEST_RUN measurements per program,",
        f"each the kernel's average over `repeat` runs sized to about {budget_s:g} s (64 zero bytes in).",
        "",
        "| program | object | what runs long | original: time to exit | twin: time to exit "
        "| speed-up | return: original | return: twin |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.original.name} | {r.obj} | {r.construct} | {fmt_ns(r.original.ns)} "
            f"| {fmt_ns(r.twin.ns)} | {fmt_speedup(r.speedup)} "
            f"| {_ret(r.original.retval)} | {_ret(r.twin.retval)} |"
        )
    lines += ["", f"![Time to exit, original vs fast-path twin]({PLOT.name})", "", END]
    return "\n".join(lines)


def write_docs(text: str, path: Path = DOCS) -> None:
    """Replace the block between the markers in path (appended when the markers are missing)."""
    old = path.read_text() if path.exists() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        new = head + text + tail
    else:
        new = old + ("\n" if old and not old.endswith("\n") else "") + "\n" + text + "\n"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new)
    os.replace(tmp, path)


def plot(rows: list[Row], path: Path = PLOT) -> None:
    """A log-scale bar chart, original vs twin per program, each bar labelled with its time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(10.0, 2.0 * len(rows)), 5.6), dpi=120)  # room for each label
    width = 0.38
    xs = range(len(rows))
    colors = {"original": "#c0392b", "twin": "#2471a3"}
    series = ((-width / 2, "original", "original program"), (width / 2, "twin", "fast-path twin"))
    for shift, key, label in series:
        values = [getattr(r, key).ns for r in rows]
        bars = ax.bar([x + shift for x in xs], values, width, label=label, color=colors[key])
        for bar, value in zip(bars, values):
            ax.annotate(
                fmt_ns(value),
                (bar.get_x() + bar.get_width() / 2, value),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=9,
            )
    for x, r in zip(xs, rows):
        label = f"{fmt_speedup(r.speedup)} faster"
        ax.text(x, r.original.ns * 8, label, ha="center", fontsize=9.5, fontweight="bold")
    ax.set_yscale("log")
    low = 10 ** math.floor(math.log10(min(r.twin.ns for r in rows)))
    high = 10 ** math.ceil(math.log10(max(r.original.ns for r in rows) * 30))
    ax.set_ylim(low, high)
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, numticks=20))
    ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt_ns(v)))
    ax.set_xticks(list(xs))
    ax.set_xticklabels([f"{r.original.name}\n{textwrap.fill(r.construct, 20)}" for r in rows], fontsize=8.5)
    ax.set_ylabel("time to exit, per run (log scale)")
    ax.set_title("Time to exit: original program vs its fast-path twin (BPF_PROG_TEST_RUN)")
    ax.legend(loc="upper left", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", which="major", alpha=0.3)
    fig.tight_layout()
    # No software/date metadata, so reruns differ only where the measurements do.
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the table, and write the docs table and plot."""
    parser = argparse.ArgumentParser(
        description="Time long-running testdata programs and their fast-path twins on the kernel (root)."
    )
    parser.add_argument("--rounds", type=int, default=3, help="measurements per program; the median is kept")
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per measurement (sets repeat)")
    parser.add_argument("--no-write", action="store_true", help="print the table; leave docs/ alone")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.budget <= 0:
        parser.error("--rounds must be at least 1 and --budget positive")
    preflight()
    from bpfrewrite.errors import BpfrewriteError

    try:
        rows = measure_all(args.rounds, args.budget)
    except BpfrewriteError as exc:
        sys.exit(f"termination: {exc}")
    text = markdown(rows, args.rounds, args.budget)
    print(text)
    if not args.no_write:
        write_docs(text)
        plot(rows)
        print(f"wrote {DOCS.relative_to(REPO)} and {PLOT.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
