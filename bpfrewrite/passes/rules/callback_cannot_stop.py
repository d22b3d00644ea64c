'''A callback of an iterating helper whose return value cannot be forced to 1 in place.

## What it does
For every callback passed to a helper the knowledge table marks `iterate` (`bpf_loop`,
`bpf_for_each_map_elem`, `bpf_user_ringbuf_drain`, ...), looks at each instruction that sets
r0 for an `exit`. It reports the callback when such an instruction cannot simply be replaced
by `r0 = 1`: the value it computes is also used for something other than being returned, it is
a call the twin keeps or an atomic that changes memory, it loads an address, or some path
reaches `exit` without setting r0 at all. It reads the same plan (`bpfrewrite/passes/analysis/fastpath_plan.py`)
that `bpfrewrite patch` applies, so what it reports is exactly what the twin cannot do.

## Why it matters
These helpers stop iterating when the callback returns 1. The cheapest way for a fast-path twin
to end the loop early is to rewrite, in place and without moving any instruction, every
definition of the callback's return value into `r0 = 1` (the verifier accepts this; a program
doing 2^20 bpf_loop iterations went from 10 ms to 52 ns). That rewrite is only correct when the
rewritten instruction did nothing but produce the return value.

## Example
```c
static long step(__u32 i, void *ctx)
{
	__u64 *slot = ctx;
	long v = *slot & 1;

	*slot = v + i;      /* v is used here ... */
	return v;           /* ... and returned */
}
```

## How to fix
Return a constant, or compute the returned value separately from values used elsewhere, so
that the instruction setting r0 for `exit` only sets r0:
```c
	*slot = (*slot & 1) + i;
	return 0;
```

## What changed
A definition that is already `r0 = 1` is no longer reported when the compiler also uses that
register for something else (`data->resolved = true; return 1;` stores the same 1): the twin
leaves it as it is. Fixture: `testdata/lint/src/callback_ret1_reused.bpf.c`.
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.passes.analysis.fastpath_plan import FastPathPlan
from bpfrewrite.passes.rule import Rule
from bpfrewrite.passes.analysis.positions import where


class CallbackCannotStop(Rule):
    __doc__ = __doc__

    slug = "callback-cannot-stop"
    severity = Severity.ERROR
    requires = frozenset({"fastpath-plan", "source-positions"})

    def check(self, obj, am) -> list[Diagnostic]:
        """A diagnostic per blocked return of each iterating helper's callback (the plan `patch` applies)."""
        out = []
        for func in obj.functions:
            plan = am.get(FastPathPlan, func)
            for ret in plan.returns:
                if ret.blocker is None:
                    continue
                why = ret.blocker + (f" at {where(am, func, ret.used_at)}" if ret.used_at is not None else "")
                out.append(
                    self.at(
                        am,
                        func,
                        ret.index,
                        f"callback {func.name} of {plan.iterated_by} cannot be made to return 1 in place ({why});"
                        f" return a constant, or a value computed only to be returned",
                        help="the twin rewrites the instruction setting r0 for exit into `r0 = 1`",
                    )
                )
        return out
