"""The values r0 can hold at a function's exits: known constants, plus "unknown" where computed.

Conditional constant propagation (Wegman and Zadeck's, on the CFG): each location (register or
r10-relative stack slot, as bpfrewrite/passes/analysis/dataflow.py numbers them) holds a set of at most
MAX_VALUES 64-bit values, possibly with UNK ("and unknown values": a return path through a
helper's result keeps the constants of the other paths); a block is executable once an executable
edge reaches it, and a conditional jump whose operands are known makes executable only the edges
its outcomes take.
So a stubbed `r0 = 0` followed by `if r0 == 0 goto drop` leaves the pass path dead, which is what
a twin's verdict hinges on. States only grow toward UNKNOWN, so each block is visited a bounded
number of times: linear in the size of the function (measured in tests/test_verdicts.py).

Followed: `mov` (imm, register, 32-bit, sign-extending), ALU with known operands, ld_imm64 of a plain
constant, 8- and 4-byte spills and fills through r10, and bpf-to-bpf calls (the callee's own exit
values). Anything else (helper and kfunc results, loads from memory, the context) is UNKNOWN.

Two object-scope analyses share the solver (a caller's values depend on its callees', so one result
covers the object and is dropped whenever any function changes): `return-values` reads each
function's code as it is; `twin-return-values` reads each original as its fast-path twin will be
(the FastPathPlan's stubs, callback returns and may_goto exits applied in place, without writing
the twin), so `lint` can say what a twin returns before `patch` runs.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from bpfrewrite.isa.opcodes import AluOp, Class, Mode
from bpfrewrite.isa.semantics import alu, jump_condition, sext
from bpfrewrite.kernel import table
from bpfrewrite.model import Function, Object
from bpfrewrite.passes.analysis.cfg import CFG, EXIT
from bpfrewrite.passes.analysis.dataflow import ENTRY, FP, NREGS, Dataflow
from bpfrewrite.passes.manager import Analysis, AnalysisManager, register

MAX_VALUES = 16
WIDEN_AFTER = 2  # rounds a loop header may grow before its growing values widen to unknown
UNK = "?"  # in a value set: "and values the analysis does not know"
UNKNOWN = frozenset({UNK})  # nothing known (a location absent from a state holds this)
_M64 = (1 << 64) - 1
_M32 = (1 << 32) - 1


@dataclass(frozen=True)
class ExitValues:
    """What r0 holds at a function's reachable exits (raw 64-bit values)."""

    values: frozenset[int]
    unknown: bool  # some exit may return a value the analysis does not know
    tail_call: bool  # an executable path makes a tail call: another program's value may be returned
    # value (None: unknown) -> the definitions of r0 giving it at an exit (list indexes; ENTRY: none)
    origins: dict[int | None, tuple[int, ...]]
    executable: frozenset[int]  # blocks some path from the entry can run
    decided: frozenset[int]  # executable conditional jumps that can go one way only
    visits: int = 0  # instructions evaluated (the work done: linear in the function's size)


class _Solver:
    """One run of the propagation over one function.

    A state maps each location known to hold one of a few values to their set; a location not
    in it may hold anything (the entry state is empty: arguments, the context, r10 and undefined
    registers are not constants). States only lose keys and grow sets at joins, so each block is
    visited a bounded number of times; a function has at most 11 registers and the slots of a
    512-byte stack as locations, so a visit costs its block's length plus a small join.
    """

    def __init__(self, am: AnalysisManager, func: Function, twin: bool, callee_values):
        self.am = am
        self.func = func
        self.twin = twin
        self.callee_values = callee_values  # Function -> ExitValues (None: being solved)
        self.cfg = am.get(CFG, func)
        self.rd = am.get(Dataflow, func)
        self.insns = self.rd.insns
        self.r0_override: dict[int, int] = {}
        self.taken_may_gotos: set[int] = set()
        self.redirect: dict[int, int] = {}  # jump index -> the target the twin gives it
        if twin:
            from bpfrewrite.passes.analysis.fastpath_plan import RETURN_STOP, FastPathPlan

            plan = am.get(FastPathPlan, func)
            self.r0_override = dict(plan.stubbed())
            self.r0_override.update({r.index: RETURN_STOP for r in plan.returns if r.blocker is None})
            # may_goto forms (TakeMayGotoExit): compare and goto always take the exit edge;
            # back-edge keeps the may_goto and sends each back edge to the exit instead.
            self.taken_may_gotos = {m.index for m in plan.may_gotos if m.form in ("compare", "goto")}
            self.redirect = {j: m.target for m in plan.may_gotos if m.form == "back-edge" for j in m.back_edges}
        self.block_in: list[dict | None] = [None] * len(self.cfg.blocks)  # None: not reached yet
        self.r0_written: dict[int, frozenset | str] = {}  # instruction -> values it gave r0 (joined)
        self.exit_r0: dict[int, frozenset | str] = {}  # exit instruction -> values of r0 there
        self.tail_call = False
        self.decided: set[int] = set()
        self.visits = 0

    # ----- values ---------------------------------------------------------------------------
    def evaluate(self, index: int, loc: int, state: dict):
        """The values instruction index gives loc, from the state before it."""
        insn = self.insns[index]
        if loc == 0 and index in self.r0_override:
            return frozenset({self.r0_override[index] & _M64})
        if loc >= NREGS:
            return self._stored(insn, loc, state)
        if insn.is_call:
            return self._called(insn) if loc == 0 else UNKNOWN
        if insn.is_ld_imm64:
            value = insn.loaded_constant  # None for an address (a map, a function, an extern)
            return frozenset({value}) if value is not None else UNKNOWN
        if insn.klass == Class.LDX and insn.mode in (Mode.MEM, Mode.MEMSX) and insn.src == FP:
            return self._filled(insn, state)
        if not insn.is_alu or loc != insn.dst:
            return UNKNOWN
        bits = insn.operand_bits
        mask = (1 << bits) - 1
        op = insn.operation
        if insn.src_is_reg:
            b = state.get(insn.src, UNKNOWN)
        else:
            b = frozenset({(insn.imm & _M64) if bits == 64 else (insn.imm & _M32)})
        if op == AluOp.MOV:  # mov: the source's values (sign-extending forms: off is the source width)
            if insn.src_is_reg and insn.off:
                if insn.off not in (8, 16, 32):  # no movsx the kernel accepts (a corrupt object)
                    return UNKNOWN
                return _map(b, lambda v: sext(v, insn.off) & mask)
            return _map(b, lambda v: v & mask)
        a = state.get(insn.dst, UNKNOWN)
        if op == AluOp.NEG:
            b = frozenset({0})
        if a == UNKNOWN or b == UNKNOWN:
            return UNKNOWN
        out = set()
        for x in a:
            for y in b:
                r = UNK if x is UNK or y is UNK else alu(op, x, y, bits, insn.off)
                if r is None:
                    return UNKNOWN
                out.add(r)
        return frozenset(out) if len(out) <= MAX_VALUES else UNKNOWN

    def _called(self, insn):
        entry = table.table_for(insn)
        if entry is not None and table.Role.TAIL_CALL in entry.roles:
            self.tail_call = True
        target = insn.ref.target if insn.ref is not None else None
        if target is None or not insn.is_pseudo_call:
            return UNKNOWN
        callee = self.callee_values(target)
        if callee is None:
            return UNKNOWN
        self.tail_call |= callee.tail_call
        if not callee.values or len(callee.values) >= MAX_VALUES:
            return UNKNOWN
        return callee.values | UNKNOWN if callee.unknown else callee.values

    def _stored(self, insn, loc: int, state: dict):
        """A stack slot written by a store that holds the slot's whole value (the low bytes of a wider store)."""
        if not insn.is_store or insn.dst != FP:
            return UNKNOWN  # calls and stores through pointers clobbering escaped slots, atomics
        off, size = self.rd.locs.slots[loc - NREGS]
        # The low bytes of a wider store sit at its offset in bpfel, at its end in bpfeb.
        low = insn.off + insn.access_bytes - size if self.rd.locs.big_endian else insn.off
        if off != low or size > insn.access_bytes:
            return UNKNOWN
        v = state.get(insn.src, UNKNOWN) if insn.klass == Class.STX else frozenset({insn.imm & _M64})
        return _map(v, lambda x: x & ((1 << (8 * size)) - 1))

    def _filled(self, insn, state: dict):
        size = insn.access_bytes
        loc = self.rd.stack_location(insn.off, size)
        v = UNKNOWN if loc is None else state.get(loc, UNKNOWN)
        if insn.mode == Mode.MEMSX:
            return _map(v, lambda x: sext(x, 8 * size) & _M64)
        return v

    def outcomes(self, index: int, state: dict) -> set[bool]:
        """What the conditional jump at index can do, as a subset of {True, False}."""
        insn = self.insns[index]
        bits = insn.operand_bits
        a = state.get(insn.dst, UNKNOWN)
        b = state.get(insn.src, UNKNOWN) if insn.src_is_reg else frozenset({insn.imm & _M64})
        if UNK in a or UNK in b:
            return {True, False}
        out: set[bool] = set()
        for x in a:
            for y in b:
                r = jump_condition(insn.operation, x, y, bits)
                out |= {True, False} if r is None else {r}
        return out

    # ----- propagation ----------------------------------------------------------------------
    def _run_block(self, b: int) -> tuple[dict, list[int]]:
        """The state after block b and the successors its last instruction can reach."""
        cfg, rd, insns = self.cfg, self.rd, self.insns
        block = cfg.blocks[b]
        state = dict(self.block_in[b])
        self.visits += block.end - block.start
        for i in range(block.start, block.end):
            defs = rd.defs_of(i)
            if insns[i].is_exit:
                self.exit_r0[i] = state.get(0, UNKNOWN)
            if not defs:
                continue
            new = [(loc, self.evaluate(i, loc, state)) for loc in defs]
            for loc, v in new:
                if v == UNKNOWN:
                    state.pop(loc, None)
                else:
                    state[loc] = v
                if loc == 0:
                    self.r0_written[i] = _join(self.r0_written.get(i), v)
        insn = insns[block.last]
        succs = cfg.succs(b)
        if block.last in self.redirect:
            to = cfg.block_of[self.redirect[block.last]]
            succs = [(to if k in ("taken", "jump") else d, k) for d, k in succs]
        if insn.is_cond_jump:
            outcome = self.outcomes(block.last, state)
            (self.decided.add if len(outcome) == 1 else self.decided.discard)(block.last)
            has_fall = any(k == "fallthrough" for _, k in succs)
            nxt = [d for d, k in succs
                   if (k == "taken" and (True in outcome or not has_fall)) or (k == "fallthrough" and False in outcome)]
        elif insn.is_may_goto and block.last in self.taken_may_gotos:
            nxt = [d for d, k in succs if k == "may_goto"]
        else:
            nxt = [d for d, _ in succs]
        return state, [d for d in nxt if d != EXIT]

    def solve(self) -> ExitValues:
        blocks = self.cfg.blocks
        if not blocks:
            return self._exits()
        self.block_in[self.cfg.entry] = {}
        work = deque([self.cfg.entry])
        queued = [False] * len(blocks)
        queued[self.cfg.entry] = True
        grown = [0] * len(blocks)
        while work:
            b = work.popleft()
            queued[b] = False
            state, nxt = self._run_block(b)
            for d in nxt:
                old = self.block_in[d]
                new = state if old is None else _join_states(old, state)
                if old is not None and new != old and d <= b:
                    # A back edge (every cycle has one target at or before its source in
                    # layout order) that keeps growing its target's values: after WIDEN_AFTER
                    # rounds the growing locations become unknown, so a loop costs a few
                    # passes over its body, not one per value up to MAX_VALUES.
                    grown[d] += 1
                    if grown[d] > WIDEN_AFTER:
                        new = {loc: v for loc, v in new.items() if old.get(loc) == v}
                if old is None or new != old:
                    self.block_in[d] = new
                    if not queued[d]:
                        queued[d] = True
                        work.append(d)
        return self._exits()

    def _exits(self) -> ExitValues:
        found: set = set()
        origins: dict[int | None, set[int]] = {}
        for i, v in self.exit_r0.items():
            found |= v
            for d in self.rd.reaching(i, 0):  # which definitions of r0 gave the exit each value
                if d == ENTRY or self.block_in[self.cfg.block_of[d]] is None:
                    continue
                for x in self.r0_written.get(d, UNKNOWN) & v:
                    origins.setdefault(None if x is UNK else x, set()).add(d)
        return ExitValues(
            values=frozenset(x for x in found if x is not UNK), unknown=UNK in found or self.tail_call,
            tail_call=self.tail_call,
            origins={k: tuple(sorted(v)) for k, v in origins.items()},
            executable=frozenset(b for b, s in enumerate(self.block_in) if s is not None),
            decided=frozenset(self.decided),
            visits=self.visits,
        )


def _map(values: frozenset, fn) -> frozenset:
    """fn applied to each known value (UNK stays)."""
    return frozenset(x if x is UNK else fn(x) for x in values)


def _join(a, b):
    """The join of two values (None: nothing yet)."""
    if a is None:
        return b
    out = a | b
    return out if len(out) <= MAX_VALUES else UNKNOWN


def _join_states(a: dict, b: dict) -> dict:
    """Each location's values joined (a location absent from a state holds UNKNOWN)."""
    out = {}
    for loc in a.keys() | b.keys():
        v, w = a.get(loc, UNKNOWN), b.get(loc, UNKNOWN)
        j = v if v == w else _join(v, w)
        if j != UNKNOWN:
            out[loc] = j
    return out


def _solve_all(am: AnalysisManager, obj: Object, twin: bool) -> dict[Function, ExitValues]:
    """Every function's exit values, callees first (BPF has no recursion; a cycle gives UNKNOWN)."""
    memo: dict[Function, ExitValues | None] = {}

    def of(func: Function) -> ExitValues | None:
        if func not in memo:
            memo[func] = None  # in progress
            memo[func] = _Solver(am, func, twin, of).solve()
        return memo[func]

    for func in obj.functions:
        of(func)
    return memo  # type: ignore[return-value]


@register
class ReturnValues(Analysis):
    """The values r0 can hold at each function's exits, from its code as it is: {function: ExitValues}."""

    name = "return-values"
    scope = "object"  # a caller's values depend on its callees': one result for the object
    requires = frozenset({"cfg", "dataflow"})

    @classmethod
    def run(cls, am: AnalysisManager, unit: Object) -> dict[Function, ExitValues]:
        """Propagate constants over every function of the object."""
        return _solve_all(am, unit, twin=False)


@register
class TwinReturnValues(Analysis):
    """The values r0 can hold at the exits of each function's fast-path twin, read from the original."""

    name = "twin-return-values"
    scope = "object"
    requires = frozenset({"cfg", "dataflow", "fastpath-plan"})

    @classmethod
    def run(cls, am: AnalysisManager, unit: Object) -> dict[Function, ExitValues]:
        """Propagate constants over every function with its FastPathPlan's in-place changes applied."""
        return _solve_all(am, unit, twin=True)
