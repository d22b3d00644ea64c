"""The on-demand reaching definitions agree with a plain whole-function worklist solver on every object."""
from __future__ import annotations

from collections import deque
from pathlib import Path

import pytest

from bpfrewrite.elf.reader import read_object
from bpfrewrite.passes.analysis.cfg import EXIT
from bpfrewrite.passes.analysis.dataflow import ENTRY, Dataflow
from bpfrewrite.passes.manager import AnalysisManager

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"
OBJECTS = sorted(TESTDATA.glob("*.bpf.o")) + sorted(TESTDATA.glob("lint/*.bpf.o"))


def reference(rd) -> tuple[list[frozenset], list[frozenset]]:
    """Block entry and exit sets of (def index, loc) pairs, by the textbook iteration over all blocks."""
    cfg = rd.cfg
    n = len(cfg.blocks)
    preds = [[] for _ in range(n)]
    succs = [[] for _ in range(n)]
    for s, d in cfg.graph.edges():
        if s != EXIT and d != EXIT:
            preds[d].append(s)
            succs[s].append(d)
    entry_defs = frozenset((ENTRY, loc) for loc in range(rd.locs.count))
    ins, outs = [frozenset()] * n, [frozenset()] * n
    work = deque(range(n))
    while work:
        b = work.popleft()
        cur = set(entry_defs) if b == cfg.entry else set()
        for p in preds[b]:
            cur |= outs[p]
        ins[b] = frozenset(cur)
        blk = cfg.blocks[b]
        for i in range(blk.start, blk.end):
            for loc in rd.defs_of(i):
                cur = {(d, x) for d, x in cur if x != loc} | {(i, loc)}
        if frozenset(cur) != outs[b]:
            outs[b] = frozenset(cur)
            work.extend(succs[b])
    return ins, outs


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_matches_worklist_solver(path):
    obj = read_object(path)
    am = AnalysisManager(obj, debug=False)
    checked = 0
    for func in obj.functions:
        rd = am.get(Dataflow, func)
        ins, outs = reference(rd)
        users: dict[tuple[int, int], set[int]] = {}
        for blk in rd.cfg.blocks:
            cur = set(ins[blk.id])
            for i in range(blk.start, blk.end):
                for loc in range(rd.locs.count):
                    want = sorted(d for d, x in cur if x == loc)
                    if loc in rd._uses[i] or loc < 11:
                        assert rd.reaching(i, loc) == want, (func.name, i, loc)
                        checked += 1
                    if loc in rd._uses[i]:
                        for d in want:
                            users.setdefault((d, loc), set()).add(i)
                for loc in rd.defs_of(i):
                    cur = {(d, x) for d, x in cur if x != loc} | {(i, loc)}
            for loc in range(rd.locs.count):
                assert rd.reaching_block_end(blk.id, loc) == sorted(d for d, x in outs[blk.id] if x == loc)
        for (d, loc), got in users.items():
            assert rd.uses_of(d, loc) == sorted(got), (func.name, d, loc)
        for i in range(len(rd.insns)):
            for loc in rd.defs_of(i):
                assert rd.uses_of(i, loc) == sorted(users.get((i, loc), ())), (func.name, i, loc)
    assert checked > 0
