"""Durations on the command line: a number and a unit ("200us", "100ms", "1.5s")."""
from __future__ import annotations

import re

from bpfrewrite.errors import BpfrewriteError

_UNITS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9}
_DURATION = re.compile(r"^\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ns|us|ms|s|m)\s*$")


def parse_duration(text: str, option: str) -> int:
    """`text` in nanoseconds; raise BpfrewriteError naming `option` unless it is a positive duration."""
    m = _DURATION.match(text)
    if not m:
        raise BpfrewriteError(
            f"{option} {text!r} is not a duration: use a number and a unit (ns, us, ms, s, m), e.g. 200us"
        )
    ns = round(float(m["value"]) * _UNITS[m["unit"]])
    if ns <= 0:
        raise BpfrewriteError(f"{option} must be more than zero, not {text!r}")
    return ns

