"""ctypes bindings over the system's libbpf.so.1 (libbpf 1.x): the calls `verify` and `guard` need.

Struct layouts are taken from libbpf 1.1's <bpf/bpf.h> and the uapi <linux/bpf.h>; both carry a size
field (or length argument) so the kernel and libbpf accept a struct shorter than their own.
libbpf 1.x returns NULL and sets errno for failed pointer-returning calls, and a negative errno for
failed int-returning calls; every wrapper below turns those into exceptions or explicit results.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from bpfrewrite.errors import BpfrewriteError

MISSING_MESSAGE = "libbpf.so.1 not found: apt-get install libbpf1"
PERMISSION_MESSAGE = "loading BPF programs needs root or CAP_BPF+CAP_PERFMON"

# Tried after ctypes.util.find_library: Debian/Ubuntu multiarch first, then common distro paths.
_LIBRARY_PATHS = (
    "libbpf.so.1",
    "/usr/lib/x86_64-linux-gnu/libbpf.so.1",
    "/usr/lib/aarch64-linux-gnu/libbpf.so.1",
    "/usr/lib64/libbpf.so.1",
    "/usr/lib/libbpf.so.1",
    "/usr/local/lib/libbpf.so.1",
    "/usr/local/lib64/libbpf.so.1",
)

# enum bpf_prog_type (uapi linux/bpf.h)
PROG_TYPE_SOCKET_FILTER = 1
PROG_TYPE_SCHED_CLS = 3
PROG_TYPE_SCHED_ACT = 4
PROG_TYPE_XDP = 6
PROG_TYPE_CGROUP_SKB = 8
PROG_TYPE_LWT_IN = 10
PROG_TYPE_LWT_OUT = 11
PROG_TYPE_LWT_XMIT = 12
PROG_TYPE_KPROBE = 2
PROG_TYPE_TRACEPOINT = 5
PROG_TYPE_RAW_TRACEPOINT = 17
PROG_TYPE_TRACING = 26
PROG_TYPE_LSM = 29

# enum bpf_attach_type (uapi linux/bpf.h, 6.6+): libbpf 1.1 predates tcx, the kernel does not.
ATTACH_TCX_INGRESS = 46
STATS_RUN_TIME = 0  # enum bpf_stats_type

LIBBPF_WARN = 0  # enum libbpf_print_level


class TestRunOpts(ctypes.Structure):
    """struct bpf_test_run_opts, libbpf 1.1 <bpf/bpf.h>."""

    __test__ = False  # not a pytest test class despite the name
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("data_in", ctypes.c_void_p),
        ("data_out", ctypes.c_void_p),
        ("data_size_in", ctypes.c_uint32),
        ("data_size_out", ctypes.c_uint32),
        ("ctx_in", ctypes.c_void_p),
        ("ctx_out", ctypes.c_void_p),
        ("ctx_size_in", ctypes.c_uint32),
        ("ctx_size_out", ctypes.c_uint32),
        ("retval", ctypes.c_uint32),
        ("repeat", ctypes.c_int),
        ("duration", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("cpu", ctypes.c_uint32),
        ("batch_size", ctypes.c_uint32),
    ]


class ProgInfo(ctypes.Structure):
    """struct bpf_prog_info, uapi <linux/bpf.h> (6.1 headers; newer kernels append fields)."""

    _fields_ = [
        ("type", ctypes.c_uint32),
        ("id", ctypes.c_uint32),
        ("tag", ctypes.c_uint8 * 8),
        ("jited_prog_len", ctypes.c_uint32),
        ("xlated_prog_len", ctypes.c_uint32),
        ("jited_prog_insns", ctypes.c_uint64),
        ("xlated_prog_insns", ctypes.c_uint64),
        ("load_time", ctypes.c_uint64),
        ("created_by_uid", ctypes.c_uint32),
        ("nr_map_ids", ctypes.c_uint32),
        ("map_ids", ctypes.c_uint64),
        ("name", ctypes.c_char * 16),
        ("ifindex", ctypes.c_uint32),
        ("gpl_compatible", ctypes.c_uint32),  # a 1-bit field followed by 31 bits of padding
        ("netns_dev", ctypes.c_uint64),
        ("netns_ino", ctypes.c_uint64),
        ("nr_jited_ksyms", ctypes.c_uint32),
        ("nr_jited_func_lens", ctypes.c_uint32),
        ("jited_ksyms", ctypes.c_uint64),
        ("jited_func_lens", ctypes.c_uint64),
        ("btf_id", ctypes.c_uint32),
        ("func_info_rec_size", ctypes.c_uint32),
        ("func_info", ctypes.c_uint64),
        ("nr_func_info", ctypes.c_uint32),
        ("nr_line_info", ctypes.c_uint32),
        ("line_info", ctypes.c_uint64),
        ("jited_line_info", ctypes.c_uint64),
        ("nr_jited_line_info", ctypes.c_uint32),
        ("line_info_rec_size", ctypes.c_uint32),
        ("jited_line_info_rec_size", ctypes.c_uint32),
        ("nr_prog_tags", ctypes.c_uint32),
        ("prog_tags", ctypes.c_uint64),
        ("run_time_ns", ctypes.c_uint64),
        ("run_cnt", ctypes.c_uint64),
        ("recursion_misses", ctypes.c_uint64),
        ("verified_insns", ctypes.c_uint32),
        ("attach_btf_obj_id", ctypes.c_uint32),
        ("attach_btf_id", ctypes.c_uint32),
        ("_pad", ctypes.c_uint32),
    ]


# int (*libbpf_print_fn_t)(enum libbpf_print_level, const char *, va_list): on x86-64 and arm64 a
# va_list argument is passed as a pointer, so c_void_p carries it to vsnprintf unchanged.
PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

_P = ctypes.c_void_p
_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "bpf_object__open_file": (_P, [ctypes.c_char_p, _P]),
    "bpf_object__next_program": (_P, [_P, _P]),
    "bpf_object__find_program_by_name": (_P, [_P, ctypes.c_char_p]),
    "bpf_object__load": (ctypes.c_int, [_P]),
    "bpf_object__close": (None, [_P]),
    "bpf_program__name": (ctypes.c_char_p, [_P]),
    "bpf_program__section_name": (ctypes.c_char_p, [_P]),
    "bpf_program__set_autoload": (ctypes.c_int, [_P, ctypes.c_bool]),
    "bpf_program__set_log_buf": (ctypes.c_int, [_P, _P, ctypes.c_size_t]),
    "bpf_program__set_log_level": (ctypes.c_int, [_P, ctypes.c_uint32]),
    "bpf_program__type": (ctypes.c_int, [_P]),
    "bpf_program__fd": (ctypes.c_int, [_P]),
    "bpf_prog_test_run_opts": (ctypes.c_int, [ctypes.c_int, ctypes.POINTER(TestRunOpts)]),
    "bpf_obj_get_info_by_fd": (ctypes.c_int, [ctypes.c_int, _P, ctypes.POINTER(ctypes.c_uint32)]),
    "bpf_prog_load": (
        ctypes.c_int,
        [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, _P, ctypes.c_size_t, _P],
    ),
    "bpf_program__attach": (_P, [_P]),
    "bpf_program__attach_xdp": (_P, [_P, ctypes.c_int]),
    "bpf_link__update_program": (ctypes.c_int, [_P, _P]),
    "bpf_link__destroy": (ctypes.c_int, [_P]),
    "bpf_link__fd": (ctypes.c_int, [_P]),
    "bpf_link_create": (ctypes.c_int, [ctypes.c_int, ctypes.c_int, ctypes.c_int, _P]),
    "bpf_link_update": (ctypes.c_int, [ctypes.c_int, ctypes.c_int, _P]),
    "bpf_enable_stats": (ctypes.c_int, [ctypes.c_int]),
    "libbpf_set_print": (_P, [_P]),
    "libbpf_bpf_prog_type_str": (ctypes.c_char_p, [ctypes.c_int]),
}


@lru_cache(maxsize=1)
def library() -> ctypes.CDLL:
    """Load libbpf.so.1 once, with argument and return types declared; raise if it is missing."""
    candidates = []
    found = ctypes.util.find_library("bpf")
    if found and found.endswith(".so.1"):
        candidates.append(found)
    candidates.extend(_LIBRARY_PATHS)
    lib = None
    for name in candidates:
        try:
            lib = ctypes.CDLL(name, use_errno=True)
            break
        except OSError:
            continue
    if lib is None:
        raise BpfrewriteError(MISSING_MESSAGE)
    for fn_name, (restype, argtypes) in _SIGNATURES.items():
        try:
            fn = getattr(lib, fn_name)
        except AttributeError:
            raise BpfrewriteError(
                f"the libbpf.so.1 found lacks {fn_name}: libbpf 1.0 or newer is needed"
            ) from None
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.vsnprintf.restype = ctypes.c_int
    libc.vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]
    return libc


def prog_type_name(prog_type: int) -> str:
    """libbpf's short name for a program type ("xdp", "sched_cls", ...)."""
    name = library().libbpf_bpf_prog_type_str(prog_type)
    return name.decode() if name else f"prog type {prog_type}"


@contextmanager
def captured_messages(size: int = 4096) -> Iterator[list[str]]:
    """Route libbpf's warnings into a list instead of stderr while the block runs.

    A message longer than size bytes is truncated (a verifier log arrives as one message).
    """
    lib = library()
    libc = _libc()
    messages: list[str] = []

    def on_print(level: int, fmt: bytes, args: int) -> int:
        if level != LIBBPF_WARN:
            return 0
        buf = ctypes.create_string_buffer(size)
        # A va_list can be consumed once: a longer message is truncated, not re-formatted.
        libc.vsnprintf(buf, len(buf), fmt, args)
        messages.append(buf.value.decode("utf-8", "replace"))
        return 0

    callback = PRINT_FN(on_print)  # must stay referenced while libbpf may call it
    previous = lib.libbpf_set_print(ctypes.cast(callback, ctypes.c_void_p))
    try:
        yield messages
    finally:
        lib.libbpf_set_print(previous)


def _errno_error(action: str, err: int) -> BpfrewriteError:
    if err in (errno.EPERM, errno.EACCES):
        return BpfrewriteError(PERMISSION_MESSAGE)
    return BpfrewriteError(f"{action}: {os.strerror(err)}")


@dataclass
class Program:
    """One program of an open object; valid only while its BpfObject is open."""

    handle: int

    @property
    def name(self) -> str:
        """The program's (function) name."""
        return library().bpf_program__name(self.handle).decode(errors="replace")

    @property
    def section(self) -> str:
        """The ELF section the program lives in."""
        return library().bpf_program__section_name(self.handle).decode(errors="replace")

    @property
    def prog_type(self) -> int:
        """The enum bpf_prog_type libbpf derived from the section name."""
        return library().bpf_program__type(self.handle)

    def set_autoload(self, autoload: bool) -> None:
        """Choose whether bpf_object__load loads this program."""
        _check(library().bpf_program__set_autoload(self.handle, autoload), "set autoload")

    def set_log(self, buf: ctypes.Array, level: int) -> None:
        """Give the verifier a log buffer for this program; level 0 logs only on failure."""
        lib = library()
        address = ctypes.addressof(buf)
        _check(lib.bpf_program__set_log_buf(self.handle, address, len(buf)), "set log")
        _check(lib.bpf_program__set_log_level(self.handle, level), "set log level")

    @property
    def fd(self) -> int:
        """The loaded program's file descriptor (negative if it was not loaded)."""
        return library().bpf_program__fd(self.handle)


def _check(ret: int, action: str) -> None:
    if ret < 0:
        raise _errno_error(action, -ret)


class BpfObject:
    """An opened bpf_object; use as a context manager so bpf_object__close always runs."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        lib = library()
        ctypes.set_errno(0)
        handle = lib.bpf_object__open_file(os.fsencode(path), None)
        if not handle:
            err = ctypes.get_errno() or errno.EINVAL
            raise BpfrewriteError(f"{os.fspath(path)}: libbpf cannot open it: {os.strerror(err)}")
        self.handle: int | None = handle

    def __enter__(self) -> BpfObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the object: unloads its programs and frees its maps (idempotent)."""
        if self.handle:
            library().bpf_object__close(self.handle)
            self.handle = None

    def programs(self) -> list[Program]:
        """The object's programs, in libbpf's order (section order, then offset)."""
        lib = library()
        result = []
        prog = lib.bpf_object__next_program(self.handle, None)
        while prog:
            result.append(Program(prog))
            prog = lib.bpf_object__next_program(self.handle, prog)
        return result

    def find_program(self, name: str) -> Program | None:
        """The program called `name`, or None."""
        prog = library().bpf_object__find_program_by_name(self.handle, name.encode())
        return Program(prog) if prog else None

    def load(self) -> int:
        """bpf_object__load: 0 on success, else a positive errno (the caller reads the log)."""
        ctypes.set_errno(0)
        ret = library().bpf_object__load(self.handle)
        if ret >= 0:
            return 0
        return -ret


def prog_info(fd: int) -> ProgInfo:
    """bpf_prog_get_info_by_fd (bpf_obj_get_info_by_fd in libbpf 1.1) for the loaded program `fd`."""
    info = ProgInfo()
    length = ctypes.c_uint32(ctypes.sizeof(info))
    ret = library().bpf_obj_get_info_by_fd(fd, ctypes.addressof(info), ctypes.byref(length))
    if ret < 0:
        raise _errno_error("bpf_obj_get_info_by_fd", -ret)
    return info


def verified_insns(fd: int) -> int:
    """How many instructions the verifier processed for the loaded program `fd`."""
    return int(prog_info(fd).verified_insns)


def enable_run_time_stats() -> int:
    """BPF_ENABLE_STATS(BPF_STATS_RUN_TIME): an fd; the kernel counts run time while it is open.

    The kernel needs CAP_SYS_ADMIN for it (kernel/bpf/syscall.c, bpf_enable_stats). Unlike the
    kernel.bpf_stats_enabled sysctl, nothing stays changed once the fd is closed.
    """
    fd = library().bpf_enable_stats(STATS_RUN_TIME)
    if fd < 0:
        if -fd in (errno.EPERM, errno.EACCES):
            raise BpfrewriteError("turning on BPF run-time statistics needs root (CAP_SYS_ADMIN)")
        raise _errno_error("BPF_ENABLE_STATS", -fd)
    return fd


class Link:
    """An attachment: a libbpf struct bpf_link, or a bare BPF link fd from bpf_link_create.

    Destroying it (or the process exiting) detaches the program: none of these links is pinned.
    """

    def __init__(self, handle: int | None = None, fd: int | None = None) -> None:
        self.handle = handle
        self._fd = fd

    @property
    def fd(self) -> int:
        """The link's file descriptor."""
        if self.handle:
            return library().bpf_link__fd(self.handle)
        return -1 if self._fd is None else self._fd

    def update(self, program: Program) -> None:
        """BPF_LINK_UPDATE: the link runs `program` from the next invocation on (atomic)."""
        if self.handle:
            ret = library().bpf_link__update_program(self.handle, program.handle)
        else:
            ret = library().bpf_link_update(self.fd, program.fd, None)
        _check(ret, "bpf_link_update")

    def destroy(self) -> None:
        """Detach and free the link (idempotent)."""
        if self.handle:
            library().bpf_link__destroy(self.handle)
            self.handle = None
        elif self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _link_or_raise(handle: int | None, action: str) -> Link:
    if not handle:
        raise _errno_error(action, ctypes.get_errno() or errno.EINVAL)
    return Link(handle=handle)


def attach(program: Program) -> Link:
    """bpf_program__attach: libbpf's automatic attach, from the program's section name."""
    ctypes.set_errno(0)
    return _link_or_raise(library().bpf_program__attach(program.handle), f"attach {program.name}")


def attach_xdp(program: Program, ifindex: int) -> Link:
    """bpf_program__attach_xdp: an XDP link on interface `ifindex` (BPF_LINK_CREATE)."""
    ctypes.set_errno(0)
    handle = library().bpf_program__attach_xdp(program.handle, ifindex)
    return _link_or_raise(handle, f"attach {program.name} (XDP)")


def attach_tcx_ingress(program: Program, ifindex: int) -> Link:
    """A tcx ingress link on `ifindex` through bpf_link_create (libbpf 1.1 has no attach_tcx)."""
    fd = library().bpf_link_create(program.fd, ifindex, ATTACH_TCX_INGRESS, None)
    if fd < 0:
        raise _errno_error(f"attach {program.name} (tcx ingress)", -fd)
    return Link(fd=fd)


@dataclass(frozen=True)
class RunResult:
    """What BPF_PROG_TEST_RUN reported."""

    retval: int
    duration_ns: int | None


def run_program(fd: int, data: bytes | None, ctx: bytes | None, repeat: int) -> RunResult:
    """Run a loaded program once per `repeat` on `data`/`ctx`; raise OSError on failure."""
    opts = TestRunOpts()
    opts.sz = ctypes.sizeof(opts)
    keep = []
    if data is not None:
        data_buf = ctypes.create_string_buffer(data, len(data))
        keep.append(data_buf)
        opts.data_in = ctypes.addressof(data_buf)
        opts.data_size_in = len(data)
    if ctx is not None:
        ctx_buf = ctypes.create_string_buffer(ctx, len(ctx))
        keep.append(ctx_buf)
        opts.ctx_in = ctypes.addressof(ctx_buf)
        opts.ctx_size_in = len(ctx)
    opts.repeat = repeat
    ret = library().bpf_prog_test_run_opts(fd, ctypes.byref(opts))
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret))
    # raw_tp and syscall runs take repeat=0 and report no duration.
    retval = ctypes.c_int32(opts.retval).value  # tc actions are signed (TC_ACT_UNSPEC is -1)
    return RunResult(retval=retval, duration_ns=opts.duration if repeat else None)


# r0 = 0; exit  (struct bpf_insn: code, dst|src<<4, off, imm)
_RETURN_ZERO = bytes.fromhex("b700000000000000" "9500000000000000")


def probe_load() -> str | None:
    """Try loading `r0 = 0; exit` as an XDP program; None if bpf() works here, else why not."""
    try:
        lib = library()
    except BpfrewriteError as exc:
        return str(exc)
    insns = ctypes.create_string_buffer(_RETURN_ZERO, len(_RETURN_ZERO))
    with captured_messages():
        fd = lib.bpf_prog_load(
            PROG_TYPE_XDP, b"probe", b"GPL", ctypes.addressof(insns), len(_RETURN_ZERO) // 8, None
        )
    if fd >= 0:
        os.close(fd)
        return None
    if -fd in (errno.EPERM, errno.EACCES):
        return PERMISSION_MESSAGE
    return f"loading a trivial BPF program failed: {os.strerror(-fd)}"
