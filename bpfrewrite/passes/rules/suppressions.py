"""The `bpfrewrite: ignore` comments of an object, read from BTF line info, where each comment is."""
from __future__ import annotations

from dataclasses import dataclass, replace

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity, at_insn
from bpfrewrite.diagnostics.suppression import ALL, IGNORE, ignored_rules


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
    from bpfrewrite.passes.rules.positions import SourcePositions

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


def comment_diagnostic(am, comment: Comment, slug: str, severity: Severity, message: str, help: str) -> Diagnostic:
    """A diagnostic pointing at the comment itself."""
    from bpfrewrite.passes.rules.positions import SourcePositions

    slots, positions = am.get(SourcePositions, comment.func)
    d = at_insn(am.obj, comment.func, comment.index, slug, severity, message, help, positions, slots)
    return replace(d, line=comment.line, column=comment.column) if d.line == comment.line else d


def unused_suppressions(am, comments: list[Comment], raw: list[Diagnostic], slug: str,
                        severity: Severity, known: set[str]) -> list[Diagnostic]:
    """A diagnostic for each comment (or known slug in it) that silenced none of the raw diagnostics
    (unknown slugs are invalid-suppression's)."""
    fired: dict[tuple[str, int], set[str]] = {}
    for d in raw:
        if d.file is not None and d.line:
            fired.setdefault((d.file, d.line), set()).add(d.rule)
    from bpfrewrite.diagnostics.diagnostic import display_path

    out = []
    for c in comments:
        rules = fired.get((display_path(c.file), c.line), set())
        if c.slugs is ALL or "*" in c.slugs:
            unused = [] if rules else ["every rule"]
        else:
            unused = sorted(s for s in c.slugs if s in known and s not in rules)
        if unused:
            out.append(comment_diagnostic(
                am, c, slug, severity,
                f"suppression of {', '.join(unused)} silences nothing on this line; remove it",
                "a suppression that matches nothing hides the next real finding on the line",
            ))
    return out
