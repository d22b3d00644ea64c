"""What a picture of an object's control flow shows: each chosen function's CFG and loops, and the calls."""
from __future__ import annotations

from dataclasses import dataclass

from bpfrewrite.model import Function, Object
from bpfrewrite.passes.analysis.callgraph import CallGraph, CallGraphResult
from bpfrewrite.passes.analysis.cfg import CFG, ControlFlowGraph
from bpfrewrite.passes.analysis.loops import LoopInfo, Loops
from bpfrewrite.passes.manager import AnalysisManager


@dataclass
class FlowGraphs:
    """The functions drawn (object order), each with its CFG and loops, and the object's call graph."""

    obj: Object
    functions: list[tuple[Function, ControlFlowGraph, LoopInfo]]
    calls: CallGraphResult


def flow_graphs(obj: Object, prog: str | None = None) -> FlowGraphs:
    """Every function of obj, or (prog) one program and the functions it reaches, analysed."""
    am = AnalysisManager(obj)
    funcs, calls = obj.select(prog), am.get(CallGraph)
    return FlowGraphs(obj, [(f, am.get(CFG, f), am.get(Loops, f)) for f in funcs], calls)
