"""The object's call graph: bpf-to-bpf calls and callbacks handed to helpers and kfuncs.

A "call" edge comes from a bpf-to-bpf call (insn.ref.target). A "callback" edge comes from an
ld_imm64 of a function's address (RefKind.CALLBACK); `via` names the call that receives that
address in r1-r5, found by following the register through copies and spills (dataflow). A callback
address no call receives gets one edge with via None.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from bpfrewrite.model import Function, Object, RefKind
from bpfrewrite.passes.analysis.dataflow import Dataflow
from bpfrewrite.passes.manager import Analysis, AnalysisManager, register


@dataclass(frozen=True, eq=False)
class CallEdge:
    """caller -> callee, from the instruction at index in caller."""

    caller: Function
    callee: Function
    kind: str  # "call" or "callback"
    index: int  # the call, or the ld_imm64 of the callback's address
    via: str | None = None  # callback: the helper, kfunc or function receiving it
    via_index: int | None = None  # callback: index of that call in caller


def call_target_name(insn) -> str:
    """What a call instruction calls, in words: helper or kfunc name, function name, or helper#id."""
    ref = insn.ref
    if ref is not None and ref.target is not None:
        return ref.target.name
    if ref is not None and ref.kind in (RefKind.KFUNC, RefKind.CALL) and ref.name:
        return ref.name
    if insn.is_helper_call:
        from bpfrewrite.kernel.table import helper

        entry = helper(insn.imm)
        return entry.name if entry is not None else f"helper#{insn.imm}"
    return "callx" if insn.is_callx else f"call#{insn.imm}"


class CallGraphResult:
    """Call and callback edges between the functions of one object."""

    def __init__(self, obj: Object, edges: list[CallEdge]):
        self.obj = obj
        order = {f: k for k, f in enumerate(obj.functions)}
        self.edges = sorted(edges, key=lambda e: (order[e.caller], e.index, e.kind, order[e.callee], e.via or ""))

    @cached_property
    def graph(self):
        """The edges as a networkx MultiDiGraph of functions (imported on first use: ~0.3 s of CPU)."""
        import networkx as nx

        graph = nx.MultiDiGraph()
        graph.add_nodes_from(self.obj.functions)
        for e in self.edges:
            graph.add_edge(e.caller, e.callee, kind=e.kind, via=e.via)
        return graph

    def call_edges(self) -> list[CallEdge]:
        """The bpf-to-bpf call edges."""
        return [e for e in self.edges if e.kind == "call"]

    def callback_edges(self) -> list[CallEdge]:
        """The callback edges."""
        return [e for e in self.edges if e.kind == "callback"]

    def callees(self, func: Function) -> list[CallEdge]:
        """Edges leaving func."""
        return [e for e in self.edges if e.caller is func]

    def callers(self, func: Function) -> list[CallEdge]:
        """Edges entering func."""
        return [e for e in self.edges if e.callee is func]

    def reachable(self, program: Function) -> list[Function]:
        """program first, then every function it calls or hands as a callback (any depth), in object order."""
        return program.reachable()  # the same edges (references), walked once in the model


def build_callgraph(obj: Object, am: AnalysisManager) -> CallGraphResult:
    """Find every call and callback edge of obj."""
    edges = []
    for func in obj.functions:
        insns = func.insns
        for i, insn in enumerate(insns):
            ref = insn.ref
            if ref is None or ref.target is None:
                continue
            if ref.kind == RefKind.CALL and insn.is_call:
                edges.append(CallEdge(func, ref.target, "call", i))
            elif ref.kind == RefKind.CALLBACK:
                consumers = am.get(Dataflow, func).value_consumers(i, insn.dst)
                if not consumers:
                    edges.append(CallEdge(func, ref.target, "callback", i))
                for c in consumers:
                    via = call_target_name(insns[c])
                    edges.append(CallEdge(func, ref.target, "callback", i, via, c))
    return CallGraphResult(obj, edges)


@register
class CallGraph(Analysis):
    """Calls and callbacks between the object's functions."""

    name = "callgraph"
    scope = "object"
    requires = frozenset({"dataflow"})

    @classmethod
    def run(cls, am: AnalysisManager, unit: Object) -> CallGraphResult:
        """Build the call graph of unit."""
        return build_callgraph(unit, am)

    @classmethod
    def fingerprint(cls, result: CallGraphResult) -> tuple:
        """Edges by function name."""
        return tuple((e.caller.name, e.callee.name, e.kind, e.index, e.via) for e in result.edges)
