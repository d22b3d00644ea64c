"""Natural loops: back edges, loop bodies, nesting, iteration bounds, and what loops contain.

A back edge is an edge whose target dominates its source; the natural loop of a header is the
header plus every block that reaches one of its back edges' sources without passing the header
(loops sharing a header are one loop). A retreating edge whose target does not dominate its source
makes the CFG irreducible; such edges are listed, not turned into loops.

`bound` is the most times the header can run per entry into the loop, when derivable: one counter
register, set to a constant before the loop, changed by a constant exactly once per iteration, and
compared with a constant by a conditional jump that leaves the loop and runs on every iteration.
The compared register may be a copy of the counter made in the same iteration: moves, and the
32-bit extensions clang writes at -mcpu=v1 for an `int` counter (`r3 = r1; r3 <<= 32; r3 >>= 32`),
`w3 = w1` and `r3 = (s32)w1`; the compare then sees the counter's low 32 bits.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from bpfrewrite.isa.opcodes import (
    ADD32_IMM,
    ADD64_IMM,
    ARSH64_IMM,
    LSH64_IMM,
    MOV32_REG,
    MOV64_REG,
    RSH64_IMM,
    SUB32_IMM,
    SUB64_IMM,
    Class,
    JmpOp,
    s64,
)
from bpfrewrite.isa.semantics import SIGNED_JUMPS, SWAPPED, as_number, holds, jump_condition, sext
from bpfrewrite.model import Function, calls_kfunc
from bpfrewrite.passes.analysis.cfg import CFG, EXIT, ControlFlowGraph
from bpfrewrite.passes.analysis.dataflow import ENTRY, NREGS, Dataflow, ReachingDefinitions
from bpfrewrite.passes.manager import Analysis, AnalysisManager, register


@dataclass(eq=False)
class Loop:
    """A natural loop of one function (block ids of its CFG; instruction indexes for contents)."""

    header: int
    blocks: frozenset[int]
    latches: list[int]  # sources of the back edges
    exits: list[tuple[int, int]]  # (block in the loop, successor outside it; EXIT included)
    parent: "Loop | None" = None
    children: list["Loop"] = field(default_factory=list)
    depth: int = 1
    bound: int | None = None
    counter: dict | None = None  # how bound was derived: reg, init, step, compare index
    may_gotos: list[int] = field(default_factory=list)
    helper_calls: list[int] = field(default_factory=list)
    iter_next_calls: list[int] = field(default_factory=list)  # kfuncs bpf_iter_*_next
    kfunc_calls: list[int] = field(default_factory=list)
    subprogram_calls: list[int] = field(default_factory=list)

    @property
    def has_may_goto(self) -> bool:
        """The loop body contains a may_goto."""
        return bool(self.may_gotos)

    @property
    def has_iter_next(self) -> bool:
        """The loop body calls an open-coded iterator's next kfunc."""
        return bool(self.iter_next_calls)

    @property
    def has_helper_call(self) -> bool:
        """The loop body calls a helper."""
        return bool(self.helper_calls)


class LoopInfo:
    """All natural loops of a function, outermost first within each nest, sorted by header."""

    def __init__(self, loops: list[Loop], back_edges: list[tuple[int, int]], irreducible: list[tuple[int, int]]):
        self.loops = loops
        self.back_edges = back_edges
        self.irreducible_edges = irreducible
        self._innermost: dict[int, Loop] = {}
        for loop in sorted(loops, key=lambda lp: -lp.depth):
            for b in loop.blocks:
                self._innermost.setdefault(b, loop)

    @property
    def headers(self) -> set[int]:
        """Blocks that head a loop."""
        return {lp.header for lp in self.loops}

    def loop_of(self, block: int) -> Loop | None:
        """The innermost loop containing block, if any."""
        return self._innermost.get(block)


def find_loops(func: Function, cfg: ControlFlowGraph, rd: ReachingDefinitions | None = None) -> LoopInfo:
    """Find the natural loops of func and describe them."""
    graph = cfg.graph
    back = sorted(
        (s, d) for s, d in graph.edges() if s != EXIT and d != EXIT and s in cfg.idom and cfg.dominates(d, s)
    )
    bodies: dict[int, set[int]] = {}
    latches: dict[int, list[int]] = {}
    for src, header in back:
        body = bodies.setdefault(header, {header})
        latches.setdefault(header, []).append(src)
        stack = [src]
        while stack:
            b = stack.pop()
            if b in body:
                continue
            body.add(b)
            stack.extend(p for p in graph.predecessors(b) if p not in body)
    loops = []
    for header in sorted(bodies):
        body = frozenset(bodies[header])
        exits = sorted(
            (b, d) for b in body for d in graph.successors(b) if d not in body
        )
        loops.append(Loop(header, body, sorted(latches[header]), exits))
    _nest(loops)
    insns = func.insns
    for loop in loops:
        _contents(loop, cfg, insns)
    info = LoopInfo(loops, back, _irreducible(cfg, set(back)))
    if rd is not None:
        for loop in loops:
            _bound(loop, info, cfg, rd)
    return info


def _nest(loops: list[Loop]) -> None:
    by_size = sorted(loops, key=lambda lp: len(lp.blocks))
    for i, loop in enumerate(by_size):
        for outer in by_size[i + 1 :]:
            if loop.header in outer.blocks and loop.blocks <= outer.blocks:
                loop.parent = outer
                outer.children.append(loop)
                break
    for loop in loops:
        depth, p = 1, loop.parent
        while p is not None:
            depth, p = depth + 1, p.parent
        loop.depth = depth
        loop.children.sort(key=lambda lp: lp.header)


def _contents(loop: Loop, cfg: ControlFlowGraph, insns) -> None:
    for b in sorted(loop.blocks):
        blk = cfg.blocks[b]
        for i in range(blk.start, blk.end):
            insn = insns[i]
            if insn.is_may_goto:
                loop.may_gotos.append(i)
            elif insn.is_helper_call:
                loop.helper_calls.append(i)
            elif calls_kfunc(insn):
                loop.kfunc_calls.append(i)
                name = insn.ref.name if insn.ref is not None else ""
                if name.startswith("bpf_iter_") and name.endswith("_next"):
                    loop.iter_next_calls.append(i)
            elif insn.is_pseudo_call:
                loop.subprogram_calls.append(i)


def _irreducible(cfg: ControlFlowGraph, back: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """Retreating edges of a depth-first search that are not back edges."""
    graph = cfg.graph
    state: dict[int, int] = {}  # 1: on the DFS stack, 2: finished
    out = []
    stack = [(cfg.entry, iter(sorted(graph.successors(cfg.entry))))]
    state[cfg.entry] = 1
    while stack:
        node, it = stack[-1]
        nxt = next(it, None)
        if nxt is None:
            state[node] = 2
            stack.pop()
            continue
        if nxt == EXIT:
            continue
        st = state.get(nxt)
        if st == 1 and (node, nxt) not in back:
            out.append((node, nxt))
        elif st is None:
            state[nxt] = 1
            stack.append((nxt, iter(sorted(graph.successors(nxt)))))
    return sorted(out)


# ----- iteration bounds -------------------------------------------------------------------------

def jump_taken(insn, value: int) -> bool | None:
    """Whether conditional jump insn, comparing its dst holding value with its immediate, is taken.

    None for register compares and anything that is not a conditional jump.
    """
    if not insn.is_cond_jump or insn.src_is_reg:
        return None
    return jump_condition(insn.operation, value, insn.imm, insn.operand_bits)


def trip_count(init: int, step: int, post: int, op: int, k: int, exit_when: bool,
               jmp32: bool = False, alu32: bool = False) -> int | None:
    """Most header executions of a counted loop, or None when the exit cannot be proven.

    The counter starts at init (64-bit value), changes by step per iteration, and the exiting
    jump compares it (after `post` steps in the first iteration: 0 or 1) with k by op (a JMP op
    code); the loop is left when the comparison's outcome equals exit_when.
    """
    if step == 0 or op not in SWAPPED:
        return None
    signed = op in SIGNED_JUMPS
    bits = 32 if (jmp32 or alu32) else 64
    if alu32 and post == 0 and not 0 <= init < (1 << 32):
        return None  # the first compare sees a 64-bit value, the rest a 32-bit one
    if jmp32 or not alu32:
        view_signed = signed
    else:
        view_signed = False  # a zero-extended 32-bit value seen by a 64-bit compare
    lo = -(1 << (bits - 1)) if view_signed else 0
    hi = (1 << (bits - 1)) - 1 if view_signed else (1 << bits) - 1
    t0 = as_number(init + post * step, bits, view_signed)
    kk = as_number(k, 32 if jmp32 else 64, signed)
    n_max = (hi - t0) // step if step > 0 else (t0 - lo) // (-step)

    def exits(n: int) -> bool:
        return holds(op, t0 + n * step, kk) == exit_when

    if op in (JmpOp.JEQ, JmpOp.JNE):
        leave_on_equal = (op == JmpOp.JEQ) == exit_when
        if not leave_on_equal:
            if t0 != kk:
                return 1
            return 2 if n_max >= 1 else None
        if (kk - t0) % step:
            return None
        n = (kk - t0) // step
        return n + 1 if 0 <= n <= n_max else None
    if exits(0):
        return 1
    if not exits(n_max):
        return None  # the counter wraps before the loop is left
    lo_n, hi_n = 0, n_max  # exits(lo_n) is False, exits(hi_n) is True
    while hi_n - lo_n > 1:
        mid = (lo_n + hi_n) // 2
        if exits(mid):
            hi_n = mid
        else:
            lo_n = mid
    return hi_n + 1


def _single_value(insns, defs: list[int]) -> int | None:
    values = set()
    for d in defs:
        if d == ENTRY:
            return None
        v = insns[d].loaded_constant
        if v is None:
            return None
        values.add(v)
    return values.pop() if len(values) == 1 else None


def _once_per_iteration(loop: Loop, info: LoopInfo, cfg: ControlFlowGraph, block: int) -> bool:
    return info.loop_of(block) is loop and all(cfg.dominates(block, lt) for lt in loop.latches)


def _bound(loop: Loop, info: LoopInfo, cfg: ControlFlowGraph, rd: ReachingDefinitions) -> None:
    insns = rd.insns  # func.insns slices the section: per exit it would cost the whole function
    outside_preds = [p for p in cfg.graph.predecessors(loop.header) if p not in loop.blocks]
    reg_defs = None
    best = None
    for src, dst in loop.exits:
        if dst == EXIT:
            continue
        j = cfg.blocks[src].last
        insn = insns[j]
        if not insn.is_cond_jump or not _once_per_iteration(loop, info, cfg, src):
            continue
        taken_block = cfg.block_of[cfg.targets[j]]
        exit_when = taken_block not in loop.blocks
        op = insn.operation
        jmp32 = insn.klass == Class.JMP32
        candidates = []
        if insn.src_is_reg:  # register compare: one side the counter, the other a constant
            k = _invariant_const(loop, cfg, rd, j, insn.src)
            if k is not None:
                candidates.append((insn.dst, op, k))
            k = _invariant_const(loop, cfg, rd, j, insn.dst)
            if k is not None and op in SWAPPED:
                candidates.append((insn.src, SWAPPED[op], k))
        else:
            candidates.append((insn.dst, op, insn.imm))
        for reg, cop, k in candidates:
            counter, read, view, inplace = _read_counter(loop, info, cfg, rd, j, reg)
            if reg_defs is None:
                reg_defs = _register_defs(loop, cfg, rd)
            got = _counted(loop, info, cfg, rd, outside_preds, counter, read, j, cop, k, exit_when, jmp32, view,
                           inplace, reg_defs)
            if got is not None and (best is None or got[0] < best[0]):
                best = got
    if best is not None:
        loop.bound, loop.counter = best


def _invariant_const(loop: Loop, cfg: ControlFlowGraph, rd: ReachingDefinitions, j: int, reg: int) -> int | None:
    defs = rd.reaching(j, reg)
    if any(d != ENTRY and cfg.block_of[d] in loop.blocks for d in defs):
        return None
    return _single_value(rd.insns, defs)


_ZEXT, _SEXT = "zext32", "sext32"


def _single_def_in(loop: Loop, info: LoopInfo, cfg: ControlFlowGraph, rd: ReachingDefinitions,
                   at: int, reg: int) -> int | None:
    """The one definition of reg reaching instruction at, when it is made in loop's own blocks."""
    defs = rd.reaching(at, reg)
    if len(defs) != 1 or defs[0] == ENTRY or info.loop_of(cfg.block_of[defs[0]]) is not loop:
        return None
    return defs[0]


def _read_counter(loop: Loop, info: LoopInfo, cfg: ControlFlowGraph, rd: ReachingDefinitions,
                  j: int, reg: int) -> tuple[int, int, str | None, frozenset[int]]:
    """(register, instruction reading it, view, in-place extensions) of the value reg holds at j.

    The value is followed back through copies made in the same iteration: a single reaching
    definition inside the loop's own blocks dominates j, so the copy ran in this iteration. view
    is the 32-bit extension nearest to j (_ZEXT or _SEXT), or None when the compare sees the
    whole register; extensions further back do not matter since each keeps the low 32 bits.
    In-place extensions are shift pairs applied to the counter register itself (clang's v1 form
    of a signed `int` counter: `r7 <<= 32; r7 s>>= 32`); they leave its low 32 bits alone.
    """
    insns = rd.insns
    at, view = j, None
    pairs: list[tuple[int, int]] = []
    while True:
        d = _single_def_in(loop, info, cfg, rd, at, reg)
        if d is None:
            break
        insn = insns[d]
        # r = r (off 0; movsx when off != 0), w = w (zero-extends), r <<= 32; r >>= 32 (or s>>=)
        if insn.code == MOV64_REG and insn.off in (0, 32):
            view = view or (_SEXT if insn.off == 32 else None)
        elif insn.code == MOV32_REG and insn.off == 0:
            view = view or _ZEXT
        elif insn.code in (RSH64_IMM, ARSH64_IMM) and insn.imm == 32:
            shl = _single_def_in(loop, info, cfg, rd, d, reg)
            if shl is None or insns[shl].code != LSH64_IMM or insns[shl].imm != 32:
                break
            view = view or (_ZEXT if insn.code == RSH64_IMM else _SEXT)
            pairs.append((shl, d))
            at = shl  # reads the same register: continue from the shift left
            continue
        else:
            break
        reg, at = insn.src, d
    # A pair split over blocks could leave the shifted-left value on some path: not in place.
    inplace = frozenset(
        i for shl, shr in pairs if insns[shl].dst == reg and cfg.block_of[shl] == cfg.block_of[shr] for i in (shl, shr)
    )
    return reg, at, view, inplace


def _register_defs(loop: Loop, cfg: ControlFlowGraph, rd: ReachingDefinitions) -> dict[int, list[int]]:
    """Register -> instructions of the loop defining it (built once per loop, not once per exit)."""
    out: dict[int, list[int]] = {}
    for b in loop.blocks:
        for i in range(cfg.blocks[b].start, cfg.blocks[b].end):
            for loc in rd.defs_of(i):
                if loc < NREGS:
                    out.setdefault(loc, []).append(i)
    return out


def _counted(loop, info, cfg, rd, outside_preds, reg, read, j, op, k, exit_when, jmp32, view, inplace, reg_defs):
    """(bound, counter) when reg, read at instruction read and compared by j with k, counts the loop."""
    insns = rd.insns
    in_loop = [i for i in reg_defs.get(reg, ()) if i not in inplace]
    if len(in_loop) != 1:
        return None
    p = in_loop[0]
    inc = insns[p]
    if inc.code in (ADD64_IMM, ADD32_IMM):  # r += imm, w += imm
        step = inc.imm
    elif inc.code in (SUB64_IMM, SUB32_IMM):  # r -= imm, w -= imm
        step = -inc.imm
    else:
        return None
    if inc.dst != reg or not _once_per_iteration(loop, info, cfg, cfg.block_of[p]):
        return None
    if cfg.insn_dominates(p, read):
        post = 1
    elif cfg.insn_dominates(read, p):
        post = 0
    else:
        return None
    if not outside_preds:
        return None
    init_defs = sorted({d for pr in outside_preds for d in rd.reaching_block_end(pr, reg)})
    init = _single_value(insns, init_defs)
    if init is None:
        return None
    alu32 = inc.klass == Class.ALU
    seen = init
    if view is not None:
        # The compare sees the low 32 bits, which step like a 32-bit counter whatever the ALU width.
        seen, alu32 = init & 0xFFFFFFFF, True
        if view == _SEXT and not jmp32:
            # Sign extension preserves both orders of 32-bit values, so comparing it with a
            # constant in its range is a 32-bit compare; other constants are left unsolved.
            if not -(1 << 31) <= sext(k, 64) < 1 << 31:
                return None
            jmp32 = True
    bound = trip_count(seen, step, post, op, k, exit_when, jmp32=jmp32, alu32=alu32)
    if bound is None:
        return None
    signed_init = s64(init)
    return bound, {"reg": reg, "init": signed_init, "step": step, "compare": j, "update": p,
                   "read": read, "view": view or "64"}


@register
class Loops(Analysis):
    """Natural loops with nesting, bounds and contents."""

    name = "loops"
    scope = "function"
    requires = frozenset({"cfg", "dataflow"})

    @classmethod
    def run(cls, am: AnalysisManager, unit: Function) -> LoopInfo:
        """Find unit's loops."""
        return find_loops(unit, am.get(CFG, unit), am.get(Dataflow, unit))

    @classmethod
    def fingerprint(cls, result: LoopInfo) -> tuple:
        """Headers, bodies and bounds."""
        return tuple((lp.header, tuple(sorted(lp.blocks)), lp.bound) for lp in result.loops)
