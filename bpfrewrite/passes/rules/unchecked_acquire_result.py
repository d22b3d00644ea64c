'''A resource acquisition whose failure is not tested before the result is used.

## What it does
Reports a call the knowledge table marks `acquire` whose result is a pointer that may be NULL
or an `int` status (such as `bpf_ringbuf_reserve`, `bpf_sk_lookup_tcp`, `bpf_obj_new`,
`bpf_refcount_acquire`), when on some path the result is dereferenced, passed to a call,
returned or dropped before a conditional jump tests it.

## Why it matters
A fast-path twin ends a program early by making acquisitions fail: the call is replaced by its
failure value (NULL or an error) and the program's own failure branch runs, so nothing is left
to release. That only works if every acquisition has a failure branch the program takes before
using the result. The verifier does not always insist: `bpf_refcount_acquire` on an owning
reference is treated as never NULL, so an unchecked use loads but cannot be terminated early.

## Example
```c
struct node *n = bpf_obj_new(struct node);
n->key = 1;             /* used before testing n */
bpf_obj_drop(n);
```

## How to fix
Test the result right after the call and leave on failure:
```c
struct node *n = bpf_obj_new(struct node);
if (!n)
	return 0;
n->key = 1;
bpf_obj_drop(n);
```

## What changed
The message names the line the untested result reaches and what to do, in one sentence.
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.kernel.table import Returns, Role
from bpfrewrite.passes.analysis.dataflow import Dataflow
from bpfrewrite.passes.analysis.calls import calls_with_role
from bpfrewrite.passes.analysis.positions import where
from bpfrewrite.passes.rule import Rule

_CHECKABLE = (Returns.PTR_OR_NULL, Returns.INT)


class UncheckedAcquireResult(Rule):
    __doc__ = __doc__

    slug = "unchecked-acquire-result"
    severity = Severity.ERROR
    requires = frozenset({"known-calls", "dataflow", "source-positions"})

    def check(self, obj, am) -> list[Diagnostic]:
        """A diagnostic at each acquiring call whose result reaches a use untested."""
        out = []
        for call in calls_with_role(am, Role.ACQUIRE, returns=_CHECKABLE):
            at = am.get(Dataflow, call.func).first_untested_use(call.index)
            if at is None:
                continue
            out.append(self.at_call(
                am, call,
                f"the result of {call.entry.name} reaches {where(am, call.func, at)} before it is tested"
                f" for failure; test it right after the call and leave on failure",
                help="`if (!p) return ...;` right after the call",
            ))
        return out
