"""Load each program of a BPF object through libbpf, report the verifier's verdict, and test-run it.

Every program is loaded on its own (open, autoload only it, load, collect, close) so a rejected
program cannot hide the others and each verdict and instruction count belongs to one program.
Nothing is attached and nothing is pinned: closing the object unloads everything it loaded.
"""
from __future__ import annotations

import ctypes
import errno
import os
import re
import sys
from pathlib import Path

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.kernel import libbpf
from bpfrewrite.kernel.results import ProgResult
from bpfrewrite.model import Object
from bpfrewrite.twins import program_twins

ETH_HLEN = 14
DEFAULT_PACKET = bytes(64)
LOG_TAIL_LINES = 20

# Large enough for the tail of a long rejection: since Linux 6.4 the verifier log rotates,
# keeping the end (where the error is) when it overflows.
_LOG_SIZE = 4 << 20
# BPF_LOG_STATS (uapi linux/bpf.h): the verifier logs only its statistics and error messages, no
# instruction trace, so a small buffer per program is enough and verification is not slowed down.
_LOG_STATS = 4
_STATS_LOG_SIZE = 256 << 10
_STATS = re.compile(
    r"^processed (?P<insns>\d+) insns \(limit \d+\) max_states_per_insn (?P<max>\d+) "
    r"total_states (?P<total>\d+) peak_states (?P<peak>\d+)", re.M)
_VERIFY_TIME = re.compile(r"^verification time (?P<us>\d+) usec", re.M)

# Program types whose BPF_PROG_TEST_RUN takes a packet in data_in (net/bpf/test_run.c); the kernel
# refuses packets shorter than an Ethernet header for all of them.
_PACKET_TYPES = frozenset(
    {
        libbpf.PROG_TYPE_SOCKET_FILTER,
        libbpf.PROG_TYPE_SCHED_CLS,
        libbpf.PROG_TYPE_SCHED_ACT,
        libbpf.PROG_TYPE_XDP,
        libbpf.PROG_TYPE_CGROUP_SKB,
        libbpf.PROG_TYPE_LWT_IN,
        libbpf.PROG_TYPE_LWT_OUT,
        libbpf.PROG_TYPE_LWT_XMIT,
    }
)
# raw_tp test runs take the tracepoint arguments as ctx (at most MAX_BPF_FUNC_ARGS u64s), no packet,
# and refuse repeat != 0, so they report a return value but no duration.
_RAW_TP_CTX_SIZE = 12 * 8


def check_bpf_elf(path: Path) -> Object:
    """The model of path; raise BpfrewriteError unless it is a BPF object this machine's kernel can load."""
    from bpfrewrite.byteorder import target
    from bpfrewrite.elf.reader import read_object

    obj = read_object(path)  # the one reader: same checks and messages as every other command
    if obj.byte_order != sys.byteorder:
        # The kernel runs BPF in the CPU's byte order (libbpf refuses the other: "unsupported byte
        # order of ELF file"); the other commands read such objects, only loading needs a native one.
        raise BpfrewriteError(f"{path}: a {obj.byte_order}-endian ({target(obj.byte_order)}) object; this "
                              f"{sys.byteorder}-endian machine cannot load it (disasm, cfg, lint and patch read it)")
    return obj


def verify_object(
    path: str | os.PathLike[str],
    prog: str | None = None,
    run: bool = False,
    data: bytes | None = None,
    repeat: int = 1,
) -> list[ProgResult]:
    """Load the object's programs (or only `prog`); with `run`, test-run the accepted ones."""
    path = Path(path)
    if repeat < 1:
        raise BpfrewriteError(f"--repeat must be at least 1, not {repeat}")
    obj = check_bpf_elf(path)
    with libbpf.captured_messages() as messages:
        programs = _list_programs(path, messages)
        if not programs:
            raise BpfrewriteError(f"{path}: no BPF programs in it")
        names = [name for name, _ in programs]
        sections = dict(programs)
        if prog is not None:
            if prog not in names:
                have = ", ".join(names)
                raise BpfrewriteError(f"{path}: no program named {prog!r} (it has: {have})")
            programs = [(name, section) for name, section in programs if name == prog]
        wanted = [name for name, _ in programs]
        loader = _Loader(path, sections, wanted, messages, run, data, repeat)
        by_name = loader.load_all()
    results = [by_name[name] for name in wanted]
    # The pairs the .bpfrewrite record (or the twins' shape) names, as lint and guard see them.
    original_of = {twin: original for original, twin in program_twins(obj).items() if original in names}
    for result in results:
        result.twin_of = original_of.get(result.name)
    return results


def _list_programs(path: Path, messages: list[str]) -> list[tuple[str, str]]:
    with _open(path, messages) as obj:
        return [(p.name, p.section) for p in obj.programs()]


def _open(path: Path, messages: list[str]) -> libbpf.BpfObject:
    del messages[:]
    try:
        return libbpf.BpfObject(path)
    except BpfrewriteError:
        # libbpf's own warning names the broken part (BTF, relocation, section) better than errno.
        detail = _libbpf_reason(messages, None)
        if detail:
            raise BpfrewriteError(f"{path}: libbpf cannot open it: {detail}") from None
        raise


_KERNEL_REFUSED = "BPF program load failed: "  # libbpf's words for a failed BPF_PROG_LOAD
_PROG_MESSAGE = re.compile(r"^(?:libbpf: )?prog '(?P<name>[^']+)': ")


class _Loader:
    """Loads the wanted programs in as few bpf_object__load calls as the verdicts allow.

    All wanted programs are loaded together; when that fails, the program libbpf names as the
    failure is recorded as rejected and the rest are loaded again, until they load. A failure
    no program can be blamed for (a map, BTF or extern) switches to loading one program at a time.
    Loading together matters: libbpf 1.1 fills program-array slots from every program of the
    object whether autoloaded or not (bpf_object_init_prog_arrays), so a tail-call entry cannot
    load without its targets. Verdicts and verified_insns stay per program: the verifier checks
    each program on its own, and each loaded program has its own fd. For the same reason a
    single wanted program (--prog) is loaded with the whole object, then reported alone.
    """

    def __init__(
        self,
        path: Path,
        sections: dict[str, str],
        wanted: list[str],
        messages: list[str],
        run: bool,
        data: bytes | None,
        repeat: int,
    ) -> None:
        self.path = path
        self.sections = sections
        self.wanted = wanted
        self.messages = messages
        self.run = run
        self.data = data
        self.repeat = repeat
        self.results: dict[str, ProgResult] = {}
        self._probed = False
        self._probe_failure: str | None = None

    def load_all(self) -> dict[str, ProgResult]:
        """A result for every wanted program (and maybe for others loaded alongside)."""
        pending = list(self.sections)
        one_at_a_time = False
        while pending:
            batch = pending[:1] if one_at_a_time else list(pending)
            culprit = self._load(batch)
            if culprit is None:
                pending = [name for name in pending if name not in batch]
            elif culprit:
                pending.remove(culprit)
            else:
                one_at_a_time = True
                pending = [name for name in pending if name in self.wanted]
        return self.results

    def _load(self, batch: list[str]) -> str | None:
        """Load `batch`; None if all loaded, else the rejected program's name ("" if unknown)."""
        logs = {name: ctypes.create_string_buffer(_STATS_LOG_SIZE) for name in batch}
        with _open(self.path, self.messages) as obj:
            programs = {p.name: p for p in obj.programs()}
            for name, program in programs.items():
                program.set_autoload(name in batch)
                if name in batch:
                    program.set_log(logs[name], _LOG_STATS)
            del self.messages[:]
            err = obj.load()
            if not err:
                for name in batch:
                    result = self._accepted(name, programs[name], name in self.wanted)
                    _set_stats(result, logs[name].value.decode("utf-8", "replace"))
                    self.results[name] = result
                return None
            culprit = self._blame(batch)
            if culprit is None:
                if len(batch) > 1:
                    return ""
                culprit = batch[0]
        stats = logs[culprit].value.decode("utf-8", "replace")
        text = self._full_log(culprit) or stats
        if err == errno.EPERM and not text.strip():
            self._check_privileges()
        self.results[culprit] = self._rejected(culprit, text, err)
        _set_stats(self.results[culprit], stats)
        return culprit

    def _full_log(self, name: str) -> str:
        """The level-1 verifier log of a program that failed to load (its source lines and trace).

        Loaded alone at level 0: libbpf then retries at level 1 only if the load fails
        (libbpf.c, bpf_object_load_prog), so the statistics pass stays cheap and only a
        rejected program pays for a full log.
        """
        log = ctypes.create_string_buffer(_LOG_SIZE)
        first = list(self.messages)  # libbpf's words on the first load name the cause best
        try:
            with _open(self.path, self.messages) as obj:
                for program in obj.programs():
                    program.set_autoload(program.name == name)
                    if program.name == name:
                        program.set_log(log, 0)
                obj.load()
        finally:
            self.messages[:] = first
        return log.value.decode("utf-8", "replace")

    def _blame(self, batch: list[str]) -> str | None:
        for message in self.messages:
            m = _PROG_MESSAGE.match(message)
            if m and m["name"] in batch:
                return m["name"]
        return None

    def _check_privileges(self) -> None:
        # The kernel answers EPERM both to an unprivileged caller and to some privileged loads
        # (e.g. trampolines it cannot build), so ask again with a program anyone privileged loads.
        if not self._probed:
            self._probe_failure = libbpf.probe_load()
            self._probed = True
        if self._probe_failure == libbpf.PERMISSION_MESSAGE:
            raise BpfrewriteError(libbpf.PERMISSION_MESSAGE)

    def _accepted(self, name: str, program: libbpf.Program, wanted: bool) -> ProgResult:
        result = ProgResult(
            name=name,
            section=self.sections[name],
            accepted=True,
            verified_insns=libbpf.verified_insns(program.fd),
            prog_type=libbpf.prog_type_name(program.prog_type),
        )
        if self.run and wanted:
            _test_run(result, program, self.data, self.repeat)
        return result

    def _rejected(self, name: str, log: str, err: int) -> ProgResult:
        lines = [line.rstrip() for line in log.splitlines()]
        message, error_at = _error_message(lines)
        if message is None:
            # No verifier log: libbpf or the kernel refused before verification (relocation,
            # CO-RE, a missing map or kfunc, an attach target); libbpf's first warning says why.
            reason = _libbpf_reason(self.messages, name) or ""
            if not reason or reason.startswith(_KERNEL_REFUSED):
                message = f"the kernel refused it before verification: {os.strerror(err)}"
            else:
                message = f"libbpf: {reason}"
        file, line = _source_line(lines, error_at)
        return ProgResult(
            name=name,
            section=self.sections[name],
            accepted=False,
            message=message,
            file=file,
            line=line,
            log_tail="\n".join(lines[-LOG_TAIL_LINES:]).strip() or None,
        )


def _set_stats(result: ProgResult, log: str) -> None:
    """The verifier's statistics lines of log (any log level prints them), into result."""
    m = _STATS.search(log)
    if m:
        result.total_states, result.peak_states = int(m["total"]), int(m["peak"])
        result.max_states_per_insn = int(m["max"])
    t = _VERIFY_TIME.search(log)
    if t:
        result.verification_us = int(t["us"])


# Lines the verifier prints after the error: statistics, not the reason.
_TRAILER = re.compile(r"^(processed \d+ insns|verification time|stack depth|max_states_per_insn)")
# An instruction ("8: (61) r6 = ...") or a state dump ("8: R0=...", "from 4 to 6: R0=...").
_INSN_OR_STATE = re.compile(r"^(\d+: |from \d+ to \d+: )")
_SOURCE = re.compile(r"^; .* @ (?P<file>[^:]+):(?P<line>\d+)$")
_MAX_MESSAGE_LINES = 3


def _error_message(lines: list[str]) -> tuple[str | None, int]:
    """The verifier's reason (lines after the last instruction) and the index where it starts."""
    end = len(lines)
    while end and (not lines[end - 1].strip() or _TRAILER.match(lines[end - 1])):
        end -= 1
    start = end
    while (
        start
        and end - start < _MAX_MESSAGE_LINES
        and lines[start - 1].strip()
        and not _INSN_OR_STATE.match(lines[start - 1])
        and not _SOURCE.match(lines[start - 1])
    ):
        start -= 1
    if start == end:
        if not end:
            return None, 0
        start = end - 1
    return "; ".join(line.strip() for line in lines[start:end]), start


def _source_line(lines: list[str], before: int) -> tuple[str | None, int | None]:
    """(file, line) of the nearest source annotation above line index `before`."""
    for line in reversed(lines[:before]):
        m = _SOURCE.match(line)
        if m:
            return os.path.basename(m["file"]), int(m["line"])
    return None, None


def _libbpf_reason(messages: list[str], prog: str | None) -> str | None:
    """libbpf's first warning (about `prog`, if it names one): the cause; later ones summarise."""
    texts = [m.strip().removeprefix("libbpf: ") for m in messages]
    if prog is not None:
        prefix = f"prog '{prog}': "
        for text in texts:
            if text.startswith(prefix):
                return text[len(prefix):]
    return next((text for text in texts if text), None)


def _test_run(result: ProgResult, program: libbpf.Program, data: bytes | None, repeat: int) -> None:
    prog_type = program.prog_type
    if prog_type in _PACKET_TYPES:
        packet = DEFAULT_PACKET if data is None else data
        if len(packet) < ETH_HLEN:
            raise BpfrewriteError(
                f"test input is {len(packet)} bytes; packet programs need at least {ETH_HLEN} "
                "(an Ethernet header)"
            )
        args: tuple[bytes | None, bytes | None, int] = (packet, None, repeat)
    elif prog_type == libbpf.PROG_TYPE_RAW_TRACEPOINT:
        ctx = bytes(_RAW_TP_CTX_SIZE) if data is None else data
        if len(ctx) > _RAW_TP_CTX_SIZE:
            raise BpfrewriteError(
                f"test input is {len(ctx)} bytes; raw_tp arguments take at most {_RAW_TP_CTX_SIZE}"
            )
        args = (None, ctx, 0)
    else:
        result.message = f"test run not supported for {libbpf.prog_type_name(prog_type)}"
        return
    try:
        outcome = libbpf.run_program(program.fd, *args)
    except OSError as exc:
        reason = "not supported by this kernel" if exc.errno == 524 else exc.strerror
        result.message = f"test run failed: {reason}"
        return
    result.retval = outcome.retval
    result.duration_ns = outcome.duration_ns
