"""The kernel version each helper and kfunc appeared in (versions.json, with a source per entry),
and the kernel a lint run targets.

versions.json is written by tools/gen_kernel_versions.py; names match the knowledge table's.
"""
from __future__ import annotations

import functools
import json
import platform
import re
from importlib import resources

from bpfrewrite.errors import BpfrewriteError

Version = tuple[int, int]
_VERSION = re.compile(r"^(\d+)\.(\d+)")


def parse_version(text: str, where: str = "--target-kernel") -> Version:
    """(major, minor) from `X.Y` (a release string such as 6.18.0-1-amd64 also reads as 6.18)."""
    m = _VERSION.match(str(text).strip())
    if m is None:
        raise BpfrewriteError(f"{where}: expected a kernel version such as 6.15, got {text!r}")
    return int(m[1]), int(m[2])


def text(version: Version) -> str:
    """`X.Y`."""
    return f"{version[0]}.{version[1]}"


@functools.cache
def _since() -> dict[str, Version | None]:
    raw = json.loads((resources.files("bpfrewrite.kernel") / "versions.json").read_text("utf-8"))
    if raw.get("schema") != 1 or raw.get("kind") != "since" or not isinstance(raw.get("entries"), list):
        raise BpfrewriteError("bpfrewrite/kernel/versions.json: expected schema 1, kind 'since', entries")
    out: dict[str, Version | None] = {}
    for e in raw["entries"]:
        if set(e) != {"name", "since", "source"} or not e["source"]:
            raise BpfrewriteError(f"bpfrewrite/kernel/versions.json: bad entry {e!r}")
        out[e["name"]] = None if e["since"] is None else parse_version(e["since"], "versions.json")
    return out


def since(name: str) -> Version | None:
    """The kernel version the helper or kfunc called name appeared in; None when not recorded."""
    return _since().get(name)


def newest_known() -> Version:
    """The newest version the table dates anything to."""
    return max(v for v in _since().values() if v is not None)


def running_kernel() -> Version | None:
    """The running kernel's version, when it can be read."""
    try:
        return parse_version(platform.release())
    except BpfrewriteError:
        return None


def default_target() -> Version:
    """The running kernel, else the newest version the table knows."""
    return running_kernel() or newest_known()


def available(name: str, target: Version) -> bool:
    """Can a program built for target call name? (undated entries count as available)"""
    v = since(name)
    return v is None or v <= target
