"""The `bpfrewrite: ignore` comments of an object, read from BTF line info, where each comment is."""
from __future__ import annotations

from dataclasses import dataclass

from bpfrewrite.diagnostics.suppression import IGNORE, ignored_rules
from bpfrewrite.passes.analysis.positions import SourcePositions


@dataclass(frozen=True)
class Comment:
    """One source line carrying suppression comments, and the first instruction of that line."""

    file: str
    line: int
    column: int  # 1-based, where `bpfrewrite:` starts
    slugs: frozenset[str]  # ALL for a bare `ignore`
    func: object
    index: int


def suppression_comments(obj, am) -> list[Comment]:
    """Every source line of obj (per file and line) whose text holds a suppression comment."""
    out: dict[tuple[str, int], Comment] = {}
    for func in obj.functions:
        for index, pos in enumerate(am.get(SourcePositions, func)[1]):
            if pos is None or not pos.text or (pos.file, pos.line) in out:
                continue
            match = IGNORE.search(pos.text)
            if match is None:
                continue
            out[(pos.file, pos.line)] = Comment(pos.file, pos.line, match.start() + 1, ignored_rules(pos.text),
                                                func, index)
    return [out[k] for k in sorted(out)]

