"""Reaching definitions, def-use chains, and value tracking through copies, extensions and spills.

Locations are registers r0-r10 and the 8- and 4-byte stack slots a function accesses through r10
(`*(u64 *)(r10 - 8)`). A definition is (instruction index, location); ENTRY (-1) stands for the value
a location holds when the function starts (r1 the context, r10 the frame pointer, the rest undefined).
Reaching definitions are solved once per function by an iterative worklist over blocks with Python
ints as bitsets, def ids grouped by location so one location's defs are one contiguous bit range.

Stack slots whose address escapes (`r2 = r10; r2 += -16` passed to a helper) may be written behind
the analysis's back: a call or a store through any other pointer counts as a redefinition of every
slot at or above the lowest escaped offset. Calls read r1-r5 (the analysis does not know arities).

`result_tested` and `value_consumers` follow one value along paths (not merged sets): the value is
carried by the registers and stack slots it is copied to through moves (`r1 = r0`, `w1 = w0`, movsx),
by the shifts and masks clang uses to extend it (`r0 <<= 32; r0 >>= 32`, `r1 &= 0xff`), and through
spills and fills; any other write to a carrier drops it.
"""
from __future__ import annotations

from collections import deque
from typing import Iterator

from bpfrewrite.model import Function
from passes.analysis.cfg import CFG, EXIT, ControlFlowGraph
from passes.manager import Analysis, AnalysisManager, register

ENTRY = -1  # "defined before the function started" (or never defined)
FP = 10
NREGS = 11

_SIZE_BYTES = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}
_TRACKED_SIZES = (8, 4)


def _mem_access(insn) -> tuple[int, int, int] | None:
    """(base register, offset, size) of a plain load, store or atomic; None otherwise."""
    cls = insn.code & 0x07
    if cls == 0x01 and insn.code & 0xE0 in (0x60, 0x80):  # LDX MEM / MEMSX
        return insn.src, insn.off, _SIZE_BYTES[insn.code & 0x18]
    if cls in (0x02, 0x03) and insn.code & 0xE0 in (0x60, 0xC0):  # ST/STX MEM, STX ATOMIC
        return insn.dst, insn.off, _SIZE_BYTES[insn.code & 0x18]
    return None


def _is_store(insn) -> bool:
    return insn.code & 0x07 in (0x02, 0x03)


class _Locations:
    """Numbering of a function's locations: registers 0-10, then r10-relative stack slots."""

    def __init__(self, func: Function):
        insns = func.insns
        slots: set[tuple[int, int]] = set()
        escape = None  # lowest escaped stack offset; None when no address escapes
        for i, insn in enumerate(insns):
            acc = _mem_access(insn)
            plain = acc is not None and insn.code & 0xE0 != 0xC0
            if acc is not None and acc[0] == FP and acc[2] in _TRACKED_SIZES:
                slots.add((acc[1], acc[2]))
            if plain and acc[0] == FP and not (_is_store(insn) and insn.src == FP):
                continue  # an r10-based load or store does not leak the frame address
            if FP in insn.uses():
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
    if insn.code == 0xBF and insn.src == FP and i + 1 < len(insns):
        nxt = insns[i + 1]
        if nxt.code == 0x07 and nxt.dst == insn.dst:
            return nxt.imm
    return -(1 << 15)


def insn_defs(insn, locs: _Locations) -> list[int]:
    """Locations instruction insn writes (registers, stack slots, clobbered escaped slots)."""
    out = sorted(insn.defs())
    acc = _mem_access(insn)
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
    acc = _mem_access(insn)
    if acc is not None and acc[0] == FP and insn.code & 0x07 == 0x01:
        out.extend(locs.overlapping(acc[1], acc[2]))
    return out


class ReachingDefinitions:
    """Reaching definitions and def-use chains of one function."""

    def __init__(self, func: Function, cfg: ControlFlowGraph):
        self.func = func
        self.cfg = cfg
        self.locs = locs = _Locations(func)
        self.insns = insns = func.insns  # func.insns slices the section: keep one copy
        # Tuples of ints: the collector stops tracking them, which keeps large objects linear.
        self._defs = [tuple(insn_defs(insn, locs)) for insn in insns]
        self._uses = [tuple(insn_uses(insn, locs)) for insn in insns]
        # Def ids grouped by location: id = base[loc] + k; k = 0 is the ENTRY def.
        per_loc: list[list[int]] = [[ENTRY] for _ in range(locs.count)]
        for i, ds in enumerate(self._defs):
            for loc in ds:
                per_loc[loc].append(i)
        self.base: list[int] = []
        self.def_index: list[int] = []  # def id -> instruction index
        for idxs in per_loc:
            self.base.append(len(self.def_index))
            self.def_index.extend(idxs)
        count = locs.count
        self._id_of: dict[int, int] = {}  # (index + 1) * count + loc -> def id (int keys: untracked)
        for loc, idxs in enumerate(per_loc):
            for k, i in enumerate(idxs):
                self._id_of[(i + 1) * count + loc] = self.base[loc] + k
        self.loc_mask = [((1 << len(idxs)) - 1) << self.base[loc] for loc, idxs in enumerate(per_loc)]
        # Per instruction: (mask of the location's defs, bit of this def) for each location defined.
        self._gen = [
            tuple((self.loc_mask[loc], 1 << self._id_of[(i + 1) * count + loc]) for loc in ds)
            for i, ds in enumerate(self._defs)
        ]
        self._solve()
        self._chains()

    # ----- solving -----------------------------------------------------------------------
    def _transfer(self, block) -> tuple[int, int]:
        gen = kill = 0
        for i in range(block.start, block.end):
            for m, bit in self._gen[i]:
                kill |= m
                gen = (gen & ~m) | bit
        return gen, kill

    def _solve(self) -> None:
        cfg = self.cfg
        blocks = cfg.blocks
        gk = [self._transfer(b) for b in blocks]
        entry_defs = 0
        for loc in range(self.locs.count):
            entry_defs |= 1 << self.base[loc]
        self.block_in = [0] * len(blocks)
        self.block_out = [0] * len(blocks)
        preds: list[list[int]] = [[] for _ in blocks]
        succs: list[list[int]] = [[] for _ in blocks]
        for s, d in cfg.graph.edges():
            if s != EXIT and d != EXIT:
                preds[d].append(s)
                succs[s].append(d)
        work = deque(range(len(blocks)))
        queued = [True] * len(blocks)
        while work:
            b = work.popleft()
            queued[b] = False
            inset = entry_defs if b == cfg.entry else 0
            for p in preds[b]:
                inset |= self.block_out[p]
            self.block_in[b] = inset
            gen, kill = gk[b]
            out = gen | (inset & ~kill)
            if out != self.block_out[b]:
                self.block_out[b] = out
                for s in succs[b]:
                    if not queued[s]:
                        queued[s] = True
                        work.append(s)

    def _ids(self, mask: int, loc: int) -> list[int]:
        """Def ids of loc in mask."""
        base = self.base[loc]
        m = (mask & self.loc_mask[loc]) >> base
        out = []
        while m:
            low = m & -m
            out.append(base + low.bit_length() - 1)
            m ^= low
        return out

    def _bits(self, mask: int, loc: int) -> list[int]:
        """Instruction indexes of the defs of loc in mask."""
        return [self.def_index[d] for d in self._ids(mask, loc)]

    def _chains(self) -> None:
        users: dict[int, list[int]] = {}
        self._reach_at: list[int] = [0] * len(self.insns)
        for b in self.cfg.blocks:
            cur = self.block_in[b.id]
            for i in range(b.start, b.end):
                self._reach_at[i] = cur
                for loc in self._uses[i]:
                    for d in self._ids(cur, loc):
                        users.setdefault(d, []).append(i)
                for m, bit in self._gen[i]:
                    cur = (cur & ~m) | bit
        self._users = {d: tuple(v) for d, v in users.items()}

    # ----- queries -----------------------------------------------------------------------
    def reaching(self, index: int, loc: int) -> list[int]:
        """Instruction indexes whose definition of loc reaches instruction index (ENTRY = -1)."""
        return sorted(self._bits(self._reach_at[index], loc))

    def reaching_block_end(self, block: int, loc: int) -> list[int]:
        """Definitions of loc live at the end of block (ENTRY = -1)."""
        return sorted(self._bits(self.block_out[block], loc))

    def uses_of(self, def_index: int, loc: int) -> list[int]:
        """Instructions reading the definition of loc made by instruction def_index (or ENTRY)."""
        d = self._id_of.get((def_index + 1) * self.locs.count + loc)
        return sorted(set(self._users.get(d, ()))) if d is not None else []

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
            acc = _mem_access(self.insns[i])
            if acc is not None and acc[0] != FP and roots & self.pointer_roots(i, acc[0]):
                out.append(i)
        return out

    def value_stores(self, call_index: int) -> list[int]:
        """Stores (and atomics) through a non-stack pointer that write a copy of the value the call
        at call_index returned, on any path, tested or not."""
        out = set()
        for i, _, after in _walk(self, call_index, frozenset({0}), through_tests=True):
            insn = self.insns[i]
            acc = _mem_access(insn)
            if acc is not None and acc[0] != FP and insn.code & 0x07 == 0x03 and insn.src in after:
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
        if code == 0xBF:  # r = r (64-bit move keeps a pointer)
            return (insn.src,)
        if code in (0x07, 0x17):  # pointer += / -= constant
            return (loc,)
        if code in (0x0F, 0x1F):  # pointer += / -= register: either side may be the pointer
            return (loc, insn.src)
        if code == 0x79 and insn.src == FP:  # a 64-bit fill from the stack
            slot = locs.index.get((insn.off, 8))
            return (slot,) if slot is not None else ()
        return ()
    if code == 0x7B and insn.dst == FP and (insn.off, 8) == locs.slots[loc - NREGS]:
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
    code = insn.code
    cls = code & 0x07
    event = None
    if insn.is_cond_jump:
        if insn.dst in carriers or (code & 0x08 and insn.src in carriers):
            return "test", carriers
        return None, carriers
    if insn.is_call:
        if carriers & _ARGS or (code == 0x8D and insn.dst in carriers):
            event = "call"
        return event, carriers - _CALL_CLOBBERS - locs.escaped
    if insn.is_exit:
        return ("exit" if 0 in carriers else None), carriers
    acc = _mem_access(insn)
    if acc is not None:
        base, off, size = acc
        if base in carriers:
            event = "deref"
        if cls == 0x01:  # load: a fill carries the value only from a slot it was spilled to
            carried = base == FP and (off, size) in _carried_slots(carriers, locs)
            return event, (carriers | {insn.dst}) if carried else (carriers - {insn.dst})
        new = carriers - insn.defs()  # atomics with fetch write a register
        if base != FP:
            return event, new - locs.escaped
        new = new - set(locs.overlapping(off, size))
        spill = cls == 0x03 and code & 0xE0 == 0x60 and insn.src in carriers
        if spill and size in _TRACKED_SIZES:
            new = new | {locs.index[(off, size)]}
        return event, frozenset(new)
    if cls in (0x04, 0x07):
        op = code & 0xF0
        dst = insn.dst
        if op == 0xB0:  # mov, mov32, movsx: the value moves with its source
            if code & 0x08 and insn.src in carriers:
                return None, carriers | {dst}
            return None, carriers - {dst}
        if dst in carriers and not code & 0x08 and op in (0x60, 0x70, 0xC0, 0x50):
            return None, carriers  # shifts and masks by a constant: clang's extensions and tests
        if dst in carriers and op == 0xD0 and cls == 0x04 and not code & 0x08 and insn.imm in (32, 64):
            return None, carriers  # le32/le64 are zero-extensions on little-endian
        return None, carriers - {dst}
    defs = insn.defs()
    return None, (carriers - defs) if defs else carriers


def _carried_slots(carriers: frozenset, locs: _Locations) -> set[tuple[int, int]]:
    out = set()
    for loc in carriers:
        if loc >= NREGS:
            off, size = locs.slots[loc - NREGS]
            out.add((off, size))
            if size == 8:
                out.add((off, 4))  # the low half of a spilled 64-bit value (little-endian)
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
        return ReachingDefinitions(unit, am.get(CFG, unit))

    @classmethod
    def fingerprint(cls, result: ReachingDefinitions) -> tuple:
        """Every def-use chain."""
        return tuple(sorted((k, tuple(v)) for k, v in result._users.items()))
