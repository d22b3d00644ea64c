"""`bpfrewrite guard`: attach a patched object's programs and switch each to its twin over a budget."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from bpfrewrite.commands.options import format_option
from bpfrewrite.errors import BpfrewriteError


def register(app: typer.Typer) -> None:
    """Add the `guard` command to the CLI."""
    app.command(name="guard")(guard)


def guard(
    obj: Path = typer.Argument(..., help="An object written by `bpfrewrite patch` (with twins).", show_default=False),
    budget: str = typer.Option(..., "--budget", help="Time per run allowed, e.g. 200us.", show_default=False),
    interval: str = typer.Option("100ms", "--interval", help="How often run time is read."),
    window: int = typer.Option(1, "--window", help="Consecutive intervals over budget before a switch."),
    iface: Optional[str] = typer.Option(None, "--iface", help="Interface for xdp and tc programs."),
    program: Optional[List[str]] = typer.Option(
        None, "--program", help="Guard only this original (repeatable; default: every program with a twin)."
    ),
    restore_after: Optional[str] = typer.Option(
        None, "--restore-after", help="Switch back this long after a switch (doubling each time); default never."
    ),
    fmt: str = format_option("guard"),
    duration: Optional[str] = typer.Option(None, "--duration", help="Stop after this long (default: until Ctrl-C/SIGTERM)."),
    samples: bool = typer.Option(False, "--samples", help="Also print each program's runs and time per interval."),
    fail_open_only: bool = typer.Option(
        False, "--fail-open-only", help="Never switch a program whose twin can drop traffic (watch it only)."
    ),
) -> None:
    """Attach each original, watch its time per run, and switch it to its twin when over --budget.

    Needs root. The twin replaces the original atomically where the link allows (xdp, tcx);
    tracing programs get the twin attached, then the original detached. Everything guard attached
    is detached on exit; a summary of runs and time per program and twin is printed last.
    """
    from bpfrewrite.guard.durations import parse_duration
    from bpfrewrite.guard.runtime import Guard, GuardOptions
    from bpfrewrite.render import guard as render
    from bpfrewrite.render.formats import check_format

    check_format("guard", fmt)
    if window < 1:
        raise BpfrewriteError(f"--window must be at least 1, not {window}")
    options = GuardOptions(
        budget_ns=parse_duration(budget, "--budget"),
        interval_ns=parse_duration(interval, "--interval"),
        window=window,
        iface=iface,
        programs=tuple(program or ()),
        restore_after_ns=None if restore_after is None else parse_duration(restore_after, "--restore-after"),
        duration_ns=None if duration is None else parse_duration(duration, "--duration"),
        fail_open_only=fail_open_only,
    )
    as_json = fmt == "json"

    def emit(event) -> None:
        line = render.event_json(event) if as_json else render.event_text(event)
        print(line, flush=True)

    runtime = Guard(obj, options, emit, samples=samples)
    segments = runtime.run()
    summary = render.summary_json if as_json else render.summary_text
    print(summary(segments, runtime.intervals, runtime.watch_cpu_ns), flush=True)
