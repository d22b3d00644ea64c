'''A loop with nothing a twin could use to leave it early.

## What it does
Reports every loop (a back edge in the control-flow graph) that a twin cannot leave early:
no `may_goto` in it lets the twin leave it (the twin turns a may_goto into a taken exit, or
retargets the loop's back edges to the may_goto's exit; see `bpfrewrite patch --report`), no call
of an open-coded iterator's next function, and no helper or kfunc call that the twin
replaces by a failure value and whose result the loop tests to leave. A stubbed call whose failure branch stays inside the loop does not count.

A loop that counts with a constant is reported only when its estimated cost, iterations times
the instructions of its body (inner counted loops multiplied in), reaches `loop-cost-threshold`
(default 10000 instructions, about 10 µs at ~1 ns per instruction); the message gives the
iteration count and the estimate. A loop whose bound the linter cannot count is always reported.

## Why it matters
A fast-path twin leaves a program early through the exits the program already has: a
`may_goto` it can take at once, an iterator's next returning NULL, or a call failing so the
program's error path runs. A loop built only from plain instructions has none of these, and
neither has a loop that only skips some work when a call fails, so the twin has to run it to
the end. The verifier bounds such loops, but with up to a million instructions walked per
verification the bound can still be long.

## Example
```c
for (i = 0; i < 100; i++)
	acc = acc * 131 + i;

for (i = 0; i < 5000; i++) {
	v = bpf_map_lookup_elem(&m, &k);
	if (v) /* a failed lookup skips one iteration's work, not the loop */
		sum += *v;
}
```

## How to fix
Keep such loops short, or give the loop a way out: `bpf_for(i, 0, n)` / `bpf_iter_num_*`
(an open-coded iterator), `can_loop` (may_goto), `bpf_loop` with a callback, or leave the loop
when a call the twin stubs fails (`if (!v) break;`).

## Options
`loop-cost-threshold` in `[tool.bpfrewrite]`, or `--loop-cost-threshold N`: the estimated
instructions per run from which a counted loop is reported (default 10000; 0 reports every loop).

`--target-kernel X.Y` (or `target-kernel`): for a kernel without open-coded iterators (the
version comes from `bpfrewrite/kernel/versions.json`) the advice is a helper with a callback.

## What changed
Advice follows the target kernel. Counted loops under the threshold are no longer reported (a 64-iteration byte loop used to warn
"it runs up to 64 times"); the message now says the estimate. Fixture:
`testdata/lint/src/loop_parser_bounds.bpf.c`.
'''
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.kernel.table import Role
from bpfrewrite.kernel.versions import available, since, text
from bpfrewrite.passes.analysis.cfg import CFG
from bpfrewrite.passes.analysis.dataflow import Dataflow, _walk
from bpfrewrite.passes.analysis.fastpath_plan import FastPathPlan
from bpfrewrite.passes.analysis.loops import Loops, jump_taken
from bpfrewrite.passes.rule import Rule
from bpfrewrite.passes.analysis.calls import call_entry


def leaves_early(func, loop, cfg, rd, plan) -> bool:
    """True when a may_goto lets the twin leave the loop, or it has an iterator next or a stubbed call whose failure leaves it."""
    if any(loop.header in site.leaves for site in plan.may_gotos):  # the plan `patch` applies
        return True
    insns = rd.insns  # once per function: func.insns slices the section, per loop
    for b in loop.blocks:
        block = cfg.blocks[b]
        for i in range(block.start, block.end):
            entry = call_entry(insns[i])
            # The twin's next returns NULL, and the loop condition tests exactly that.
            if entry is not None and Role.ITER_NEXT in entry.roles:
                return True
    return any(
        site.action == "stub" and cfg.block_of[site.index] in loop.blocks and failure_exits(loop, cfg, rd, site)
        for site in plan.calls
    )


def failure_exits(loop, cfg, rd, site) -> bool:
    """Does a conditional jump testing the stubbed call's result leave the loop (on failure, when known)?"""
    for i, event, _ in _walk(rd, site.index, frozenset({0})):
        if event != "test" or cfg.block_of[i] not in loop.blocks:
            continue
        taken_leaves = cfg.block_of[cfg.targets[i]] not in loop.blocks
        falls_leaves = cfg.block_of[i + 1] not in loop.blocks if i + 1 < len(cfg.block_of) else False
        if not (taken_leaves or falls_leaves):
            continue
        # Moves, shifts, masks and spills keep a 0 at 0, so a jump on a stubbed 0 can be decided;
        # other failure values may have been changed on the way and either edge leaving counts.
        taken = jump_taken(rd.insns[i], 0) if site.value == 0 else None
        if taken is None or (taken_leaves if taken else falls_leaves):
            return True
    return False


def estimated_cost(loop, cfg) -> int | None:
    """Instructions one run of the loop may execute: bound x body, inner counted loops multiplied in."""
    if loop.bound is None:
        return None
    inner = set().union(*(child.blocks for child in loop.children)) if loop.children else set()
    body = sum(cfg.blocks[b].end - cfg.blocks[b].start for b in loop.blocks - inner)
    for child in loop.children:
        cost = estimated_cost(child, cfg)
        body += cost if cost is not None else sum(cfg.blocks[b].end - cfg.blocks[b].start for b in child.blocks)
    return loop.bound * body


def back_edge_insn(loop, cfg) -> int:
    """The instruction that jumps back to the loop header (the last one, in code order)."""
    return max(cfg.blocks[b].last for b in loop.latches)


class LoopWithoutExit(Rule):
    __doc__ = __doc__

    slug = "loop-without-exit"
    severity = Severity.WARNING
    requires = frozenset({"cfg", "dataflow", "fastpath-plan", "loops", "source-positions"})

    def check(self, obj, am) -> list[Diagnostic]:
        """A diagnostic at the back edge of each loop without an early way out."""
        from bpfrewrite.kernel.table import helper_by_name, kfuncs

        target = self.config.target
        # Advice follows the target kernel: open-coded iterators are what a twin leaves best.
        iterator = min((since(e.name), e.name) for e in kfuncs() if Role.ITER_NEW in e.roles and since(e.name))[1]
        iterators = available(iterator, target)
        loop_helper = helper_by_name("loop").name
        out = []
        for func in obj.functions:
            cfg = am.get(CFG, func)
            rd = am.get(Dataflow, func)
            plan = am.get(FastPathPlan, func)
            for loop in am.get(Loops, func).loops:
                if leaves_early(func, loop, cfg, rd, plan):
                    continue
                cost = estimated_cost(loop, cfg)
                if not loop.may_gotos and cost is not None and cost < self.config.loop_cost_threshold:
                    continue  # short enough that running it to the end does not matter
                count = f" (it runs up to {loop.bound} times)" if loop.bound is not None else ""
                runs = (f"this loop runs up to {loop.bound} times (about {cost} instructions)" if cost is not None
                        else "this loop runs an unknown number of times")
                stubbed = sorted({site.callee for site in plan.calls if site.action == "stub"
                                  and cfg.block_of[site.index] in loop.blocks})
                why = [r for s in plan.may_gotos if s.index in loop.may_gotos for h, r in s.refusals if h == loop.header]
                if loop.may_gotos:
                    message = (f"the twin cannot make this loop's may_goto leave it"
                               f"{': no register holds a known constant at it, and ' + why[0] if why else ''}{count}")
                    help = ("end the loop body with a jump back to the loop head, read after the loop only plain "
                            "numbers or values the may_goto also sees, or set a register to a constant before the "
                            "loop that stays unchanged in it (the twin turns may_goto into `if rK == c goto`)")
                elif stubbed:
                    message = (f"{runs} and a failure of {', '.join(stubbed)} does not leave it;"
                               f" leave the loop when the call fails")
                    help = ("`if (!v) break;` after the call, or another way out: an open-coded iterator, "
                            "can_loop, or fewer iterations")
                elif not iterators:
                    message = f"{runs} with no way for the twin to leave it early; use {loop_helper} with a callback"
                    help = (f"kernel {text(target)} has no open-coded iterators ({iterator} appeared in "
                            f"{text(since(iterator))}); {loop_helper} gives the twin a way out")
                else:
                    message = f"{runs} with no way for the twin to leave it early; use an open-coded iterator or can_loop"
                    help = ("an open-coded iterator, can_loop (may_goto) or a helper with a callback gives the "
                            "twin a way out; or make the loop shorter")
                out.append(self.at(am, func, back_edge_insn(loop, cfg), message, help=help))
        return out
