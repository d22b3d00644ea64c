'''A lock that can fail, entered without testing whether it was taken.

## What it does
Reports a call of a lock whose result the knowledge table says is an `int` (such as
`bpf_res_spin_lock`) when, on some path from the call, the result is not tested by a
conditional jump before it is used, lost, or the lock is released. It also reports, at the
access, every load or store through a pointer into the locked object (derived from the lock's
argument by moves, offsets and spills) that some path reaches after the call and before the
result is tested: the critical section running whether or not the lock was taken. The
verifier accepts that second kind of program.

## Why it matters
A fast-path twin ends a program early by making such a lock fail (it returns -ETIMEDOUT in
place of the call). That is safe only if the program tests the result and skips the critical
section when the lock was not taken. Without the test the twin would run the critical section
unlocked and then "unlock" a lock it does not hold; the kernel verifier rejects such programs
as well.

## Example
```c
ret = bpf_res_spin_lock(&h->lock);
h->slots[idx]++;        /* written whether or not the lock was taken */
if (!ret)
	bpf_res_spin_unlock(&h->lock);
```

## How to fix
Test the result and leave when it is non-zero:
```c
if (bpf_res_spin_lock(&val->lock))
	return 0;
val->count++;
bpf_res_spin_unlock(&val->lock);
```

## What changed
Accesses to the locked object before the result is tested are reported at the access (before,
only results that were never tested or were tested after an unlock were reported, at the call;
the verifier-accepted program of the example got no diagnostic). Fixture:
`testdata/lint/src/res_lock_unlocked_access.bpf.c`.
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.kernel.table import Returns, Role
from bpfrewrite.passes.analysis.dataflow import Dataflow
from bpfrewrite.passes.analysis.calls import calls_with_role, known_calls
from bpfrewrite.passes.analysis.positions import where
from bpfrewrite.passes.rule import Rule


class UncheckedLockResult(Rule):
    __doc__ = __doc__

    slug = "unchecked-lock-result"
    severity = Severity.ERROR
    requires = frozenset({"known-calls", "dataflow", "source-positions"})

    def check(self, obj, am) -> list[Diagnostic]:
        """A diagnostic at each checked-lock call whose result some path leaves untested, and at
        each access to the locked object made before the result is tested."""
        out = []
        for call in calls_with_role(am, Role.LOCK, returns=(Returns.INT,)):
            flow = am.get(Dataflow, call.func)
            name = call.entry.name
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
            if at is not None:
                out.append(self.at_call(
                    am, call,
                    f"the result of {name} is not tested before {where(am, call.func, at)};"
                    f" test it and skip the critical section when it is non-zero",
                    help=f"`if ({name}(...)) return ...;` before the critical section",
                ))
            # The verifier accepts these: the object may be written whether or not the lock was taken.
            for access in flow.accesses_before_test(call.index, 1):
                out.append(
                    self.at(
                        am, call.func, access,
                        f"the object locked by {name} at {where(am, call.func, call.index)} is accessed"
                        f" before the lock's result is tested; test the result first",
                        help=f"`if ({name}(...)) return ...;` before the critical section",
                    )
                )
        return out
