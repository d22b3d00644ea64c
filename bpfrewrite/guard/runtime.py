"""The guard loop: load a patched object, attach its originals, watch run time, switch to twins.

Everything guard creates hangs off file descriptors it owns (the object's programs and maps, the
links, the statistics fd): nothing is pinned, so closing them, or the process dying, undoes it.
`Guard.run` closes them on every exit path; a signal only sets a flag (or interrupts the sleep
between intervals), so it never lands between the two halves of a switch.
"""
from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.guard.attach import AttachPlan, plan_attach
from bpfrewrite.guard.rules import BudgetTrigger, RestoreClock
from bpfrewrite.kernel import libbpf
from bpfrewrite.kernel.guard_events import Attached, Event, Held, Sample, Segment, Switched, VerdictNote
from bpfrewrite.model import Object


@dataclass(frozen=True)
class GuardOptions:
    """What the user asked for (durations in ns)."""

    budget_ns: int
    interval_ns: int = 100_000_000
    window: int = 1
    iface: str | None = None
    programs: tuple[str, ...] = ()
    restore_after_ns: int | None = None
    duration_ns: int | None = None
    fail_open_only: bool = False  # never switch to a twin that can drop traffic


@dataclass
class _Guarded:
    name: str
    original: libbpf.Program
    twin: libbpf.Program
    plan: AttachPlan
    trigger: BudgetTrigger
    restore: RestoreClock
    link: libbpf.Link | None = None
    on_twin: bool = False
    held: str | None = None  # why it is never switched
    last: dict[str, tuple[int, int]] = field(default_factory=dict)
    segments: list[Segment] = field(default_factory=list)

    @property
    def running(self) -> libbpf.Program:
        return self.twin if self.on_twin else self.original


def program_twins(obj: Object) -> dict[str, str]:
    """The twin of each original program: the record when there is one, else the twins' shape."""
    from bpfrewrite.twins import program_twins as pairs

    twins = pairs(obj)  # object order: attach order
    if not twins:
        raise BpfrewriteError(f"{obj.path}: has no fast-path twins: write them with `bpfrewrite patch` first")
    return twins


_STOP_POLL_NS = 50_000_000  # how long `stop` from another thread may wait


class _Stop(Exception):
    """Raised by the signal handler to end the sleep between intervals."""


class Guard:
    """Runs one guard session; `run` returns the segments of each program for the summary."""

    def __init__(self, path: Path, options: GuardOptions, emit: Callable[[Event], None], samples: bool = False) -> None:
        self.path = Path(path)
        self.options = options
        self.emit = emit
        self.samples = samples
        self.guarded: list[_Guarded] = []
        self._obj: libbpf.BpfObject | None = None
        self._stats_fd: int | None = None
        self._stop = False
        self._sleeping = False
        self._start_ns = 0
        self.watch_cpu_ns = 0  # CPU time of the watching loop, wake-ups included
        self.intervals = 0

    # -- set-up -----------------------------------------------------------------------------

    def _select(self, twins: dict[str, str]) -> list[tuple[str, str]]:
        twin_names = set(twins.values())
        wanted = list(self.options.programs) or [name for name in twins]
        pairs = []
        for name in wanted:
            if name in twin_names:
                raise BpfrewriteError(f"{name} is a twin: name its original with --program")
            if name not in twins:
                raise BpfrewriteError(f"{self.path}: program {name!r} has no twin (or no such program)")
            pairs.append((name, twins[name]))
        return pairs

    def _ifindex(self) -> int | None:
        if self.options.iface is None:
            return None
        try:
            return socket.if_nametoindex(self.options.iface)
        except OSError:
            raise BpfrewriteError(f"no network interface named {self.options.iface!r} here") from None

    def _setup(self) -> None:
        from bpfrewrite.kernel.runner import check_bpf_elf

        model = check_bpf_elf(self.path)  # read, and refused here if this kernel cannot load it
        twins = program_twins(model)
        pairs = self._select(twins)
        held = self._verdicts(model, pairs)
        ifindex = self._ifindex()
        reason = libbpf.probe_load()
        if reason is not None:
            raise BpfrewriteError(reason)
        self._stats_fd = libbpf.enable_run_time_stats()  # before loading: refuse early without it
        with libbpf.captured_messages() as messages:
            self._obj = libbpf.BpfObject(self.path)
            programs = {p.name: p for p in self._obj.programs()}
            for name, twin in pairs:
                if name not in programs or twin not in programs:
                    raise BpfrewriteError(f"{self.path}: libbpf sees no program {name if name not in programs else twin!r}")
            plans = {}
            for name, _ in pairs:
                p = programs[name]
                plans[name] = plan_attach(name, p.prog_type, p.section, self.options.iface, ifindex)
            wanted = {n for pair in pairs for n in pair}
            for name, program in programs.items():
                # Twins may come autoload-off (SEC("?...")): load them either way.
                program.set_autoload(name in wanted)
            err = self._obj.load()
            if err:
                detail = next((m.strip().removeprefix("libbpf: ") for m in messages if m.strip()), os.strerror(err))
                raise BpfrewriteError(f"{self.path}: loading failed: {detail}")
        for name, twin in pairs:
            self.guarded.append(
                _Guarded(
                    name=name,
                    original=programs[name],
                    twin=programs[twin],
                    plan=plans[name],
                    trigger=BudgetTrigger(self.options.budget_ns, self.options.window),
                    restore=RestoreClock(self.options.restore_after_ns),
                    held=held.get(name),
                )
            )
        self._start_ns = time.monotonic_ns()
        for g in self.guarded:
            with libbpf.captured_messages() as messages:
                try:
                    g.link = g.plan.attach(g.original)
                except BpfrewriteError as exc:
                    detail = next((m.strip().removeprefix("libbpf: ") for m in messages if m.strip()), None)
                    raise BpfrewriteError(f"{exc}" + (f" ({detail})" if detail else "")) from None
            g.last = {p.name: _stats(p) for p in (g.original, g.twin)}
            g.segments.append(self._segment(g, g.original, self._start_ns))
            self.emit(
                Attached(
                    program=g.name,
                    twin=g.twin.name,
                    prog_type=libbpf.prog_type_name(g.original.prog_type),
                    target=g.plan.target,
                    method=g.plan.method,
                    prog_id=_prog_id(g.original),
                    twin_id=_prog_id(g.twin),
                )
            )

    def _verdicts(self, model: Object, pairs: list[tuple[str, str]]) -> dict[str, str]:
        """Say what each twin can return; the programs --fail-open-only keeps on their originals."""
        from bpfrewrite.passes.verdicts import can_drop, twin_verdicts

        verdicts = twin_verdicts(model)
        held = {}
        for name, twin in pairs:
            if name not in verdicts:
                continue
            original, twin_verdict = verdicts[name]
            drops = can_drop(twin_verdict)
            if drops and self.options.fail_open_only:
                held[name] = f"its twin can drop ({twin_verdict.text()}) and --fail-open-only is given"
            self.emit(VerdictNote(name, twin, original.text(), twin_verdict.text(), drops, name in held))
        return held

    def _segment(self, g: _Guarded, program: libbpf.Program, now_ns: int) -> Segment:
        return Segment(g.name, program.name, self._seconds(now_ns), _base=_stats(program))

    def _close_segment(self, g: _Guarded, now_ns: int) -> None:
        seg = g.segments[-1]
        program = g.twin if seg.running == g.twin.name else g.original
        cnt, ns = _stats(program)
        seg.end_s = self._seconds(now_ns)
        seg.runs = cnt - seg._base[0]
        seg.run_time_ns = ns - seg._base[1]

    def _seconds(self, now_ns: int) -> float:
        return (now_ns - self._start_ns) / 1e9

    # -- the loop ---------------------------------------------------------------------------

    def run(self, handle_signals: bool = True) -> list[Segment]:
        """Set up, watch until a signal, `stop` or the duration ends, tear down; the segments.

        Only the main thread may take SIGINT/SIGTERM; another thread passes handle_signals=False
        and ends the session with `stop`.
        """
        signals = (signal.SIGINT, signal.SIGTERM) if handle_signals else ()
        previous = {sig: signal.signal(sig, self._on_signal) for sig in signals}
        try:
            self._setup()
            self._watch()
            now = time.monotonic_ns()
            for g in self.guarded:
                self._close_segment(g, now)
            return [seg for g in self.guarded for seg in g.segments]
        finally:
            self._teardown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        """Ask the loop to end after its current interval (from another thread)."""
        self._stop = True

    def _on_signal(self, signum: int, frame: object) -> None:
        self._stop = True
        if self._sleeping:
            raise _Stop()

    def _watch(self) -> None:
        interval = self.options.interval_ns
        end = None if self.options.duration_ns is None else self._start_ns + self.options.duration_ns
        k = 0
        cpu_start = time.thread_time_ns()
        while not self._stop:
            deadline = self._start_ns + (k + 1) * interval
            if end is not None and deadline > end:
                deadline = end
            self._sleep_until(deadline)
            if self._stop:
                break
            k += 1
            self._tick(k)
            if end is not None and time.monotonic_ns() >= end:
                break
        # Everything the loop cost, wake-ups included, per interval.
        self.watch_cpu_ns = time.thread_time_ns() - cpu_start
        self.intervals = k

    def _sleep_until(self, deadline_ns: int) -> None:
        # Sleep in slices so `stop` from another thread is seen soon; a signal ends the sleep.
        self._sleeping = True
        try:
            while not self._stop:
                left = deadline_ns - time.monotonic_ns()
                if left <= 0:
                    break
                time.sleep(min(left, _STOP_POLL_NS) / 1e9)
        except _Stop:
            pass
        finally:
            self._sleeping = False

    def _tick(self, k: int) -> None:
        done = []
        for g in self.guarded:
            now_stats = {p.name: _stats(p) for p in (g.original, g.twin)}
            read_ns = time.monotonic_ns()  # the end of this interval, as far as guard can know it
            running = g.running.name
            runs = now_stats[running][0] - g.last[running][0]
            run_ns = now_stats[running][1] - g.last[running][1]
            g.last = now_stats
            done.append(Sample(self._seconds(read_ns), k, g.name, running, runs, run_ns))
            if g.on_twin:
                if g.restore.due(read_ns):
                    self._switch(g, k, read_ns, runs, run_ns, restore=True)
            elif g.trigger.observe(runs, run_ns):
                if g.held is not None:
                    self.emit(Held(self._seconds(read_ns), k, g.name, g.twin.name, run_ns / runs,
                                   self.options.budget_ns, g.trigger.streak, g.held))  # fmt: skip
                    g.trigger.reset()
                else:
                    self._switch(g, k, read_ns, runs, run_ns, restore=False)
        if self.samples:  # after the switches, so printing them never delays one
            for sample in done:
                self.emit(sample)

    def _switch(self, g: _Guarded, k: int, read_ns: int, runs: int, run_ns: int, restore: bool) -> None:
        old, new = (g.twin, g.original) if restore else (g.original, g.twin)
        over = g.trigger.streak
        if g.plan.method == "link-update":
            assert g.link is not None
            g.link.update(new)
        else:
            link = g.plan.attach(new)
            assert g.link is not None
            g.link.destroy()
            g.link = link
        done_ns = time.monotonic_ns()
        g.on_twin = not restore
        g.trigger.reset()
        self._close_segment(g, done_ns)
        g.segments.append(self._segment(g, new, done_ns))
        g.last = {p.name: _stats(p) for p in (g.original, g.twin)}
        if restore:
            g.restore.restored()
            delay = None
        else:
            delay = g.restore.switched(done_ns)
        self.emit(
            Switched(
                time_s=self._seconds(done_ns),
                interval=k,
                program=g.name,
                from_prog=old.name,
                to_prog=new.name,
                ns_per_run=run_ns / runs if runs else None,
                budget_ns=self.options.budget_ns,
                intervals_over=over,
                method=g.plan.method,
                latency_ns=done_ns - read_ns,
                interval_end_ns=read_ns,
                restore_in_s=None if delay is None else delay / 1e9,
                kind="restore" if restore else "switch",
            )
        )

    def _teardown(self) -> None:
        # Links first (detach), then the object (unload programs, free maps), then statistics.
        for g in self.guarded:
            if g.link is not None:
                g.link.destroy()
                g.link = None
        if self._obj is not None:
            self._obj.close()
            self._obj = None
        if self._stats_fd is not None:
            os.close(self._stats_fd)
            self._stats_fd = None


def _stats(program: libbpf.Program) -> tuple[int, int]:
    info = libbpf.prog_info(program.fd)
    return int(info.run_cnt), int(info.run_time_ns)


def _prog_id(program: libbpf.Program) -> int:
    return int(libbpf.prog_info(program.fd).id)
