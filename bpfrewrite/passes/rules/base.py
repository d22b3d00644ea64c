"""What every lint rule is: a slug, a default severity, a docstring in fixed sections, and check()."""
from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING, ClassVar

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity, at_insn

if TYPE_CHECKING:
    from bpfrewrite.model import Function, Object
    from bpfrewrite.passes.manager import AnalysisManager
    from bpfrewrite.passes.rules.config import LintConfig

# The docstring sections every rule has, in this order (ruff's layout).
SECTIONS = ("What it does", "Why it matters", "Example", "How to fix")
_HEADING = re.compile(r"^## (.+?)\s*$", re.M)


class Rule:
    """Base class of lint rules; subclasses set slug and severity and implement check()."""

    slug: ClassVar[str] = ""
    severity: ClassVar[Severity] = Severity.WARNING
    default_enabled: ClassVar[bool] = True  # False: runs only when named in select / extend-select
    requires: ClassVar[frozenset] = frozenset()  # analysis names check() asks am.get for (at() needs "source-positions")

    def __init__(self, config: "LintConfig | None" = None):
        from bpfrewrite.passes.rules.config import LintConfig

        self.config = config if config is not None else LintConfig()

    def check(self, obj: "Object", am: "AnalysisManager") -> list[Diagnostic]:
        """Every finding of this rule in obj, at the rule's default severity."""
        raise NotImplementedError

    # ----- helpers for subclasses ----------------------------------------------------------
    def at(self, am: "AnalysisManager", func: "Function", index: int, message: str, help: str | None = None) -> Diagnostic:
        """A diagnostic of this rule at func's index-th instruction, positioned from line info."""
        from bpfrewrite.passes.rules.positions import SourcePositions

        slots, positions = am.get(SourcePositions, func)
        return at_insn(am.obj, func, index, self.slug, self.severity, message, help, positions, slots)

    # ----- documentation -------------------------------------------------------------------
    @classmethod
    def summary(cls) -> str:
        """The docstring's first line."""
        return inspect.cleandoc(cls.__doc__ or "").splitlines()[0].strip() if cls.__doc__ else ""

    @classmethod
    def sections(cls) -> dict[str, str]:
        """The docstring's sections by heading (text without the heading line)."""
        doc = inspect.cleandoc(cls.__doc__ or "")
        heads = list(_HEADING.finditer(doc))
        out: dict[str, str] = {}
        for i, head in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(doc)
            out[head.group(1)] = doc[head.end() : end].strip()
        return out


def unwrap(text: str) -> str:
    """text with the line breaks inside each paragraph removed (paragraphs stay apart, by a blank
    line); SARIF viewers wrap text themselves."""
    paragraphs = [" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


def plain(markdown: str) -> str:
    """Markdown text flattened for SARIF's plain-text fields (code fences and backticks removed)."""
    lines = [line for line in markdown.splitlines() if not line.startswith("```")]
    return re.sub(r"`([^`]*)`", r"\1", "\n".join(lines)).strip()
