"""Reading inputs safely (never blocking, bounded in size) and writing outputs so that a failure
or a signal never leaves a half-written or temporary file behind."""
from __future__ import annotations

import os
import signal
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bpfrewrite.errors import BpfrewriteError

# The largest input read into memory (documented in README.md). Real objects, even one
# 80,000-instruction function with DWARF, are a few MB; past this it is not a BPF object.
MAX_INPUT_BYTES = 256 << 20

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words ("a FIFO", "a directory", ...)."""
    return next((word for test, word in _KINDS if test(mode)), "not a regular file")


def check_input(path: str | os.PathLike, what: str = "a file") -> os.stat_result:
    """The stat of path if it is a regular file within MAX_INPUT_BYTES; else one clear user error.

    Runs before anything opens path: opening a FIFO blocks until a writer comes, and a device
    such as /dev/zero never ends.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise BpfrewriteError(f"{path}: no such file") from None
    except OSError as exc:
        raise BpfrewriteError(f"{path}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise BpfrewriteError(f"{path}: is {kind_of(st.st_mode)}, expected {what}")
    if st.st_size > MAX_INPUT_BYTES:
        raise BpfrewriteError(f"{path}: {st.st_size} bytes, more than the {MAX_INPUT_BYTES >> 20} MiB input limit")
    return st


def read_input(path: str | os.PathLike, what: str = "a file") -> bytes:
    """The bytes of a regular input file, checked by check_input, without ever blocking on open."""
    check_input(path, what)
    try:
        # O_NONBLOCK: if path became a FIFO since the check, open returns at once (and fstat tells).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise BpfrewriteError(f"{path}: cannot read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_INPUT_BYTES:
            raise BpfrewriteError(f"{path}: changed while being read; expected {what}")
        try:
            return f.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise BpfrewriteError(f"{path}: cannot read: {exc.strerror}") from None


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP until the block ends, so a file made in it is always recorded."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write data to path through a temporary file in the same directory, then a rename.

    A symlink is followed (the file it points at is replaced, the link stays); a path that
    exists but is not a regular file (a device, a FIFO, a directory) is refused, since renaming
    over it would replace the node itself; an existing file keeps its permission bits.
    """
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise BpfrewriteError(f"{path}: is a directory; give the output file's path")
    mode = None
    if target.exists():
        st = target.stat()
        if not stat.S_ISREG(st.st_mode):
            raise BpfrewriteError(f"{path}: not a regular file; give a file path to write")
        mode = stat.S_IMODE(st.st_mode)
    tmp = None
    try:
        # A signal (the CLI turns SIGTERM/SIGHUP/SIGINT into an exception) cannot fall between
        # creating the file and naming it in `tmp`, so the handler below always removes it.
        with signals_deferred():
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:  # the rename needs a temporary file beside the target
        where = "no such directory" if not target.parent.is_dir() else f"cannot create a file in {target.parent}"
        raise BpfrewriteError(f"{path}: {where} ({exc.strerror})") from None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if mode is None:  # mkstemp creates 0600; a new file gets what open() would (0666 less umask)
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise BpfrewriteError(f"{target}: cannot write: {exc.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
