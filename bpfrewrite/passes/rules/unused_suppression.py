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

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity, display_path
from bpfrewrite.diagnostics.suppression import ALL
from bpfrewrite.passes.analysis.suppressions import suppression_comments
from bpfrewrite.passes.rule import Rule, run_rules


class UnusedSuppression(Rule):
    __doc__ = __doc__

    slug = "unused-suppression"
    severity = Severity.WARNING
    default_enabled = False
    requires = frozenset({"source-positions"})  # positions come from line info, as every rule's

    def check(self, obj, am) -> list[Diagnostic]:
        """A diagnostic at each suppression that none of the other rules' findings on its line match."""
        comments = suppression_comments(obj, am)
        if not comments:
            return []
        # Every other rule, selected or not (analyses are cached by am), as the runner runs them.
        others = (cls(self.config, self.rules) for cls in self.rules.values() if cls is not type(self))
        raw = run_rules(others, obj, am)
        fired: dict[tuple[str, int], set[str]] = {}
        for d in raw:
            if d.file is not None and d.line:
                fired.setdefault((d.file, d.line), set()).add(d.rule)
        out = []
        for c in comments:
            rules = fired.get((display_path(c.file), c.line), set())
            if c.slugs is ALL or "*" in c.slugs:
                unused = [] if rules else ["every rule"]
            else:  # unknown slugs are invalid-suppression's
                unused = sorted(s for s in c.slugs if s in self.rules and s not in rules)
            if unused:
                out.append(self.at_comment(
                    am, c,
                    f"suppression of {', '.join(unused)} silences nothing on this line; remove it",
                    "a suppression that matches nothing hides the next real finding on the line",
                ))
        return out
