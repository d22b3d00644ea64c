"""Plain-text layout the text renderers share: tables of aligned columns, counted nouns, durations in words."""
from __future__ import annotations

from typing import Sequence


def columns(rows: Sequence[Sequence[str]], left: int) -> list[str]:
    """Rows as lines two spaces apart: the first `left` columns left-aligned, the figures after them
    right-aligned, no trailing blanks."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]


def count(n: int, word: str) -> str:
    """n and word, plural unless n is 1: `1 twin`, `0 twins`, `3 errors`."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_ns(ns: float | None) -> str:
    """A duration in ns as a short human string ("52 ns", "10.4 ms"); "-" when unknown."""
    if ns is None:
        return "-"
    for unit, scale in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if ns >= scale:
            return f"{ns / scale:.1f} {unit}"
    return f"{ns:.0f} ns"
