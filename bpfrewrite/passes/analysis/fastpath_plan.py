"""What the fast path will do to each function: one plan, read by the linter and applied by the rewriter.

The plan is computed on the original function, from the helper/kfunc table and the analyses.
`bpfrewrite lint` renders it (fast-path-keeps-helper, callback-cannot-stop) and `bpfrewrite patch`
applies it to the twin (bpfrewrite/passes/transforms/fastpath.py), so the two can never disagree about a
site. Decisions, per site:

- calls: the table's `stub` or `keep`, except that a call returning a pointer that may be NULL is
  stubbed only when the program tests the result on every path. The verifier sometimes proves
  such a result non-NULL (since 6.13, an array-map lookup with a constant in-range key), and then
  the program may use it untested, so `r0 = 0` there would be rejected.
- may_goto: form "compare" when a register holds one known constant on every path to it (a stubbed
  call counts as the constant it becomes): the may_goto becomes `if rK == c goto exit`, always taken,
  so the twin leaves before the loop body runs. Else form "goto" when the code after the may_goto is
  also reached from elsewhere (a rotated loop whose may_goto ends an iteration): a plain `goto exit`
  leaves nothing unreachable. Otherwise form "back-edge": every back edge of each
  loop the may_goto guards (a loop containing it that its exit leaves) is retargeted to the
  may_goto's exit, so the twin runs at most one iteration and leaves by the path the program takes
  when may_goto fires. That path was verified with the state at the may_goto; the back edge brings
  the state at the end of the iteration instead, so it is taken only when every register and stack
  slot live at the exit has, at the back edge, only definitions that also reach the may_goto, or is
  a plain number on both paths (never undefined). Form "keep", a problem, when none applies.
- exits of a callback of an iterating helper: each definition of r0 reaching an exit, rewritable
  to `r0 = 1` in place, or a problem saying why not.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from bpfrewrite.isa.opcodes import MOV32_IMM, AluOp, Class
from bpfrewrite.model import Function, calls_kfunc
from bpfrewrite.passes.analysis.callgraph import CallGraph
from bpfrewrite.passes.analysis.dataflow import ENTRY, FP, NREGS, Dataflow
from bpfrewrite.passes.manager import Analysis, register

RETURN_STOP = 1  # what a callback of bpf_loop / for_each / user_ringbuf_drain returns to stop


@dataclass(frozen=True)
class CallSite:
    """A helper or kfunc call and what the twin does with it."""

    index: int
    callee: str
    action: str  # "stub" or "keep"
    value: int | None  # r0 written in place, when stubbed
    reason: str
    known: bool  # False: not in the helper/kfunc table (kept, and a problem)


@dataclass(frozen=True)
class MayGotoSite:
    """A may_goto and how the twin leaves the loops it guards (see the module docstring for forms)."""

    index: int
    reg: int | None = None  # form compare: the register holding value on every path here
    value: int = 0
    is32: bool = False
    form: str = "keep"  # "compare", "goto", "back-edge" or "keep"
    target: int | None = None  # the may_goto's exit target (instruction index)
    back_edges: tuple[int, ...] = ()  # form back-edge: the jumps retargeted to target
    leaves: frozenset[int] = frozenset()  # header blocks of the loops the twin leaves through this site
    why: str = ""  # why this form (for keep: why neither other form applies)
    unhandled: tuple[int, ...] = ()  # header blocks of guarded loops the twin still cannot leave
    refusals: tuple[tuple[int, str], ...] = ()  # (header block, why its back edges stay) per unhandled loop


@dataclass(frozen=True)
class ReturnSite:
    """A definition of r0 reaching an exit of an iteration callback (or an exit r0 is unset for)."""

    index: int
    blocker: str | None  # why it cannot become `r0 = 1` in place; None when it can
    used_at: int | None = None  # blocker "also used": the first other instruction using it (renderers say where)


@dataclass
class FunctionPlan:
    """The fast-path plan of one function."""

    func: Function
    calls: list[CallSite] = field(default_factory=list)
    may_gotos: list[MayGotoSite] = field(default_factory=list)
    iterated_by: str | None = None  # the iterating helper calling this function back, if any
    returns: list[ReturnSite] = field(default_factory=list)

    def stubbed(self) -> dict[int, int]:
        """Index -> value of every call the twin replaces by `r0 = value`."""
        return {c.index: c.value for c in self.calls if c.action == "stub"}


@register
class IterationCallbacks(Analysis):
    """Functions passed as callbacks to iterating helpers (table role ITERATE), with the helper."""

    name = "iteration-callbacks"
    scope = "object"
    requires = frozenset({"callgraph"})

    @classmethod
    def run(cls, am, unit) -> dict[Function, tuple[str, str | None]]:
        """callback -> (iterating helper calling it, another consumer of it that is not iterating).

        The second is None unless the same function is also handed to, say, bpf_timer_set_callback,
        whose callbacks the verifier requires to return 0: then `r0 = 1` would be rejected.
        """
        from bpfrewrite.kernel.table import Role, helper_by_name, kfunc

        iterating: dict[Function, str] = {}
        other: dict[Function, str] = {}
        for edge in am.get(CallGraph).callback_edges():
            entry = (helper_by_name(edge.via) or kfunc(edge.via)) if edge.via else None
            if entry is not None and Role.ITERATE in entry.roles:
                iterating.setdefault(edge.callee, entry.name)
            else:
                other.setdefault(edge.callee, entry.name if entry is not None else (edge.via or "an unknown consumer"))
        return {f: (name, other.get(f)) for f, name in iterating.items()}


@register
class FastPathPlan(Analysis):
    """What the fast-path twin of a function changes, site by site."""

    name = "fastpath-plan"
    scope = "function"
    requires = frozenset({"cfg", "dataflow", "iteration-callbacks", "loops", "liveness"})

    @classmethod
    def run(cls, am, unit: Function) -> FunctionPlan:
        """The plan for unit (computed on the original; the twin has the same shape)."""
        flow = am.get(Dataflow, unit)
        plan = FunctionPlan(unit, calls=_call_sites(unit, flow))
        plan.may_gotos = _may_goto_sites(am, unit, flow, plan.stubbed())
        plan.iterated_by, also = am.get(IterationCallbacks).get(unit, (None, None))
        if plan.iterated_by is not None:
            plan.returns = _return_sites(unit, flow, plan.stubbed(), also)
        return plan


def _call_sites(func: Function, flow) -> list[CallSite]:
    from bpfrewrite.kernel.table import Returns, table_for

    out = []
    for index, insn in enumerate(func.insns):
        if insn.is_callx:
            from bpfrewrite.errors import BpfrewriteError

            raise BpfrewriteError(f"{func.name}: `{insn.text()}` is an indirect call, which the kernel does not "
                                  "load (clang emits it at -O0; build with -O2)")
        if not (insn.is_helper_call or calls_kfunc(insn)):
            continue
        entry = table_for(insn)
        if entry is None:
            callee = insn.ref.name if insn.ref is not None else f"helper#{insn.imm}"
            out.append(CallSite(index, callee, "keep", None, "not in the helper/kfunc table: kept unchanged", False))
        elif entry.fast_path != "stub":
            out.append(CallSite(index, entry.name, "keep", None, entry.reason, True))
        elif entry.returns == Returns.PTR_OR_NULL and not flow.result_tested(index):
            out.append(CallSite(index, entry.name, "keep", None,
                                "its result is not tested for NULL on every path in this function; the "
                                "verifier may know it is non-NULL (an array lookup with a constant key), "
                                "where `r0 = 0` is rejected: kept", True))
        else:
            out.append(CallSite(index, entry.name, "stub", entry.failure_value, entry.reason, True))
    return out


def _constant_def(insn, reg: int, stubbed: dict[int, int], index: int) -> tuple[int, bool] | None:
    """(value, 32-bit) when insn sets reg to a small non-negative constant (in the twin)."""
    if index in stubbed:
        value, is32 = stubbed[index], False  # the twin's `r0 = value`
    elif insn.is_mov_imm and insn.dst == reg:
        value, is32 = insn.loaded_constant, insn.klass == Class.ALU
    else:
        return None
    return (value, is32) if 0 <= value < 1 << 31 else None


def _may_goto_sites(am, func: Function, flow, stubbed: dict[int, int]) -> list[MayGotoSite]:
    indexes = [i for i, insn in enumerate(func.insns) if insn.is_may_goto]
    if not indexes:
        return []  # most functions: no loops or liveness needed
    from bpfrewrite.passes.analysis.cfg import CFG
    from bpfrewrite.passes.analysis.liveness import Liveness
    from bpfrewrite.passes.analysis.loops import Loops

    cfg = am.get(CFG, func)
    loops = am.get(Loops, func).loops
    slots = cfg.slots
    out = []
    handled: dict[int, int] = {}  # loop header block -> the may_goto whose back-edge form leaves it
    for index in indexes:
        target = cfg.targets[index]
        here, exit_block = cfg.block_of[index], cfg.block_of[target]
        guarded = [lp for lp in loops if here in lp.blocks and exit_block not in lp.blocks]
        leaves = frozenset(lp.header for lp in guarded)
        constant = _constant_reg(func, flow, stubbed, index)
        if constant is not None:
            reg, value, is32 = constant
            out.append(MayGotoSite(index, reg, value, is32, "compare", target, leaves=leaves,
                                   why=f"r{reg} is {value} on every path here"))
            continue
        if _fall_through_reached_otherwise(cfg, index, target):
            out.append(MayGotoSite(index, None, 0, False, "goto", target, leaves=leaves,
                                   why="the code after it is also reached from elsewhere, so a plain `goto` "
                                   "leaves nothing unreachable"))
            continue
        if not guarded:
            out.append(MayGotoSite(index, target=target, why="no register holds a known constant here and its "
                                   "exit leaves no loop around it"))
            continue
        edges: list[int] = []
        done: set[int] = set()
        refused: list[tuple[int, str]] = []
        live = am.get(Liveness, func).live_at_block(exit_block)
        for lp in guarded:
            if lp.header in handled:
                done.add(lp.header)
                continue
            jumps, why = _back_edge_jumps(cfg, lp)
            for j in jumps:
                why = why or _state_differs(flow, live, j, index, target, slots)
            if why is not None:
                refused.append((lp.header, why))
                continue
            edges.extend(jumps)
            done.add(lp.header)
            handled[lp.header] = index
        unhandled = tuple(sorted(leaves - done))
        if not done:
            out.append(MayGotoSite(index, target=target, unhandled=unhandled, refusals=tuple(refused),
                                   why="no register holds a known constant here, and " + "; ".join(r for _, r in refused)))
            continue
        first = slots[0]
        at = ", ".join(str(slots[j] - first) for j in sorted(edges))
        why = (f"no register holds a known constant here; the loop's back edge{'s' if len(edges) != 1 else ''} "
               f"at slot {at} jump{'s' if len(edges) == 1 else ''} to this may_goto's exit (slot "
               f"{slots[target] - first}), so the twin runs at most one iteration"
               if edges else "its loops are left through the back edges of another may_goto")
        if refused:
            why += "; a loop around it is not left: " + "; ".join(r for _, r in refused)
        out.append(MayGotoSite(index, None, 0, False, "back-edge", target, tuple(sorted(edges)),
                               frozenset(done), why, unhandled, tuple(refused)))
    return out


def _constant_reg(func: Function, flow, stubbed: dict[int, int], index: int) -> tuple[int, int, bool] | None:
    """(register, value, 32-bit) of a register holding one known constant on every path to index."""
    for reg in range(10):
        defs = flow.reaching(index, reg)
        if not defs or ENTRY in defs:
            continue
        values = {_constant_def(flow.insns[d], reg, stubbed, d) for d in defs}  # func.insns: a slice per call
        if len(values) == 1 and None not in values:
            value, is32 = values.pop()
            return reg, value, is32
    return None


def _fall_through_reached_otherwise(cfg, index: int, target: int) -> bool:
    """Does the block after the may_goto stay reachable when the may_goto becomes `goto target`?

    check_cfg rejects unreachable instructions. The successor stays reachable when another
    predecessor reaches it on a path avoiding it (one it does not dominate); what it reached
    before then stays reachable too.
    """
    if index + 1 >= len(cfg.block_of) or index + 1 == target:
        return False
    here, after = cfg.block_of[index], cfg.block_of[index + 1]
    return any(p != here and p in cfg.idom and not cfg.dominates(after, p) for p in cfg.graph.predecessors(after))


def _back_edge_jumps(cfg, loop) -> tuple[list[int], str | None]:
    """The jump instructions of loop's back edges, or why one cannot be retargeted in place."""
    header_start = cfg.blocks[loop.header].start
    first = cfg.slots[0]
    jumps = []
    insns = cfg.func.insns  # a slice of the section: once, not once per latch
    for latch in loop.latches:
        j = cfg.blocks[latch].last
        insn = insns[j]
        if not (insn.is_uncond_jump or insn.is_cond_jump) or cfg.targets.get(j) != header_start:
            return [], (f"the back edge from slot {cfg.slots[j] - first} to the loop head at slot "
                        f"{cfg.slots[header_start] - first} is a fall-through, which no same-width jump can redirect")
        jumps.append(j)
    return jumps, None


def _state_differs(flow, live: list[int], jump: int, may_goto: int, target: int, slots: list[int]) -> str | None:
    """Why the exit path, entered from jump instead of may_goto, may see a state it was not verified with."""
    first = slots[0]
    for loc in live:
        at_may_goto = set(flow.reaching(may_goto, loc))
        extra = set(flow.reaching(jump, loc)) - at_may_goto
        # A plain number on both paths is the same kind of value to the verifier (its range aside).
        if extra and (ENTRY in extra or not _only_scalars(flow, extra | at_may_goto, loc)):
            name = flow.locs.name(loc)
            what = "may be undefined" if ENTRY in extra else "holds a value the may_goto never sees"
            return (f"{name}, read after the exit (slot {slots[target] - first}), {what} at the back edge "
                    f"(slot {slots[jump] - first}), and it is not a plain number on both paths")
    return None


def _only_scalars(flow, defs: set[int], loc: int) -> bool:
    """Do the definitions of loc in defs all write plain numbers (never a pointer, never nothing)?

    Followed back through reaching definitions: a value is a number when every value it is made
    from is. Instructions the verifier refuses on pointers (mul, and, shifts, 32-bit ALU, ...)
    always give numbers; add, sub and moves give one when their operands are; a store to the stack
    (spill) writes its register's value, a load from it (fill) reads what was stored there (a fill
    narrower than 8 bytes of a spilled pointer is refused: a number); other loads, atomics, calls
    and the function's entry are unknown. Each (definition, location) is visited once per query,
    so a cycle counts as numbers when everything that enters it does.
    """
    insns, locs = flow.insns, flow.locs
    todo = [(d, loc) for d in defs]
    seen: set[tuple[int, int]] = set()
    while todo:
        d, where = todo.pop()
        if (d, where) in seen:
            continue
        seen.add((d, where))
        if d == ENTRY:
            return False
        insn = insns[d]
        cls = insn.klass
        needs: list[tuple[int, int]] = []  # (instruction whose inputs count, register or slot read there)
        if where >= NREGS:  # a stack slot: what the store at d wrote
            if not insn.is_store:
                return False  # an atomic, a call clobbering an escaped slot
            if cls == Class.ST:
                continue  # an immediate
            if insn.mem_access[0] != FP:
                return False  # a store through another pointer
            needs.append((d, insn.src))
        elif cls == Class.ALU:
            continue  # 32-bit ALU on a pointer is refused
        elif cls == Class.ALU64:
            op = insn.operation
            if op == AluOp.MOV:
                if insn.src_is_reg and insn.off == 0:
                    needs.append((d, insn.src))
            elif op in (AluOp.ADD, AluOp.SUB):
                needs.append((d, insn.dst))
                if insn.src_is_reg:
                    needs.append((d, insn.src))
            # any other op on a pointer is refused: a number
        elif insn.is_ld_imm64:
            if insn.loaded_constant is None:
                return False  # a map, a function, a kfunc address
        elif cls == Class.LDX and insn.mem_access is not None:
            base, off, size = insn.mem_access
            if base != FP:
                return False  # context fields and map values may hold pointers
            if size == 8:
                slot = locs.index.get((off, 8))
                if slot is None:
                    return False
                needs.append((d, slot))
        else:
            return False
        for at, source in needs:
            todo.extend((def_index, source) for def_index in flow.reaching(at, source))
    return True


def _return_sites(func: Function, flow, stubbed: dict[int, int], also: str | None) -> list[ReturnSite]:
    insns = func.insns
    exits = {i for i, insn in enumerate(insns) if insn.is_exit}
    shared = f"the function is also the callback of {also}, which checks its return value itself" if also else None
    out: dict[int, ReturnSite] = {}
    for exit_index, defs in sorted(flow.exit_r0_defs().items()):
        for d in sorted(defs):
            if d == ENTRY:
                out.setdefault(exit_index, ReturnSite(exit_index, "r0 is not set on some path to this exit"))
            else:
                others = sorted(set(flow.uses_of(d, 0)) - exits)
                if not shared and _constant_def(insns[d], 0, stubbed, d) == (RETURN_STOP, insns[d].code == MOV32_IMM):
                    # Already `r0 = 1`: the twin changes nothing, so other uses of the 1 are unaffected.
                    out.setdefault(d, ReturnSite(d, None))
                    continue
                why = shared or _blocker(insns[d], d, stubbed) or ("the returned value is also used" if others else None)
                out.setdefault(d, ReturnSite(d, why, others[0] if others and why and not shared else None))
    return sorted(out.values(), key=lambda s: s.index)


def _blocker(insn, index: int, stubbed: dict[int, int]) -> str | None:
    """Why the instruction defining r0 at index cannot become `r0 = 1` in place, or None."""
    if insn.is_ld_imm64 and insn.loaded_constant is None:
        return f"r0 is an address (`{insn.text()}`)"
    if insn.is_call and index not in stubbed:
        return f"r0 comes from `{insn.text()}`, a call the twin keeps"
    if insn.is_atomic or insn.is_store:
        return f"r0 comes from `{insn.text()}`, which changes memory the twin must keep changing"
    return None
