"""Live locations: which registers and stack slots may be read before being written, per block.

Locations are the dataflow analysis's (registers r0-r10 and r10-relative stack slots), so a live
location can be compared with the definitions reaching a point. The answer errs towards "live":
a call, or a load through a pointer other than r10, may read any stack slot whose address escaped;
only a plain store through r10 that covers a whole slot kills it, and calls read r1-r5, exit r0.
Solved once per function by a backward worklist over blocks with Python ints as bitsets.
"""
from __future__ import annotations

from collections import deque

from bpfrewrite.isa.opcodes import Class, Mode
from bpfrewrite.model import Function
from bpfrewrite.passes.analysis.cfg import EXIT
from bpfrewrite.passes.analysis.dataflow import FP, NREGS, Dataflow, ReachingDefinitions, insn_uses
from bpfrewrite.passes.manager import Analysis, AnalysisManager, register

class LiveLocations:
    """Locations live at the start of each block of one function."""

    def __init__(self, rd: ReachingDefinitions):
        self.rd = rd
        cfg, locs = rd.cfg, rd.locs
        escaped = 0
        for loc in locs.escaped:
            escaped |= 1 << loc
        use_kill = [_use_kill(insn, locs, escaped) for insn in rd.insns]
        blocks = cfg.blocks
        transfer = []
        for b in blocks:
            use = kill = 0
            for i in range(b.end - 1, b.start - 1, -1):  # backwards: a use after a kill stays hidden
                u, k = use_kill[i]
                use = u | (use & ~k)
                kill |= k
            transfer.append((use, kill))
        succs: list[list[int]] = [[] for _ in blocks]
        preds: list[list[int]] = [[] for _ in blocks]
        for s, d in cfg.graph.edges():
            if s != EXIT and d != EXIT:
                succs[s].append(d)
                preds[d].append(s)
        self.block_in = [0] * len(blocks)
        work = deque(range(len(blocks) - 1, -1, -1))
        queued = [True] * len(blocks)
        while work:
            b = work.popleft()
            queued[b] = False
            out = 0
            for s in succs[b]:
                out |= self.block_in[s]
            use, kill = transfer[b]
            live = use | (out & ~kill)
            if live != self.block_in[b]:
                self.block_in[b] = live
                for p in preds[b]:
                    if not queued[p]:
                        queued[p] = True
                        work.append(p)

    def live_at_block(self, block: int) -> list[int]:
        """Location numbers live on entry to block."""
        mask, out, loc = self.block_in[block], [], 0
        while mask:
            if mask & 1:
                out.append(loc)
            mask >>= 1
            loc += 1
        return out


def _use_kill(insn, locs, escaped: int) -> tuple[int, int]:
    """(locations insn may read, locations it surely overwrites) as bitsets."""
    use = 0
    for loc in insn_uses(insn, locs):
        use |= 1 << loc
    acc = insn.mem_access
    if insn.is_call or (acc is not None and insn.klass == Class.LDX and acc[0] != FP):
        use |= escaped  # a helper or a pointer may read stack memory whose address escaped
    if acc is not None and insn.mode == Mode.ATOMIC and acc[0] == FP:
        for loc in locs.overlapping(acc[1], acc[2]):
            use |= 1 << loc  # an atomic read-modify-write of a slot reads it
    kill = 0
    for reg in insn.defs():
        kill |= 1 << reg
    if acc is not None and insn.is_store and acc[0] == FP:
        base, off, size = acc
        for loc in locs.overlapping(off, size):
            soff, ssize = locs.slots[loc - NREGS]
            if off <= soff and soff + ssize <= off + size:
                kill |= 1 << loc
    return use, kill


@register
class Liveness(Analysis):
    """Registers and stack slots live at each block's start."""

    name = "liveness"
    scope = "function"
    requires = frozenset({"dataflow"})

    @classmethod
    def run(cls, am: AnalysisManager, unit: Function) -> LiveLocations:
        """Solve liveness over unit's CFG."""
        return LiveLocations(am.get(Dataflow, unit))

    @classmethod
    def fingerprint(cls, result: LiveLocations) -> tuple:
        """Live sets per block."""
        return tuple(result.block_in)
