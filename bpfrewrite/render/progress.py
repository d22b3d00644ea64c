"""A one-line progress bar for a terminal: each step redraws the line, the end blanks it."""
from __future__ import annotations

_WIDTH = 30
# Wide enough to cover the longest bar drawn ("linting [" + 30 + "] " + counts).
CLEAR = "\r" + " " * 60 + "\r"


def bar(what: str, count: int, total: int) -> str:
    """The line after count of total steps, as `\\rlinting [#####.....] 3/8` (no newline)."""
    filled = _WIDTH * count // total
    return f"\r{what} [{'#' * filled}{'.' * (_WIDTH - filled)}] {count}/{total}"
