"""guard's output: one line per event (text or JSON lines) and the summary on exit.

The events and segments are bpfrewrite.kernel.guard_events' dataclasses; a `Switched` is a switch
or a restore (its `kind`), and every event's `kind` is its JSON "event".
"""
from __future__ import annotations

import json
from dataclasses import asdict

from bpfrewrite.kernel.guard_events import Attached, Event, Held, Sample, Segment, Switched, VerdictNote
from bpfrewrite.render.layout import columns, count, format_ns


def event_json(event: Event) -> str:
    """One JSON line: {"event": kind, ...fields}."""
    fields = asdict(event)
    kind = fields.pop("kind")
    if isinstance(event, Switched):
        fields["from"] = fields.pop("from_prog")
        fields["to"] = fields.pop("to_prog")
    if isinstance(event, Sample):
        fields["ns_per_run"] = event.ns_per_run
    return json.dumps({"event": kind, **fields}, sort_keys=True)


def event_text(event: Event) -> str:
    """One human line per event."""
    if isinstance(event, VerdictNote):
        text = f"verdict {event.program}: returns {event.original}; twin {event.twin} returns {event.twin_verdict}"
        if event.held:
            text += "; can drop: never switched (--fail-open-only)"
        elif event.twin_can_drop:
            text += "; can drop"
        return text
    if isinstance(event, Held):
        per_run = format_ns(event.ns_per_run)
        return (
            f"hold {event.program} at {event.time_s:.2f}s: {per_run}/run over budget "
            f"{format_ns(event.budget_ns)}, not switched: {event.reason}"
        )
    if isinstance(event, Attached):
        return (
            f"attach {event.program} ({event.prog_type}, prog id {event.prog_id}): {event.target}; "
            f"twin {event.twin} (prog id {event.twin_id}) loaded, switch by {event.method}"
        )
    if isinstance(event, Sample):
        per_run = format_ns(event.ns_per_run)
        return (
            f"sample {event.time_s:.2f}s {event.program} [{event.running}]: "
            f"{event.runs} runs, {per_run}/run"
        )
    # A Switched: to the twin ("switch") or back to the original ("restore").
    per_run = format_ns(event.ns_per_run)
    text = f"{event.kind} {event.program}: {event.from_prog} -> {event.to_prog} at {event.time_s:.2f}s"
    if event.kind == "switch":
        text += f", {per_run}/run over budget {format_ns(event.budget_ns)} for {count(event.intervals_over, 'interval')}"
    text += f"; method {event.method}; latency {format_ns(event.latency_ns)}"
    if event.restore_in_s is not None:
        text += f"; restore in {event.restore_in_s:g}s"
    return text


def summary_json(segments: list[Segment], intervals: int, cpu_ns: int) -> str:
    """The summary as one JSON line (with guard's own CPU time per interval)."""
    rows = [
        {
            "program": s.program,
            "running": s.running,
            "start_s": round(s.start_s, 6),
            "end_s": None if s.end_s is None else round(s.end_s, 6),
            "runs": s.runs,
            "run_time_ns": s.run_time_ns,
        }
        for s in segments
    ]
    per_interval = round(cpu_ns / intervals) if intervals else None
    summary = {"event": "summary", "segments": rows, "intervals": intervals, "cpu_ns_per_interval": per_interval}
    return json.dumps(summary, sort_keys=True)


def summary_text(segments: list[Segment], intervals: int, cpu_ns: int) -> str:
    """A table: per program, runs and time of the original and twin between switches."""
    header = ["PROGRAM", "RUNNING", "FROM", "TO", "RUNS", "TIME", "TIME/RUN"]
    rows = []
    for s in segments:
        rows.append(
            [
                s.program,
                s.running,
                f"{s.start_s:.2f}s",
                "-" if s.end_s is None else f"{s.end_s:.2f}s",
                str(s.runs),
                format_ns(s.run_time_ns),
                format_ns(s.run_time_ns / s.runs) if s.runs else "-",
            ]
        )
    lines = columns([header, *rows], left=2)
    if intervals:
        lines.append(f"guard: {intervals} intervals, {format_ns(cpu_ns / intervals)} CPU per interval")
    return "\n".join(lines)
