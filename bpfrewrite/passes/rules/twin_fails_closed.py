'''A fast-path twin that can only drop or abort, where its program can let traffic pass.

## What it does
For every program whose return values have names and fates (XDP, tc/tcx, cgroup skb and sock,
sk_lookup, socket filters, LSM: `bpfrewrite/kernel/return_codes.json`), computes the values the
program can return and the values its fast-path twin can return: constants propagated along the
paths each can take (bpfrewrite/passes/analysis/return_values.py), with the twin's stubbed calls and
may_goto exits applied as `bpfrewrite patch` applies them. Reports, as information, a program
whose twin returns only values that stop traffic (XDP_ABORTED, XDP_DROP, TC_ACT_SHOT, deny,
SK_DROP, 0 bytes kept, -errno) while the program itself can pass it, at the `return` the twin's
verdict comes from.

## Why it matters
A twin leaves early by making each call that may fail fail, so it takes the program's own error
paths. When every error path drops, the twin fails closed: switched in on a live interface, it
drops all traffic until it is switched back. For a firewall that may be right; for a monitor or a
load balancer it is an outage. Measured on this kernel: loading and test-running such a twin with
`bpfrewrite verify --run` returns `0 (XDP_ABORTED)` where its program returns `2 (XDP_PASS)`.

## Example
```c
cfg = bpf_map_lookup_elem(&config, &key);   /* stubbed in the twin: NULL */
if (!cfg)
	return XDP_ABORTED;                   /* the twin always returns here */
...
return XDP_PASS;
```

## How to fix
If traffic must keep flowing while the program is being stopped, give the failure path an
explicit fail-open value:
```c
if (!cfg)
	return XDP_PASS;    /* fail open: no config, let traffic through */
```
If failing closed is what you want, nothing is wrong; suppress the finding at that line.
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.kernel.return_codes import fate, label
from bpfrewrite.passes.rule import Rule
from bpfrewrite.passes.verdicts import fails_closed, verdict_of


class TwinFailsClosed(Rule):
    __doc__ = __doc__

    slug = "twin-fails-closed"
    severity = Severity.INFO
    requires = frozenset({"return-values", "twin-return-values", "source-positions"})

    def check(self, obj, am) -> list[Diagnostic]:
        """An info diagnostic per program whose twin only stops traffic, at the twin's return."""
        out = []
        for func in obj.programs:
            original, twin = verdict_of(am, func), verdict_of(am, func, twin_plan=True)
            if not fails_closed(original, twin):
                continue
            # Where the twin's paths part from the original's: a test the twin can only take one
            # way (the stubbed call's failure check); else the definition of the value returned.
            forks = sorted(twin.decided - original.decided)
            defs = sorted(d for v in twin.values for d in twin.origins.get(v, ()) if d >= 0)
            passing = [label(func.prog_type, v) for v in sorted(original.values) if fate(func.prog_type, v) == "pass"]
            if original.unknown:
                passing.append("unknown")
            out.append(
                self.at(
                    am,
                    func,
                    forks[0] if forks else defs[0] if defs else 0,
                    f"the fast-path twin of {func.name} can only return {twin.text()}, where {func.name} "
                    f"can return {', '.join(passing)}: the twin fails closed"
                    + (" (it always takes this branch)" if forks else ""),
                    help="if traffic must keep flowing, return a passing value on the failure path",
                )
            )
        return out
