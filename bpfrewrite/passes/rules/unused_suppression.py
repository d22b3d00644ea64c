'''A suppression comment that silences nothing (off unless selected, as ruff's unused-noqa).

## What it does
When selected (`--select unused-suppression`, `--extend-select unused-suppression`, or
`extend-select = ["unused-suppression"]` in `[tool.bpfrewrite]`), reports each
`bpfrewrite: ignore[...]` comment, or each slug in it, for which no rule reported anything on
that line. Every rule runs to decide this, whatever else is selected; only the findings of the
selected rules are printed.

## Why it matters
Code changes; a suppression that once silenced a real finding can outlive it and then hide the
next, unrelated finding of the same rule on that line.

## Example
```c
bpf_spin_unlock(&c->lock); // bpfrewrite: ignore[loop-without-exit]   (no loop here)
```

## How to fix
Remove the comment, or the slugs in it that match nothing.
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.passes.rules.base import Rule


class UnusedSuppression(Rule):
    __doc__ = __doc__

    slug = "unused-suppression"
    severity = Severity.WARNING
    default_enabled = False
    requires = frozenset({"source-positions"})  # positions come from line info, as every rule's

    def check(self, obj, am) -> list[Diagnostic]:
        """A diagnostic at each suppression that none of the other rules' findings on its line match."""
        from bpfrewrite.passes.rules.registry import RULES
        from bpfrewrite.passes.rules.suppressions import suppression_comments, unused_suppressions
        from bpfrewrite.twins import twin_names

        comments = suppression_comments(obj, am)
        if not comments:
            return []
        raw: list[Diagnostic] = []
        for slug, cls in RULES.items():  # every rule, selected or not: analyses are cached by am
            if cls is not type(self):
                rule = cls(self.config)
                with am.running(rule):
                    raw.extend(rule.check(obj, am))
        twins = twin_names(obj)
        raw = [d for d in raw if d.function not in twins]
        return unused_suppressions(am, comments, raw, self.slug, self.severity, set(RULES))
