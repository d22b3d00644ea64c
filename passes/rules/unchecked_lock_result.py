'''A lock that can fail, entered without testing whether it was taken.

## What it does
Reports a call of a lock whose result the knowledge table says is an `int` (such as
`bpf_res_spin_lock`) when, on some path from the call, the result is not tested by a
conditional jump before it is used, lost, or the lock is released.

## Why it matters
A fast-path twin ends a program early by making such a lock fail (it returns -ETIMEDOUT in
place of the call). That is safe only if the program tests the result and skips the critical
section when the lock was not taken. Without the test the twin would run the critical section
unlocked and then "unlock" a lock it does not hold; the kernel verifier rejects such programs
as well.

## Example
```c
bpf_res_spin_lock(&val->lock);
val->count++;
bpf_res_spin_unlock(&val->lock);
```

## How to fix
Test the result and leave when it is non-zero:
```c
if (bpf_res_spin_lock(&val->lock))
	return 0;
val->count++;
bpf_res_spin_unlock(&val->lock);
```
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.kernel.table import Returns, Role
from passes.analysis.dataflow import Dataflow
from passes.rules.base import Rule
from passes.rules.calls import calls_with_role, known_calls
from passes.rules.positions import where


class UncheckedLockResult(Rule):
    __doc__ = __doc__

    slug = "unchecked-lock-result"
    severity = Severity.ERROR
    requires = frozenset({"known-calls", "dataflow", "source-positions"})

    def check(self, obj, am) -> list[Diagnostic]:
        """A diagnostic at each checked-lock call whose result some path leaves untested."""
        out = []
        for call in calls_with_role(am, Role.LOCK):
            if call.entry.returns != Returns.INT:
                continue
            flow = am.get(Dataflow, call.func)
            at = flow.first_untested_use(call.index)
            if at is None:
                # The value may be tested, yet an unlock reached first on another path still counts.
                at = next(
                    (
                        u.index
                        for u in known_calls(am)
                        if u.func is call.func and Role.UNLOCK in u.entry.roles
                        and not flow.result_tested(call.index, u.index)
                    ),
                    None,
                )
            if at is None:
                continue
            out.append(
                self.at(
                    am,
                    call.func,
                    call.index,
                    f"result of {call.entry.name} is not tested before the critical section"
                    f" (untested at {where(am, call.func, at)})",
                    help=f"skip the critical section when {call.entry.name} returns non-zero",
                )
            )
        return out
