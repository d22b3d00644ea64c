"""Control-flow graphs: basic blocks of a function, typed edges, dominators and post-dominators.

Blocks end at a branch, a may_goto or an exit; calls do not end blocks (bpf-to-bpf calls return).
Block ids are 0..n-1 in instruction order (block 0 is the entry); EXIT (-1) is a virtual node every
`exit` instruction leads to. Instruction positions are list indexes into `func.insns` (an ld_imm64
is one element); `slots` maps them to the section's 8-byte slots, as llvm-objdump-19 numbers them.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.isa.instruction import BRANCH_CODES
from bpfrewrite.isa.opcodes import EXIT as EXIT_CODE
from bpfrewrite.model import Function
from bpfrewrite.passes.analysis.digraph import DiGraph
from bpfrewrite.passes.manager import Analysis, register

EXIT = -1  # the virtual exit node
EDGE_KINDS = ("fallthrough", "taken", "jump", "may_goto", "exit")


@dataclass(frozen=True)
class Block:
    """A basic block: instructions [start, end) of the function (list indexes)."""

    id: int
    start: int
    end: int

    @property
    def last(self) -> int:
        """Index of the block's last instruction."""
        return self.end - 1


class ControlFlowGraph:
    """The CFG of one function: blocks, a DiGraph (bpfrewrite.passes.analysis.digraph) with edge kinds, dominance."""

    def __init__(self, func: Function, blocks: list[Block], graph: DiGraph, slots: list[int],
                 targets: dict[int, int]):
        self.func = func
        self.targets = targets  # branch instruction index -> target instruction index
        self.blocks = blocks
        self.graph = graph
        self.slots = slots  # section slot of each instruction
        self.entry = 0
        self.block_of: list[int] = [0] * (blocks[-1].end if blocks else 0)
        for b in blocks:
            for i in range(b.start, b.end):
                self.block_of[i] = b.id

    def succs(self, block: int) -> list[tuple[int, str]]:
        """Successors of block with edge kinds, in a stable order (fallthrough first)."""
        return [(d, k) for d, k in self._succ_lists[block]]

    @cached_property
    def _succ_lists(self) -> dict[int, list[tuple[int, str]]]:
        order = {k: i for i, k in enumerate(EDGE_KINDS)}
        out: dict[int, list[tuple[int, str]]] = {n: [] for n in self.graph}
        for s, d, k in self.graph.edges(data="kind"):
            out[s].append((d, k))
        for lst in out.values():
            lst.sort(key=lambda e: (order[e[1]], e[0]))
        return out

    def edges(self) -> list[tuple[int, int, str]]:
        """All edges (src, dst, kind), sorted."""
        return sorted((s, d, k) for s, d, k in self.graph.edges(data="kind"))

    def reachable(self) -> set[int]:
        """Blocks reachable from the entry."""
        return self.graph.descendants(self.entry) | {self.entry}

    @cached_property
    def idom(self) -> dict[int, int]:
        """Immediate dominator of each reachable block (the entry maps to itself)."""
        idom = self.graph.immediate_dominators(self.entry)
        idom.pop(EXIT, None)  # the virtual exit is not a block
        return idom

    @cached_property
    def ipdom(self) -> dict[int, int]:
        """Immediate post-dominator of each block that reaches an exit (EXIT maps to itself)."""
        if EXIT not in self.graph:
            return {}
        return self.graph.immediate_dominators(EXIT, reverse=True)

    @cached_property
    def _dom_intervals(self) -> dict[int, tuple[int, int]]:
        return _tree_intervals(self.idom, self.entry)

    @cached_property
    def _pdom_intervals(self) -> dict[int, tuple[int, int]]:
        return _tree_intervals(self.ipdom, EXIT) if self.ipdom else {}

    def dominates(self, a: int, b: int) -> bool:
        """True when block a dominates block b (every path from the entry to b passes a)."""
        ia, ib = self._dom_intervals.get(a), self._dom_intervals.get(b)
        return ia is not None and ib is not None and ia[0] <= ib[0] and ib[1] <= ia[1]

    def post_dominates(self, a: int, b: int) -> bool:
        """True when block a post-dominates block b (every path from b to an exit passes a)."""
        ia, ib = self._pdom_intervals.get(a), self._pdom_intervals.get(b)
        return ia is not None and ib is not None and ia[0] <= ib[0] and ib[1] <= ia[1]

    def insn_dominates(self, i: int, j: int) -> bool:
        """True when instruction i runs on every path from the entry to instruction j (i != j)."""
        bi, bj = self.block_of[i], self.block_of[j]
        if bi == bj:
            return i < j
        return self.dominates(bi, bj)


def _tree_intervals(idom: dict[int, int], root: int) -> dict[int, tuple[int, int]]:
    """Pre/post numbers of a dominator tree: a dominates b iff a's interval contains b's."""
    children: dict[int, list[int]] = {}
    for node, parent in idom.items():
        if node != parent:
            children.setdefault(parent, []).append(node)
    out: dict[int, tuple[int, int]] = {}
    counter = 0
    stack = [(root, False)]
    pre: dict[int, int] = {}
    while stack:
        node, done = stack.pop()
        if done:
            out[node] = (pre[node], counter)
            counter += 1
            continue
        pre[node] = counter
        counter += 1
        stack.append((node, True))
        stack.extend((c, False) for c in children.get(node, ()))
    return out


def branch_target(func: Function, insns: list, slots: list[int], index_of_slot: dict[int, int],
                  index_of_insn: dict[int, int], i: int) -> int:
    """The list index instruction i branches to; BpfrewriteError when it is not an instruction of func.

    The reader links each branch to its target Instruction (insn.target) and the writer derives
    offsets from that link, so the link is the truth; the raw offset is used only for branches
    the reader could not link (their error message names the slot they point at).
    """
    insn = insns[i]
    if insn.target is not None and id(insn.target) in index_of_insn:
        return index_of_insn[id(insn.target)]
    target = slots[i] + insn.width + insn.branch_offset
    idx = None if insn.target is not None else index_of_slot.get(target)
    if idx is None:
        first, last = slots[0], slots[-1] + insns[-1].width
        if first <= target < last:
            why = "the middle of an ld_imm64"
        else:
            why = f"outside the function (slots {first}..{last - 1})"
        raise BpfrewriteError(
            f"function {func.name!r}: the jump at slot {slots[i]} targets slot {target}, {why}"
        )
    return idx


# Opcodes decided once: the per-instruction properties cost more than the rest of the loop.
_BRANCH_CODES = BRANCH_CODES
_BLOCK_END_CODES = BRANCH_CODES | {EXIT_CODE}  # and exit


def build_cfg(func: Function) -> ControlFlowGraph:
    """Split func into basic blocks and connect them with typed edges (slots are the section's)."""
    insns = func.insns
    n = len(insns)
    slots = func.slots()
    index_of_slot = {s: i for i, s in enumerate(slots)}
    index_of_insn = {id(insn): i for i, insn in enumerate(insns)}
    for i, insn in enumerate(insns):  # r11-r15 exist only in encodings; the verifier refuses them
        if (insn.dst > 10 or insn.src > 10) and max(insn.defs() | insn.uses(), default=0) > 10:
            raise BpfrewriteError(f"function {func.name!r}: the instruction at slot {slots[i]} "
                                  f"(`{insn.text()}`) names a register above r10")
    leaders = {0}
    targets: dict[int, int] = {}
    branch, ends = _BRANCH_CODES, _BLOCK_END_CODES
    for i, insn in enumerate(insns):
        if insn.code not in ends:
            continue
        if insn.code in branch:
            t = branch_target(func, insns, slots, index_of_slot, index_of_insn, i)
            targets[i] = t
            leaders.add(t)
            if i + 1 < n:
                leaders.add(i + 1)
        elif insn.is_exit and i + 1 < n:
            leaders.add(i + 1)
    starts = sorted(leaders)
    blocks = [Block(k, s, e) for k, (s, e) in enumerate(zip(starts, starts[1:] + [n]))]
    block_at = {b.start: b.id for b in blocks}
    edges: list[tuple[int, int, str]] = []
    for b in blocks:
        last = b.last
        insn = insns[last]
        code = insn.code
        if code not in ends:
            if last + 1 >= n:
                _fall_off(func, slots, last)
            edges.append((b.id, b.id + 1, "fallthrough"))
            continue
        if insn.is_exit:
            edges.append((b.id, EXIT, "exit"))
            continue
        kind = "jump" if insn.is_uncond_jump else "may_goto" if insn.is_may_goto else "taken"
        dst = block_at[targets[last]]
        if insn.is_uncond_jump:
            edges.append((b.id, dst, kind))
            continue
        if last + 1 >= n:
            _fall_off(func, slots, last)
        # A conditional jump to the next instruction has one successor; keep the taken kind.
        if dst == b.id + 1:
            edges.append((b.id, dst, kind))
        else:
            edges.append((b.id, b.id + 1, "fallthrough"))
            edges.append((b.id, dst, kind))
    graph = DiGraph(range(len(blocks)))
    for s, d, k in edges:
        graph.add_edge(s, d, k)
    return ControlFlowGraph(func, blocks, graph, slots, targets)


def _fall_off(func: Function, slots: list[int], last: int) -> None:
    # The verifier refuses this too ("last insn is not an exit or jmp").
    raise BpfrewriteError(
        f"function {func.name!r}: execution can run past its last instruction (slot {slots[last]}),"
        " which is neither exit nor an unconditional jump"
    )


@register
class CFG(Analysis):
    """Basic blocks, typed edges and dominance of one function."""

    name = "cfg"
    scope = "function"
    requires = frozenset()

    @classmethod
    def run(cls, am, unit: Function) -> ControlFlowGraph:
        """Build the CFG of unit."""
        return build_cfg(unit)

    @classmethod
    def fingerprint(cls, result: ControlFlowGraph) -> tuple:
        """Block boundaries and edges."""
        return (tuple((b.start, b.end) for b in result.blocks), tuple(result.edges()))
