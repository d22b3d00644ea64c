'''A call the twin keeps: a terminating program still runs it.

## What it does
Reports, as information, every helper or kfunc call the fast-path twin keeps, with the reason:
the knowledge table's `fast_path: keep` entries, pointer-returning calls whose result is not
tested for NULL on every path in the calling function (the verifier may know it is non-NULL, as
for an array lookup with a constant key, and then rejects `r0 = 0`), and calls the table does
not know. It reads the plan `bpfrewrite patch` applies
(`bpfrewrite/passes/analysis/fastpath_plan.py`).

## Why it matters
A fast-path twin leaves early by replacing calls with their failure value. Calls it must keep
(releases, unlocks, calls whose result the verifier trusts to be non-NULL, calls that fill a
buffer the verifier then treats as written) still run after termination is requested, so they
make up the cost of terminating. Knowing them tells you what a terminating run still does.

## Example
```c
e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);  /* stubbed: r0 = 0 */
if (!e)
	return 0;
bpf_ringbuf_submit(e, 0);                     /* kept: releases the reservation */
```

## How to fix
Nothing is wrong; this is information. Prefer calls the twin can stub on hot paths, or
select the rule out (`--ignore fast-path-keeps-helper`) when you do not need the list.

## What changed
The message quotes the first sentence of the reason, without the "Kept:" prefix and without
notes on where a fact was measured (those are in docs/helper-table.md). Like every info, it is
hidden unless `--show-infos` (or `show-infos = true`) is given, and dropped where another rule
reports a warning or an error at the same instruction.
'''
from __future__ import annotations

import re

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.passes.analysis.fastpath_plan import FastPathPlan
from bpfrewrite.passes.rule import Rule


def short_reason(reason: str) -> str:
    """The first sentence of a table reason, without a leading "Kept:" (the message says so) and
    without parenthesised notes (where a fact was measured belongs in the docs)."""
    text = re.sub(r"\s*\([^()]*\)", "", reason.removeprefix("Kept:").strip())
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0].rstrip(".")
    first = re.sub(r":\s*kept$", "", first)
    return first[:1].lower() + first[1:] if first[1:2].islower() else first


class FastPathKeepsHelper(Rule):
    __doc__ = __doc__

    slug = "fast-path-keeps-helper"
    severity = Severity.INFO
    requires = frozenset({"fastpath-plan", "source-positions"})

    def check(self, obj, am) -> list[Diagnostic]:
        """An info diagnostic at each call the twin keeps (the plan `patch` applies)."""
        return [
            self.at(am, func, call.index, f"the twin still calls {call.callee}: {short_reason(call.reason)}")
            for func in obj.functions
            for call in am.get(FastPathPlan, func).calls
            if call.action == "keep"
        ]
