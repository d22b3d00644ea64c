'''A lock whose acquisition cannot fail, so a terminating program cannot skip its critical section.

## What it does
Reports every call of a lock the knowledge table lists with roles `lock` and `spins` (it waits
for another holder) and a `void` result, such as `bpf_spin_lock`. Sections that never wait for
anyone (`bpf_rcu_read_lock`, `bpf_preempt_disable`, `bpf_local_irq_save`) are not reported.

## Why it matters
A fast-path twin ends a program early by making calls fail and letting the program's own
error paths run. A void lock gives the program nothing to test: the verifier even rejects
reading r0 after `bpf_spin_lock` (`R0 !read_ok`). The twin must therefore take the lock and
run the whole critical section, and a program stuck waiting for the lock cannot be ended.

## Example
```c
bpf_spin_lock(&val->lock);
val->count++;
bpf_spin_unlock(&val->lock);
```

## How to fix
Use `bpf_res_spin_lock` (kernel 6.15+) on a `struct bpf_res_spin_lock` and skip the critical
section when it returns non-zero:
```c
if (bpf_res_spin_lock(&val->lock))
	return 0;
val->count++;
bpf_res_spin_unlock(&val->lock);
```

## Options
`--target-kernel X.Y` (or `target-kernel` in `[tool.bpfrewrite]`; default the running kernel):
the advice names only checked locks that kernel has (the version each appeared in comes from
`bpfrewrite/kernel/versions.json`); for an older kernel it says which version has one.

## What changed
The advice follows the target kernel (before, it always named `bpf_res_spin_lock`, which kernels
before 6.15 do not have).
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.kernel.table import Returns, Role
from bpfrewrite.kernel.versions import since
from bpfrewrite.passes.analysis.calls import calls_with_role, checked_locks
from bpfrewrite.passes.rule import Rule


class SpinLockNotTerminable(Rule):
    __doc__ = __doc__

    slug = "spin-lock-not-terminable"
    severity = Severity.WARNING
    requires = frozenset({"known-calls", "source-positions"})

    def check(self, obj, am) -> list[Diagnostic]:
        """A diagnostic at each call of a void lock."""
        out = []
        from bpfrewrite.kernel.versions import text

        target = self.config.target
        better = checked_locks(target)
        if better:
            advice = f"use a lock whose result can be tested ({' or '.join(better[:2])})"
            help = "skip the critical section when the lock fails: `if (lock(...)) return ...;`"
        else:  # the target kernel has no checked lock: say what would, and what to do meanwhile
            newer = sorted({since(n) for n in checked_locks() if since(n)})
            advice = "keep the critical section short"
            help = (f"kernel {text(target)} has no lock whose result can be tested"
                    + (f"; kernel {text(newer[0])} has one" if newer else ""))
        for call in calls_with_role(am, Role.LOCK, Role.SPINS, returns=(Returns.VOID,)):
            out.append(self.at_call(
                am, call,
                f"{call.entry.name} cannot fail, so a terminating program cannot skip the critical section; {advice}",
                help=help,
            ))
        return out
