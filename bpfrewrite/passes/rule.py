"""What every lint rule is: a slug, a default severity, a docstring in fixed sections, and check()."""
from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity, at_insn

if TYPE_CHECKING:
    from bpfrewrite.config import LintConfig
    from bpfrewrite.model import Function, Object
    from bpfrewrite.passes.analysis.calls import Call
    from bpfrewrite.passes.analysis.suppressions import Comment
    from bpfrewrite.passes.manager import AnalysisManager

# The docstring sections every rule has, in this order (ruff's layout).
SECTIONS = ("What it does", "Why it matters", "Example", "How to fix")
# Sections a rule's docstring may add after the fixed ones, in this order.
OPTIONAL_SECTIONS = ("Options", "What changed")
_HEADING = re.compile(r"^## (.+?)\s*$", re.M)


class Rule:
    """Base class of lint rules; subclasses set slug and severity and implement check()."""

    slug: ClassVar[str] = ""
    severity: ClassVar[Severity] = Severity.WARNING
    default_enabled: ClassVar[bool] = True  # False: runs only when named in select / extend-select
    requires: ClassVar[frozenset] = frozenset()  # analysis names check() asks am.get for (at() needs "source-positions")

    def __init__(self, config: "LintConfig | None" = None, rules: "Mapping[str, type[Rule]] | None" = None):
        from bpfrewrite.config import LintConfig

        self.config = config if config is not None else LintConfig()
        # Every rule of the run, slug -> class, from whoever builds the rule (bpfrewrite.lint.registry):
        # the rules about suppressions read it, and importing the table here would be a cycle.
        self._rules = rules

    @property
    def rules(self) -> "Mapping[str, type[Rule]]":
        """The table of every rule of this run (slug -> class), as the rule was built with."""
        if self._rules is None:
            from bpfrewrite.passes.manager import PassError

            raise PassError(f"{self.slug} needs the table of rules: build it with bpfrewrite.lint.registry.make_rule")
        return self._rules

    def check(self, obj: "Object", am: "AnalysisManager") -> list[Diagnostic]:
        """Every finding of this rule in obj, at the rule's default severity."""
        raise NotImplementedError

    # ----- helpers for subclasses ----------------------------------------------------------
    def at(self, am: "AnalysisManager", func: "Function", index: int, message: str, help: str | None = None) -> Diagnostic:
        """A diagnostic of this rule at func's index-th instruction, positioned from line info."""
        from bpfrewrite.passes.analysis.positions import SourcePositions

        slots, positions = am.get(SourcePositions, func)
        return at_insn(am.obj, func, index, self.slug, self.severity, message, help, positions, slots)

    def at_call(self, am: "AnalysisManager", call: "Call", message: str, help: str | None = None) -> Diagnostic:
        """A diagnostic of this rule at a helper or kfunc call."""
        return self.at(am, call.func, call.index, message, help)

    def at_comment(self, am: "AnalysisManager", comment: "Comment", message: str, help: str | None = None) -> Diagnostic:
        """A diagnostic of this rule at a suppression comment: its line, and its column when line info agrees."""
        d = self.at(am, comment.func, comment.index, message, help)
        return replace(d, line=comment.line, column=comment.column) if d.line == comment.line else d

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


def run_rules(rules: Iterable[Rule], obj: "Object", am: "AnalysisManager") -> list[Diagnostic]:
    """The findings of rules on obj, each rule running under am (debug mode checks its gets), except
    those in twins: a twin is derived code, its findings are its original's (reported once, there)."""
    from bpfrewrite.twins import twin_names

    diags: list[Diagnostic] = []
    for rule in rules:
        with am.running(rule):
            diags.extend(rule.check(obj, am))
    twins = twin_names(obj)
    return [d for d in diags if d.function not in twins]
