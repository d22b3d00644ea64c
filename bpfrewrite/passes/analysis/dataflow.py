"""Reaching definitions, def-use chains, and value tracking through copies, extensions and spills.

Locations are registers r0-r10 and the 8- and 4-byte stack slots a function accesses through r10
(`*(u64 *)(r10 - 8)`). A definition is (instruction index, location); ENTRY (-1) stands for the value
a location holds when the function starts (r1 the context, r10 the frame pointer, the rest undefined).
Reaching definitions are solved on demand, one location at a time: the set entering a block is
the union over its predecessors of their last definition of the location, or of their own entry
set when they leave it alone; those blocks are solved together by strongly connected components
and memoised. Time and memory stay linear in the function for the queries the passes make, where
bitsets per block would be sized blocks x definitions (quadratic on one 80k-instruction function).

Stack slots whose address escapes (`r2 = r10; r2 += -16` passed to a helper) may be written behind
the analysis's back: a call or a store through any other pointer counts as a redefinition of every
slot at or above the lowest escaped offset. Calls read r1-r5 (the analysis does not know arities).

`result_tested` and `value_consumers` follow one value along paths (not merged sets): the value is
carried by the registers and stack slots it is copied to through moves (`r1 = r0`, `w1 = w0`, movsx),
by the shifts and masks clang uses to extend it (`r0 <<= 32; r0 >>= 32`, `r1 &= 0xff`), and through
spills and fills; any other write to a carrier drops it.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import deque
from typing import Iterator

from bpfrewrite import budget
from bpfrewrite.byteorder import BIG, LITTLE
from bpfrewrite.isa.opcodes import (
    ADD64_IMM,
    ADD64_REG,
    LDX_DW,
    MOV64_REG,
    STX_DW,
    SUB64_IMM,
    SUB64_REG,
    AluOp,
    Class,
    Mode,
)
from bpfrewrite.model import Function
from bpfrewrite.passes.analysis.cfg import CFG, EXIT, ControlFlowGraph
from bpfrewrite.passes.manager import Analysis, AnalysisManager, register

ENTRY = -1  # "defined before the function started" (or never defined)
FP = 10
NREGS = 11

_TRACKED_SIZES = (8, 4)


def _is_store(insn) -> bool:
    return insn.klass in _STORE_CLASSES


_STORE_CLASSES = (Class.ST, Class.STX)


def shape(insn) -> tuple[int, int, int, int, int]:
    """What the registers and stack slots an instruction reads and writes depend on.

    Unrolled code repeats a few thousand encodings tens of thousands of times; analyses decide
    each shape once. imm matters only to atomics (fetch, cmpxchg), off only to memory accesses.
    """
    code = insn.code
    return code, insn.dst, insn.src, insn.off, insn.imm if insn.is_atomic else 0


class _Locations:
    """Numbering of a function's locations: registers 0-10, then r10-relative stack slots."""

    def __init__(self, func: Function, insns=None, byte_order: str = LITTLE):
        insns = func.insns if insns is None else insns
        # The object's byte order (Object.byte_order): which half of a spilled 64-bit value a
        # 4-byte fill reads, and which END instruction is a plain zero-extension.
        self.big_endian = byte_order == BIG
        slots: set[tuple[int, int]] = set()
        escape = None  # lowest escaped stack offset; None when no address escapes
        seen: dict[tuple, tuple] = {}  # the same encoding gives the same answer: decide it once
        for i, insn in enumerate(insns):
            key = shape(insn)
            got = seen.get(key)
            if got is None:
                acc = insn.mem_access
                plain = acc is not None and insn.mode != Mode.ATOMIC
                slot = (acc[1], acc[2]) if acc is not None and acc[0] == FP and acc[2] in _TRACKED_SIZES else None
                # an r10-based load or store does not leak the frame address
                private = plain and acc[0] == FP and not (_is_store(insn) and insn.src == FP)
                got = seen[key] = (slot, not private and FP in insn.uses())
            slot, leaks = got
            if slot is not None:
                slots.add(slot)
            if leaks:
                low = _escaped_offset(insns, i)
                escape = low if escape is None else min(escape, low)
        self.slots = sorted(slots)
        self.index = {s: NREGS + k for k, s in enumerate(self.slots)}
        self.count = NREGS + len(self.slots)
        self.escaped = {self.index[s] for s in self.slots if escape is not None and s[0] + s[1] > escape}

    def overlapping(self, off: int, size: int) -> list[int]:
        """Stack locations sharing a byte with [off, off+size)."""
        return [self.index[s] for s in self.slots if s[0] < off + size and off < s[0] + s[1]]

    def name(self, loc: int) -> str:
        """A location as text: r3, fp-8/8."""
        if loc < NREGS:
            return f"r{loc}"
        off, size = self.slots[loc - NREGS]
        return f"fp{off:+d}/{size}"


def _escaped_offset(insns, i: int) -> int:
    """Lowest stack offset reachable through the address instruction i leaks."""
    # clang materialises a stack address as `rX = r10; rX += K`; the object there may extend up
    # to the frame top (the size is unknown). Any other use of r10 leaks the whole frame.
    insn = insns[i]
    if insn.code == MOV64_REG and insn.src == FP and i + 1 < len(insns):
        nxt = insns[i + 1]
        if nxt.code == ADD64_IMM and nxt.dst == insn.dst:
            return nxt.imm
    return -(1 << 15)


def insn_defs(insn, locs: _Locations) -> list[int]:
    """Locations instruction insn writes (registers, stack slots, clobbered escaped slots)."""
    out = sorted(insn.defs())
    acc = insn.mem_access
    if acc is not None and _is_store(insn):
        base, off, size = acc
        if base == FP:
            out.extend(locs.overlapping(off, size))
        elif locs.escaped:
            out.extend(sorted(locs.escaped))
    elif insn.is_call and locs.escaped:
        out.extend(sorted(locs.escaped))
    return out


def insn_uses(insn, locs: _Locations) -> list[int]:
    """Locations instruction insn reads (registers and r10-relative stack slots)."""
    out = sorted(insn.uses())
    acc = insn.mem_access
    if acc is not None and acc[0] == FP and insn.klass == Class.LDX:
        out.extend(locs.overlapping(acc[1], acc[2]))
    return out


class ReachingDefinitions:
    """Reaching definitions and def-use chains of one function, answered on demand.

    Nothing here is sized blocks x definitions: a query for one location at one instruction looks
    back inside the block (a bisect over that location's definitions) and otherwise asks for the
    block's entry set, which is solved for that location only, over the blocks that do not define
    it, and memoised. Def-use chains are walked forward from the definition when asked.
    """

    def __init__(self, func: Function, cfg: ControlFlowGraph, byte_order: str = LITTLE):
        self.func = func
        self.cfg = cfg
        self.insns = insns = func.insns  # func.insns slices the section: keep one copy
        self.locs = locs = _Locations(func, insns, byte_order)
        # Tuples of ints: the collector stops tracking them, which keeps large objects linear.
        seen: dict[tuple, tuple] = {}
        self._defs, self._uses = [], []
        for insn in insns:
            key = shape(insn)
            got = seen.get(key)
            if got is None:
                got = seen[key] = (tuple(insn_defs(insn, locs)), tuple(insn_uses(insn, locs)))
            self._defs.append(got[0])
            self._uses.append(got[1])
        self._per_loc: list[list[int]] = [[] for _ in range(locs.count)]  # ascending def indexes
        for i, ds in enumerate(self._defs):
            for loc in ds:
                lst = self._per_loc[loc]
                if not lst or lst[-1] != i:
                    lst.append(i)
        blocks = cfg.blocks
        self._last: list[dict[int, int]] = [{} for _ in blocks]  # block -> loc -> its last def there
        for b in blocks:
            last = self._last[b.id]
            for i in range(b.start, b.end):
                for loc in self._defs[i]:
                    last[loc] = i
        self._preds: list[list[int]] = [[] for _ in blocks]
        self._succs: list[list[int]] = [[] for _ in blocks]
        for s, d in cfg.graph.edges():
            if s != EXIT and d != EXIT:
                self._preds[d].append(s)
                self._succs[s].append(d)
        self._in: list[dict[int, frozenset[int]]] = [{} for _ in range(locs.count)]  # loc -> block -> set

    # ----- solving, one location at a time ------------------------------------------------
    def _block_in(self, block: int, loc: int) -> frozenset[int]:
        """Definitions of loc reaching the start of block (the least fixed point, as a worklist finds)."""
        memo = self._in[loc]
        got = memo.get(block)
        if got is not None:
            return got
        # Tarjan's SCCs over "needs the entry set of" edges to predecessors that leave loc alone:
        # every block of one component has the same entry set, so each block is solved once.
        last, preds, entry = self._last, self._preds, self.cfg.entry
        order: dict[int, int] = {}
        low: dict[int, int] = {}
        stack: list[int] = []
        on_stack: set[int] = set()
        frames = [(block, iter(preds[block]))]
        order[block] = low[block] = 0
        stack.append(block)
        on_stack.add(block)
        while frames:
            node, it = frames[-1]
            advanced = False
            for p in it:
                if loc in last[p] or p in memo:
                    continue
                if p not in order:
                    order[p] = low[p] = len(order)
                    stack.append(p)
                    on_stack.add(p)
                    frames.append((p, iter(preds[p])))
                    advanced = True
                    break
                if p in on_stack and order[p] < low[node]:
                    low[node] = order[p]
            if advanced:
                continue
            frames.pop()
            if frames:
                parent = frames[-1][0]
                if low[node] < low[parent]:
                    low[parent] = low[node]
            if low[node] != order[node]:
                continue
            if len(order) % budget.EVERY == 0:
                budget.check(f"the dataflow analysis of function {self.func.name!r}")
            members = []
            while True:
                m = stack.pop()
                on_stack.discard(m)
                members.append(m)
                if m == node:
                    break
            inside = set(members)
            found: set[int] = set()
            shared = None  # reuse an equal set instead of storing a copy per block
            for m in members:
                if m == entry:
                    found.add(ENTRY)
                for p in preds[m]:
                    d = last[p].get(loc)
                    if d is not None:
                        found.add(d)
                    elif p not in inside:
                        s = memo[p]
                        found |= s
                        shared = s
            result = shared if shared is not None and len(shared) == len(found) else frozenset(found)
            for m in members:
                memo[m] = result
        return memo[block]

    def _before(self, index: int, loc: int) -> int | None:
        """The last definition of loc in index's block before index, if any."""
        lst = self._per_loc[loc]
        k = bisect_left(lst, index) - 1
        if k >= 0 and lst[k] >= self.cfg.blocks[self.cfg.block_of[index]].start:
            return lst[k]
        return None

    # ----- queries -----------------------------------------------------------------------
    def reaching(self, index: int, loc: int) -> list[int]:
        """Instruction indexes whose definition of loc reaches instruction index (ENTRY = -1)."""
        d = self._before(index, loc)
        if d is not None:
            return [d]
        return sorted(self._block_in(self.cfg.block_of[index], loc))

    def reaching_block_end(self, block: int, loc: int) -> list[int]:
        """Definitions of loc live at the end of block (ENTRY = -1)."""
        d = self._last[block].get(loc)
        if d is not None:
            return [d]
        return sorted(self._block_in(block, loc))

    def uses_of(self, def_index: int, loc: int) -> list[int]:
        """Instructions reading the definition of loc made by instruction def_index (or ENTRY)."""
        blocks, uses, defs = self.cfg.blocks, self._uses, self._defs
        if def_index == ENTRY:
            if not blocks:
                return []
            starts, scans = {self.cfg.entry}, [(blocks[self.cfg.entry].start, self.cfg.entry)]
        else:
            if loc not in defs[def_index]:
                return []
            b = self.cfg.block_of[def_index]
            starts, scans = set(), [(def_index + 1, b)]
        out: set[int] = set()
        while scans:
            i, b = scans.pop()
            end = blocks[b].end
            killed = False
            while i < end:
                if loc in uses[i]:
                    out.add(i)
                if loc in defs[i]:
                    killed = True
                    break
                i += 1
            if killed:
                continue
            for s in self._succs[b]:
                if s not in starts:
                    starts.add(s)
                    scans.append((blocks[s].start, s))
        return sorted(out)

    def defs_of(self, index: int) -> tuple[int, ...]:
        """Locations instruction index defines."""
        return self._defs[index]

    def exit_r0_defs(self) -> dict[int, set[int]]:
        """For each exit instruction, the instructions whose r0 reaches it (ENTRY: none on a path)."""
        return {
            i: set(self.reaching(i, 0))
            for i, insn in enumerate(self.insns)
            if insn.is_exit
        }

    def stack_location(self, off: int, size: int) -> int | None:
        """The location number of the stack slot r10+off of size bytes, if the function uses it."""
        return self.locs.index.get((off, size))

    # ----- value tracking -----------------------------------------------------------------
    def first_untested_use(self, call_index: int, before_index: int | None = None) -> int | None:
        """Where the value returned by the call at call_index is first reached untested, or None.

        With before_index: the value must be tested on every path from the call to before_index;
        the answer is before_index when some path reaches it untested. Without: on every path the
        value must be tested before it is dereferenced, passed to a call, returned, or lost (its
        last copy overwritten); the answer is the first such instruction (breadth-first).
        """
        insn = self.insns[call_index]
        if not insn.is_call:
            raise ValueError(f"instruction {call_index} of {self.func.name} is not a call")
        return _untested(self, call_index, before_index)

    def result_tested(self, call_index: int, before_index: int | None = None) -> bool:
        """Is the call's result tested by a conditional jump on every path (see first_untested_use)?"""
        return self.first_untested_use(call_index, before_index) is None

    def untested_region(self, call_index: int) -> list[int]:
        """Instructions some path from the call reaches while its result is still carried untested."""
        return sorted({i for i, event, _ in _walk(self, call_index, frozenset({0})) if event != "test"})

    def accesses_before_test(self, call_index: int, ptr_reg: int) -> list[int]:
        """Memory accesses, reached before the call's result is tested, through a pointer derived
        from the one the call received in ptr_reg (its object: a lock's map value)."""
        roots = {r for r in self.pointer_roots(call_index, ptr_reg) if r >= 0}
        if not roots:
            return []
        out = []
        for i in self.untested_region(call_index):
            acc = self.insns[i].mem_access
            if acc is not None and acc[0] != FP and roots & self.pointer_roots(i, acc[0]):
                out.append(i)
        return out

    def value_stores(self, call_index: int) -> list[int]:
        """Stores (and atomics) through a non-stack pointer that write a copy of the value the call
        at call_index returned, on any path, tested or not."""
        out = set()
        for i, _, after in _walk(self, call_index, frozenset({0}), through_tests=True):
            insn = self.insns[i]
            acc = insn.mem_access
            if acc is not None and acc[0] != FP and insn.klass == Class.STX and insn.src in after:
                out.add(i)
        return sorted(out)

    def pointer_roots(self, index: int, reg: int) -> frozenset[int]:
        """The definitions the value of reg at index derives from through moves, offsets and spills.

        A root is an instruction index (a call, a load from memory, a constant) or -2-loc for the
        value a location holds at function entry. Two pointers with a root in common may point
        into the same object (`r8 = r6; r8 += r7` and `r1 = r6` both root at r6's definition).
        """
        out: set[int] = set()
        seen: set[tuple[int, int]] = set()
        work = [(d, reg) for d in self.reaching(index, reg)]
        while work:
            d, loc = work.pop()
            if (d, loc) in seen:
                continue
            seen.add((d, loc))
            if d == ENTRY:
                out.add(-2 - loc)
                continue
            sources = _derived_from(self.insns[d], loc, self.locs)
            if not sources:
                out.add(d)
            for src in sources:
                work.extend((e, src) for e in self.reaching(d, src))
        return frozenset(out)

    def value_consumers(self, index: int, reg: int) -> list[int]:
        """Calls that receive (in r1-r5) a copy of the value instruction index puts in reg."""
        out: set[int] = set()
        for i, event, _ in _walk(self, index, frozenset({reg})):
            if event == "call":
                out.add(i)
        return sorted(out)


def _derived_from(insn, loc: int, locs: _Locations) -> tuple[int, ...]:
    """Locations whose earlier value insn's new value of loc is a copy or offset of (empty: a new value)."""
    code = insn.code
    if loc < NREGS:
        if insn.dst != loc:
            return ()
        if code == MOV64_REG:  # r = r (64-bit move keeps a pointer)
            return (insn.src,)
        if code in (ADD64_IMM, SUB64_IMM):  # pointer += / -= constant
            return (loc,)
        if code in (ADD64_REG, SUB64_REG):  # pointer += / -= register: either side may be the pointer
            return (loc, insn.src)
        if code == LDX_DW and insn.src == FP:  # a 64-bit fill from the stack
            slot = locs.index.get((insn.off, 8))
            return (slot,) if slot is not None else ()
        return ()
    if code == STX_DW and insn.dst == FP and (insn.off, 8) == locs.slots[loc - NREGS]:
        return (insn.src,)  # a 64-bit spill
    return ()


# ----- following one value along paths --------------------------------------------------------

_ARGS = frozenset({1, 2, 3, 4, 5})
_CALL_CLOBBERS = frozenset({0, 1, 2, 3, 4, 5})


def _next_insns(cfg: ControlFlowGraph, i: int) -> list[int]:
    b = cfg.blocks[cfg.block_of[i]]
    if i + 1 < b.end:
        return [i + 1]
    return [cfg.blocks[d].start for d, _ in cfg.succs(b.id) if d != EXIT]


def _step(insn, carriers: frozenset, locs: _Locations) -> tuple[str | None, frozenset]:
    """The event at insn for a value carried by carriers, and the carriers after it."""
    cls = insn.klass
    event = None
    if insn.is_cond_jump:
        if insn.dst in carriers or (insn.src_is_reg and insn.src in carriers):
            return "test", carriers
        return None, carriers
    if insn.is_call:
        if carriers & _ARGS or (insn.is_callx and insn.dst in carriers):
            event = "call"
        return event, carriers - _CALL_CLOBBERS - locs.escaped
    if insn.is_exit:
        return ("exit" if 0 in carriers else None), carriers
    acc = insn.mem_access
    if acc is not None:
        base, off, size = acc
        if base in carriers:
            event = "deref"
        if cls == Class.LDX:  # load: a fill carries the value only from a slot it was spilled to
            carried = base == FP and (off, size) in _carried_slots(carriers, locs)
            return event, (carriers | {insn.dst}) if carried else (carriers - {insn.dst})
        new = carriers - insn.defs()  # atomics with fetch write a register
        if base != FP:
            return event, new - locs.escaped
        new = new - set(locs.overlapping(off, size))
        spill = cls == Class.STX and insn.mode == Mode.MEM and insn.src in carriers
        if spill and size in _TRACKED_SIZES:
            new = new | {locs.index[(off, size)]}
        return event, frozenset(new)
    if cls in (Class.ALU, Class.ALU64):
        op = insn.operation
        dst = insn.dst
        if op == AluOp.MOV:  # mov, mov32, movsx: the value moves with its source
            if insn.src_is_reg and insn.src in carriers:
                return None, carriers | {dst}
            return None, carriers - {dst}
        if dst in carriers and not insn.src_is_reg and op in _EXTENDING_OPS:
            return None, carriers  # shifts and masks by a constant: clang's extensions and tests
        # END to the object's own order (le on bpfel, be on bpfeb; src_is_reg is BPF_TO_BE) only
        # zero-extends at 32 and 64 bits; to the other order it swaps the bytes.
        native = insn.src_is_reg == locs.big_endian
        if dst in carriers and op == AluOp.END and cls == Class.ALU and native and insn.imm in (32, 64):
            return None, carriers
        return None, carriers - {dst}
    defs = insn.defs()
    return None, (carriers - defs) if defs else carriers


_EXTENDING_OPS = frozenset({AluOp.LSH, AluOp.RSH, AluOp.ARSH, AluOp.AND})


def _carried_slots(carriers: frozenset, locs: _Locations) -> set[tuple[int, int]]:
    out = set()
    for loc in carriers:
        if loc >= NREGS:
            off, size = locs.slots[loc - NREGS]
            out.add((off, size))
            if size == 8:  # the low half of a spilled 64-bit value: its first 4 bytes on bpfel, last 4 on bpfeb
                out.add((off + 4 if locs.big_endian else off, 4))
    return out


def _walk(rd: ReachingDefinitions, index: int, start: frozenset,
          through_tests: bool = False) -> Iterator[tuple[int, str | None, frozenset]]:
    """Visit (instruction, event, carriers after it) for every distinct state reachable after index
    (through_tests: follow the value past the jumps that test it, on both edges)."""
    cfg, insns, locs = rd.cfg, rd.insns, rd.locs
    seen: set[tuple[int, frozenset]] = set()
    work = deque((j, start) for j in _next_insns(cfg, index))
    while work:
        state = work.popleft()
        if state in seen:
            continue
        seen.add(state)
        if len(seen) % budget.EVERY == 0:
            budget.check(f"following a value in function {rd.func.name!r}")
        i, carriers = state
        event, after = _step(insns[i], carriers, locs)
        yield i, event, after
        if (event == "test" and not through_tests) or insns[i].is_exit or not after:
            continue
        for j in _next_insns(cfg, i):
            work.append((j, after))


def _untested(rd: ReachingDefinitions, call_index: int, before_index: int | None) -> int | None:
    """First instruction the call's result reaches untested (see first_untested_use); one walk with _walk."""
    for i, event, after in _walk(rd, call_index, frozenset({0})):
        if before_index is not None:
            if i == before_index:
                return i
            continue
        if event == "test":
            continue
        if event is not None or not after or rd.insns[i].is_exit:
            return i
    return None


@register
class Dataflow(Analysis):
    """Reaching definitions, def-use chains and value tracking of one function."""

    name = "dataflow"
    scope = "function"
    requires = frozenset({"cfg"})

    @classmethod
    def run(cls, am: AnalysisManager, unit: Function) -> ReachingDefinitions:
        """Solve reaching definitions over unit's CFG."""
        return ReachingDefinitions(unit, am.get(CFG, unit), am.obj.byte_order)

    @classmethod
    def fingerprint(cls, result: ReachingDefinitions) -> tuple:
        """The definitions reaching every use (the def-use chains, read the other way)."""
        return tuple((i, loc, tuple(result.reaching(i, loc))) for i, us in enumerate(result._uses) for loc in us)
