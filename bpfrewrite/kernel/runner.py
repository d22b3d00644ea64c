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
from dataclasses import dataclass
from pathlib import Path

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.kernel import libbpf

TWIN_SUFFIX = "__fast"
ETH_HLEN = 14
DEFAULT_PACKET = bytes(64)
LOG_TAIL_LINES = 20

# Large enough for the tail of a long rejection: since Linux 6.4 the verifier log rotates, keeping the
# end (where the error is) when it overflows.
_LOG_SIZE = 4 << 20

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

_ELF_MAGIC = b"\x7fELF"
_ELFCLASS64 = 2
_ELFDATA2LSB = 1
_ET_REL = 1
_EM_BPF = 247


@dataclass
class ProgResult:
    """The verifier's verdict on one program, and its test run if one was asked for."""

    name: str
    section: str
    accepted: bool
    verified_insns: int | None = None
    message: str | None = None
    line: str | None = None
    log_tail: str | None = None
    retval: int | None = None
    duration_ns: int | None = None
    twin_of: str | None = None


def check_bpf_elf(path: Path) -> None:
    """Raise BpfrewriteError unless `path` is a readable 64-bit little-endian BPF relocatable ELF."""
    if not path.exists():
        raise BpfrewriteError(f"{path}: no such file")
    if not path.is_file():
        raise BpfrewriteError(f"{path}: not a regular file")
    try:
        with path.open("rb") as f:
            header = f.read(64)
    except OSError as exc:
        raise BpfrewriteError(f"{path}: cannot read: {exc.strerror}") from None
    if len(header) < 20 or header[:4] != _ELF_MAGIC:
        raise BpfrewriteError(f"{path}: not an ELF file")
    if header[4] != _ELFCLASS64 or header[5] != _ELFDATA2LSB:
        raise BpfrewriteError(f"{path}: not a 64-bit little-endian ELF (BPF objects are)")
    e_type = int.from_bytes(header[16:18], "little")
    e_machine = int.from_bytes(header[18:20], "little")
    if e_machine != _EM_BPF:
        raise BpfrewriteError(f"{path}: not a BPF object (ELF machine {e_machine}, BPF is 247)")
    if e_type != _ET_REL:
        raise BpfrewriteError(f"{path}: not a relocatable BPF object (compile with clang -c)")


def verify_object(
    path: str | os.PathLike[str],
    prog: str | None = None,
    run: bool = False,
    data: bytes | None = None,
    repeat: int = 1,
) -> list[ProgResult]:
    """Load every program of the object (or only `prog`) and, with `run`, test-run the accepted ones."""
    path = Path(path)
    check_bpf_elf(path)
    if repeat < 1:
        raise BpfrewriteError(f"--repeat must be at least 1, not {repeat}")
    with libbpf.captured_messages() as messages:
        programs = _list_programs(path, messages)
        if not programs:
            raise BpfrewriteError(f"{path}: no BPF programs in it")
        names = [name for name, _ in programs]
        if prog is not None:
            if prog not in names:
                raise BpfrewriteError(f"{path}: no program named {prog!r} (it has: {', '.join(names)})")
            programs = [(name, section) for name, section in programs if name == prog]
        results = [
            _verify_one(path, name, section, run, data, repeat, messages)
            for name, section in programs
        ]
    for result in results:
        original = result.name[: -len(TWIN_SUFFIX)]
        if result.name.endswith(TWIN_SUFFIX) and original in names:
            result.twin_of = original
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
        detail = _libbpf_reason(messages)
        if detail:
            raise BpfrewriteError(f"{path}: libbpf cannot open it: {detail}") from None
        raise


def _verify_one(
    path: Path,
    name: str,
    section: str,
    run: bool,
    data: bytes | None,
    repeat: int,
    messages: list[str],
) -> ProgResult:
    log = ctypes.create_string_buffer(_LOG_SIZE)
    with _open(path, messages) as obj:
        target = None
        for program in obj.programs():
            program.set_autoload(program.name == name)
            if program.name == name:
                target = program
        assert target is not None, f"program {name} vanished between two opens"
        # Level 0: libbpf loads without a log and retries at level 1 into our buffer only on
        # failure (libbpf.c, bpf_object_load_prog), so accepted programs never overflow it.
        target.set_log(log, 0)
        del messages[:]
        err = obj.load()
        text = log.value.decode("utf-8", "replace")
        if err:
            if not text.strip() and err == errno.EPERM:
                raise BpfrewriteError(libbpf.PERMISSION_MESSAGE)
            return _rejected(name, section, text, err, messages)
        result = ProgResult(
            name=name,
            section=section,
            accepted=True,
            verified_insns=libbpf.verified_insns(target.fd),
        )
        if run:
            _test_run(result, target, data, repeat)
        return result


def _rejected(name: str, section: str, log: str, err: int, messages: list[str]) -> ProgResult:
    lines = [line.rstrip() for line in log.splitlines()]
    message, error_at = _error_message(lines)
    if message is None:
        # No verifier log: libbpf refused before the kernel saw the program (relocation, CO-RE,
        # a missing map or kfunc); its last warning says why.
        reason = _libbpf_reason(messages)
        message = f"libbpf: {reason}" if reason else os.strerror(err)
    return ProgResult(
        name=name,
        section=section,
        accepted=False,
        message=message,
        line=_source_line(lines, error_at),
        log_tail="\n".join(line for line in lines[-LOG_TAIL_LINES:]).strip() or None,
    )


# Lines the verifier prints after the error: statistics, not the reason.
_TRAILER = re.compile(r"^(processed \d+ insns|verification time|stack depth|max_states_per_insn)")
# An instruction ("8: (61) r6 = ...") or a state dump ("8: R0=...", "from 4 to 6: R0=...").
_INSN_OR_STATE = re.compile(r"^(\d+: |from \d+ to \d+: )")
_SOURCE = re.compile(r"^; .* @ (?P<file>[^:]+):(?P<line>\d+)$")
_MAX_MESSAGE_LINES = 3


def _error_message(lines: list[str]) -> tuple[str | None, int]:
    """The verifier's reason (the lines after the last instruction) and the index where it starts."""
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


def _source_line(lines: list[str], before: int) -> str | None:
    """`file.c:LINE` of the nearest source annotation above line index `before`."""
    for line in reversed(lines[:before]):
        m = _SOURCE.match(line)
        if m:
            return f"{os.path.basename(m['file'])}:{m['line']}"
    return None


def _libbpf_reason(messages: list[str]) -> str | None:
    # libbpf warns first about the cause, then adds summaries ("failed to load object ...").
    for message in messages:
        text = message.strip().removeprefix("libbpf: ")
        if text:
            return text
    return None


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
