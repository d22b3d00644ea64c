'''A helper that calls a BPF callback over and over, the main way a verified program runs long.

## What it does
Reports every call of a helper or kfunc the knowledge table marks `iterate`, such as
`bpf_loop`, `bpf_for_each_map_elem` and `bpf_user_ringbuf_drain`. It names the callback and,
when the first argument is a constant (bpf_loop's count) or a map, says how many times the
callback may run.

## Why it matters
The verifier checks the callback once, not once per iteration, so a program that passes it can
still run for a long time: bpf_loop allows 2^23 iterations, and a map walk visits every
element. Such a program is the prime candidate for early termination. A fast-path twin stops it
by replacing the call (the helper reports that nothing ran) or by making the callback return 1,
which these helpers treat as "stop". Both need the program to cope with an early stop.

## Example
```c
static long step(__u32 i, void *ctx) { /* ... */ return 0; }

bpf_loop(1 << 20, step, &state, 0);
```

## How to fix
Make sure the program copes with fewer iterations than asked (test the helper's return value)
and that the callback's return is a constant the twin can flip (see
`callback-cannot-stop`). Keep the bound as small as the work needs.

## What changed
The message says what to do in the same sentence (cope with the iteration stopping early).
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.isa.opcodes import s64
from bpfrewrite.kernel.table import Role
from bpfrewrite.model import RefKind
from bpfrewrite.passes.analysis.calls import argument_defs, callback_name, calls_with_role
from bpfrewrite.passes.rule import Rule

# The first argument of every iterating helper says how much there is to iterate: a count
# (bpf_loop's nr_loops) or the map walked (for_each_map_elem, user_ringbuf_drain).
_BOUND_ARG = 1


def constant_of(insn) -> int | None:
    """The value a constant-loading instruction (`r = imm`, `w = imm`, `r = imm ll`) loads."""
    value = insn.loaded_constant if insn is not None else None
    return s64(value) if value is not None else None


# BPF_MAP_TYPE_RINGBUF (27) and BPF_MAP_TYPE_USER_RINGBUF (31), from linux/bpf.h.
_RING_MAP_TYPES = (27, 31)


def describe_bound(obj, defs: list) -> str | None:
    """How much the iteration may do, from the defs of the first argument: a count or a map size."""
    values = {constant_of(d) for d in defs}
    if len(values) == 1 and None not in values:
        return f"up to {values.pop()} times"
    maps = {d.ref.name for d in defs if d is not None and d.ref is not None and d.ref.kind == RefKind.MAP}
    if len(maps) == 1 and len(defs) == 1:
        name = maps.pop()
        found = next((m for m in obj.maps if m.name == name), None)
        if found is not None and found.max_entries:
            if found.type in _RING_MAP_TYPES:  # max_entries is the ring's size in bytes
                return f"over the samples queued in ring buffer {name} ({found.max_entries} bytes)"
            return f"over map {name} (max_entries {found.max_entries})"
        return f"over map {name}"
    return None


class LongRunningHelper(Rule):
    __doc__ = __doc__

    slug = "long-running-helper"
    severity = Severity.WARNING
    requires = frozenset({"known-calls", "dataflow", "source-positions"})

    def check(self, obj, am) -> list[Diagnostic]:
        """A diagnostic at each iterating call, with its callback and bound when known."""
        out = []
        for call in calls_with_role(am, Role.ITERATE):
            callback = callback_name(am, call)
            bound = describe_bound(obj, argument_defs(am, call, _BOUND_ARG))
            who = f"callback {callback}" if callback else "its callback"
            how = bound or "a number of times set at run time"
            message = f"{call.entry.name} runs {who} {how}; make sure the program copes with it stopping early"
            out.append(self.at_call(
                am, call, message, help="the twin makes the callback return 1, so the iteration stops after one call"
            ))
        return out
