"""Writing output files so that a failure never leaves a half-written file behind."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from bpfrewrite.errors import BpfrewriteError


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
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:  # the rename needs a temporary file beside the target
        where = "no such directory" if not target.parent.is_dir() else f"cannot create a file in {target.parent}"
        raise BpfrewriteError(f"{path}: {where} ({exc.strerror})") from None
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
