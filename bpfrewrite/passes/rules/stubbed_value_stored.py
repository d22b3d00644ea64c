'''A call the twin stubs whose result is stored where user space reads it.

## What it does
Follows the result of every call the fast-path twin replaces by its failure value (the plan
`bpfrewrite patch` applies) through moves, extensions and spills, past the tests of it, to
stores through a pointer that is not the stack: into a map value, global data, a ring buffer
record or the context. Reports each such store, naming the call and where the store writes.
Information only, off the printed output unless infos are shown.

## Why it matters
In the twin the call does nothing and returns its failure value (`-EINVAL`, `-E2BIG`, ...).
A program that stores the result for user space (`e->stackid = bpf_get_stackid(...)`) then
publishes values the original only produced on a real failure, and a consumer reading the map,
the ring buffer or the globals sees every event fail while the twin runs. Kernel reviewers of
the fast-path series asked for exactly this check.

## Example
```c
e->stackid = bpf_get_stackid(ctx, &stacks, 0);   /* -22 in every record of the twin */
bpf_ringbuf_submit(e, 0);
```

## How to fix
Nothing, if consumers already treat the failure value as "no data". Otherwise store the
result only when the call succeeded, or mark the record so user space can tell:
```c
long id = bpf_get_stackid(ctx, &stacks, 0);
e->stackid = id >= 0 ? id : -1;   /* -1: no stack, in the original and the twin alike */
```
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.model import RefKind
from bpfrewrite.passes.analysis.dataflow import Dataflow
from bpfrewrite.passes.analysis.fastpath_plan import FastPathPlan
from bpfrewrite.passes.rule import Rule
from bpfrewrite.passes.analysis.calls import call_entry
from bpfrewrite.passes.analysis.positions import where

_ACQUIRED = {"ptr_or_null", "ptr_nonnull"}


def store_target(func, flow, index: int) -> str:
    """What the store at index writes into, from the roots of its base pointer."""
    insn = func.insns[index]
    names = set()
    for root in sorted(flow.pointer_roots(index, insn.dst)):
        if root == -2 - 1 and func.is_program:
            names.add("the context")
            continue
        if root < 0:
            continue
        src = func.insns[root]
        if src.ref is not None and src.ref.kind == RefKind.DATA:
            names.add(f"global data ({src.ref.name})")
        elif src.ref is not None and src.ref.kind == RefKind.MAP:
            names.add(f"map {src.ref.name}")
        elif src.is_call and (entry := call_entry(src)) is not None and entry.returns.value in _ACQUIRED:
            names.add(f"memory returned by {entry.name}")  # a map value, a ring buffer record, ...
    return " or ".join(sorted(names)) if names else "memory outside the stack"


class StubbedValueStored(Rule):
    __doc__ = __doc__

    slug = "stubbed-value-stored"
    severity = Severity.INFO
    requires = frozenset({"dataflow", "fastpath-plan", "source-positions"})

    def check(self, obj, am) -> list[Diagnostic]:
        """An info diagnostic at each store of a stubbed call's result outside the stack."""
        out = []
        for func in obj.functions:
            plan = am.get(FastPathPlan, func)
            stubs = [c for c in plan.calls if c.action == "stub" and c.value not in (None, 0)]
            if not stubs:
                continue
            flow = am.get(Dataflow, func)
            for call in stubs:
                for store in flow.value_stores(call.index):
                    out.append(self.at(
                        am, func, store,
                        f"the twin stores {call.callee}'s failure value {call.value}"
                        f" ({where(am, func, call.index)}) into {store_target(func, flow, store)},"
                        f" where user space reads it; store the result only when the call succeeded",
                        help="in the twin the call does nothing and returns its failure value",
                    ))
        return out
