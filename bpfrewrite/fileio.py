"""Writing output files so that a failure never leaves a half-written file behind."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bpfrewrite.errors import BpfrewriteError


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write data to path through a temporary file in the same directory, then a rename."""
    target = Path(path)
    if target.is_dir():
        raise BpfrewriteError(f"{target}: is a directory; give the output file's path")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise BpfrewriteError(f"{target}: cannot write there: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 less umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise BpfrewriteError(f"{target}: cannot write: {exc.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
