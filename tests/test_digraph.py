"""The CFG's own graph and dominators agree with networkx (the oracle) on every function and on random graphs."""
from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpfrewrite.elf.reader import read_object
from bpfrewrite.passes.analysis.cfg import EXIT, build_cfg
from bpfrewrite.passes.analysis.digraph import DiGraph

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"
OBJECTS = sorted(TESTDATA.glob("*.bpf.o")) + sorted(TESTDATA.glob("lint/*.bpf.o"))


def nx_idom(graph: nx.DiGraph, root) -> dict:
    got = dict(nx.immediate_dominators(graph, root))
    got[root] = root  # networkx >= 3.5 leaves the start node out
    return got


def as_nx(g: DiGraph) -> nx.DiGraph:
    out = nx.DiGraph()
    out.add_nodes_from(g)
    out.add_edges_from(g.edges())
    return out


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_cfg_dominators_match_networkx(path):
    for func in read_object(path).functions:
        cfg = build_cfg(func)
        ref = as_nx(cfg.graph)
        want = nx_idom(ref, cfg.entry)
        want.pop(EXIT, None)
        assert cfg.idom == want, func.name
        if EXIT in ref:
            assert cfg.ipdom == nx_idom(ref.reverse(copy=True), EXIT), func.name
        assert cfg.reachable() == nx.descendants(ref, cfg.entry) | {cfg.entry}


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 25).flatmap(
    lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))))
def test_random_graph_dominators_match_networkx(case):
    n, edges = case
    g = DiGraph(range(n))
    for s, d in edges:
        g.add_edge(s, d, "x")
    ref = as_nx(g)
    assert g.immediate_dominators(0) == nx_idom(ref, 0)
    assert g.immediate_dominators(n - 1, reverse=True) == nx_idom(ref.reverse(copy=True), n - 1)
    assert g.descendants(0) == nx.descendants(ref, 0)
    assert sorted(g.edges()) == sorted(ref.edges())
    for v in range(n):
        assert sorted(g.predecessors(v)) == sorted(ref.predecessors(v))
        assert sorted(g.successors(v)) == sorted(ref.successors(v))
