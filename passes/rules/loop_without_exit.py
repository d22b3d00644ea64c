'''A loop with nothing a fast path could use to leave it early.

## What it does
Reports every loop (a back edge in the control-flow graph) whose body has no `may_goto`, no
call of an open-coded iterator's next function, and no helper or kfunc call the fast path
replaces by a failure value. When the loop counts with a constant, the report gives the number
of iterations.

## Why it matters
A fast-path twin leaves a program early through the exits the program already has: a
`may_goto` it can take at once, an iterator's next returning NULL, or a call failing so the
program's error path runs. A loop built only from plain instructions has none of these, so the
twin has to run it to the end. The verifier bounds such loops, but with up to a million
instructions walked per verification the bound can still be long.

## Example
```c
for (i = 0; i < 100; i++)
	acc = acc * 131 + i;
```

## How to fix
Keep such loops short, or give the loop a way out: `bpf_for(i, 0, n)` / `bpf_iter_num_*`
(an open-coded iterator), `can_loop` (may_goto), or `bpf_loop` with a callback.
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.kernel.table import Returns, Role
from passes.analysis.cfg import CFG
from passes.analysis.loops import Loops
from passes.rules.base import Rule
from passes.rules.calls import call_entry


def leaves_early(func, loop, cfg) -> bool:
    """True when the loop body has a may_goto, an iterator next, or a non-void call the fast path stubs."""
    if loop.may_gotos:
        return True
    insns = func.insns
    for b in loop.blocks:
        block = cfg.blocks[b]
        for i in range(block.start, block.end):
            entry = call_entry(insns[i])
            if entry is None:
                continue
            if Role.ITER_NEXT in entry.roles:
                return True
            if entry.stubbed and entry.returns != Returns.VOID:
                return True
    return False


def back_edge_insn(loop, cfg) -> int:
    """The instruction that jumps back to the loop header (the last one, in code order)."""
    return max(cfg.blocks[b].last for b in loop.latches)


class LoopWithoutExit(Rule):
    __doc__ = __doc__

    slug = "loop-without-exit"
    severity = Severity.WARNING

    def check(self, obj, am) -> list[Diagnostic]:
        """A diagnostic at the back edge of each loop without an early way out."""
        out = []
        for func in obj.functions:
            cfg = am.get(CFG, func)
            for loop in am.get(Loops, func).loops:
                if leaves_early(func, loop, cfg):
                    continue
                count = f" (it runs up to {loop.bound} times)" if loop.bound is not None else ""
                out.append(
                    self.at(
                        am,
                        func,
                        back_edge_insn(loop, cfg),
                        f"loop has no helper, iterator or may_goto a fast path could use to leave it{count}",
                        help="give the loop a way out (an open-coded iterator, can_loop / may_goto, or a helper with a callback) or keep it short",
                    )
                )
        return out
