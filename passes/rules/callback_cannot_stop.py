'''A callback of an iterating helper whose return value cannot be forced to 1 in place.

## What it does
For every callback passed to a helper the knowledge table marks `iterate` (`bpf_loop`,
`bpf_for_each_map_elem`, `bpf_user_ringbuf_drain`, ...), looks at each instruction that sets
r0 for an `exit`. It reports the callback when such an instruction cannot simply be replaced
by `r0 = 1`: the value it computes is also used for something other than being returned, it is
a two-slot `ld_imm64`, or some path reaches `exit` without setting r0 at all.

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
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.kernel.table import Role
from passes.analysis.dataflow import ENTRY, Dataflow
from passes.rules.base import Rule
from passes.rules.calls import callback_target, calls_with_role
from passes.rules.positions import where


def blockers(am, func, flow) -> list[tuple[int, str]]:
    """(instruction index, why) for each reason r0 cannot be forced to 1 in place in func."""
    insns = func.insns
    out: dict[int, str] = {}
    for exit_index, defs in sorted(flow.exit_r0_defs().items()):
        for d in sorted(defs):
            if d == ENTRY:
                out.setdefault(exit_index, "r0 is not set on some path to this exit")
                continue
            if insns[d].width != 1:
                out.setdefault(d, "the return value is loaded by a two-slot ld_imm64")
                continue
            others = [u for u in flow.uses_of(d, 0) if not insns[u].is_exit]
            if others:
                out.setdefault(d, f"the returned value is also used at {where(am, func, others[0])}")
    return sorted(out.items())


class CallbackCannotStop(Rule):
    __doc__ = __doc__

    slug = "callback-cannot-stop"
    severity = Severity.ERROR

    def check(self, obj, am) -> list[Diagnostic]:
        """A diagnostic per blocking instruction of each iterating helper's callback."""
        out = []
        seen = set()
        for call in calls_with_role(am, Role.ITERATE):
            target = callback_target(am, call)
            if target is None or id(target) in seen:
                continue
            seen.add(id(target))
            flow = am.get(Dataflow, target)
            for index, why in blockers(am, target, flow):
                out.append(
                    self.at(
                        am,
                        target,
                        index,
                        f"callback {target.name} of {call.entry.name} cannot be made to return 1 in place: {why}",
                        help="return a constant, or a value computed only to be returned",
                    )
                )
        return out
