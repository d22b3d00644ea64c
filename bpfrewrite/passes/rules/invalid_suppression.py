'''A suppression comment naming a rule that does not exist.

## What it does
Reports every `bpfrewrite: ignore[...]` comment (read from BTF line info, like all
suppressions) that names a slug no rule has, at the comment.

## Why it matters
A misspelt slug silences nothing, and nothing else would tell you: the finding you meant to
silence stays, or worse, the comment sits there looking like a reviewed exception while the
rule it meant is still active on the next change.

## Example
```c
bpf_spin_lock(&c->lock); // bpfrewrite: ignore[spin-lock-not-terminabel]
```

## How to fix
Spell the slug as `bpfrewrite lint --list-rules` prints it, or remove the comment.
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.diagnostics.suppression import ALL
from bpfrewrite.passes.analysis.suppressions import suppression_comments
from bpfrewrite.passes.rule import Rule


class InvalidSuppression(Rule):
    __doc__ = __doc__

    slug = "invalid-suppression"
    severity = Severity.WARNING
    requires = frozenset({"source-positions"})  # positions come from line info, as every rule's

    def check(self, obj, am) -> list[Diagnostic]:
        """A diagnostic at each suppression comment naming unknown slugs."""
        out = []
        for comment in suppression_comments(obj, am):
            if comment.slugs is ALL:
                continue
            unknown = sorted(s for s in comment.slugs if s not in self.rules and s != "*")
            if unknown:
                out.append(self.at_comment(
                    am, comment,
                    f"unknown rule {', '.join(unknown)} in a suppression comment; use a slug from --list-rules",
                    "a misspelt slug silences nothing",
                ))
        return out
