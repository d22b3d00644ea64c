'''A call into kernel code that runs long and that a terminating program cannot cut short.

## What it does
Reports every call of a helper or kfunc the knowledge table marks `long_running` that does not
iterate a callback (those are `long-running-helper`), such as `bpf_copy_from_user` or
`bpf_timer_cancel`.

## Why it matters
Early termination works at BPF instruction boundaries: a fast-path twin can skip a call that
has not started, but once the program is inside the kernel function the time is spent in kernel
code, out of the program's control. Whatever the call waits for (a page fault, a running timer
callback, hashing a file) delays termination, and nothing the program does can shorten it.

## Example
```c
bpf_copy_from_user(buf, sizeof(buf), uptr);   /* may fault pages in */
```

## How to fix
Keep such calls off hot or latency-critical paths, bound their input (copy fewer bytes), or
move the work to user space. If the delay is acceptable, suppress the report on that line with
`// bpfrewrite: ignore[non-terminable-helper]`.

## What changed
The message says what to do in the same sentence (bound the input or keep the call off
latency-critical paths).
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.kernel.table import Role
from bpfrewrite.passes.analysis.calls import callback_name, calls_with_role
from bpfrewrite.passes.rule import Rule


_HELP = "a twin cannot skip the call once it runs"


class NonTerminableHelper(Rule):
    __doc__ = __doc__

    slug = "non-terminable-helper"
    severity = Severity.WARNING
    requires = frozenset({"known-calls", "dataflow", "source-positions"})

    def check(self, obj, am) -> list[Diagnostic]:
        """A diagnostic at each long-running, non-iterating call."""
        out = []
        for call in calls_with_role(am, Role.LONG_RUNNING):
            if Role.ITERATE in call.entry.roles:
                continue  # reported, with its bound and callback, by long-running-helper
            callback = callback_name(am, call)
            inside = f" (with its callback {callback})" if callback else ""
            message = (f"{call.entry.name} runs in the kernel{inside} and early termination cannot cut it short;"
                       f" bound its input or keep it off latency-critical paths")
            out.append(self.at_call(am, call, message, help=_HELP))
        return out
