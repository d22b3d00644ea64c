"""The fast-path transform: a twin of every program, same shape, that reaches an exit quickly.

For each program P and every function it reaches, a copy named `<name>__fast` is appended to
the same section (programs) or to .text (subprograms and callbacks). The copy has the same
instruction count and the same slot for every instruction as its original, so instruction i
of the twin corresponds to instruction i of the original. Only same-width, in-place changes are
made, each decided by the helper/kfunc table (bpfrewrite.kernel.table):

- a call the table stubs becomes `r0 = <failure value>` (its relocation dropped, for kfuncs);
- a call the table keeps stays (releases, unlocks, never-NULL pointers, iterator set-up);
- `may_goto` becomes a jump the verifier knows is taken (see TakeMayGotoExit);
- callbacks of iterating helpers return 1 at every exit (each reaching definition of r0 is
  rewritten to `r0 = 1`), so an iteration in progress stops after the current step.

Originals are not touched: their code, relocations and BTF stay byte-for-byte the same.
The in-place changes are registered transforms (StubCalls, TakeMayGotoExit, ForceCallbackStop)
run by the pass manager over the twins, so analyses of a twin are invalidated when it changes.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.model import Function, Object, RefKind, Reference, Relocation, Section, Symbol, calls_kfunc
from passes.analysis.callgraph import CallGraph
from passes.analysis.cfg import CFG
from passes.analysis.dataflow import Dataflow
from passes.manager import AnalysisManager, PassManager, Transform, register

TWIN_SUFFIX = "__fast"
REPORT_SECTION = ".bpfrewrite"
REPORT_VERSION = 1
_RETURN_STOP = 1  # callback return value that stops bpf_loop / for_each / user_ringbuf_drain


@dataclass
class Site:
    """One decision the transform made at an instruction of a twin."""

    function: str  # the original function
    twin: str
    slot: int  # slot within the function (the same in original and twin)
    original: str  # instruction text in the original
    action: str  # stub | keep | goto | return | unchanged-unknown
    callee: str | None
    value: int | None  # r0 written in place, for stub and return
    reason: str

    def as_dict(self) -> dict:
        """JSON form (keys stable: part of the .bpfrewrite section format)."""
        return dataclasses.asdict(self)


@dataclass
class Problem:
    """Something the transform could not make fast in place; the twin still runs it as is."""

    function: str
    slot: int | None
    message: str


@dataclass
class PatchResult:
    """What a run of the transform did: twin pairs, site decisions and problems."""

    pairs: list[tuple[Function, Function]] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def report(self) -> dict:
        """The machine-readable report (also written to the .bpfrewrite section)."""
        return {
            "version": REPORT_VERSION,
            "twins": [
                {"original": o.name, "twin": t.name, "section": t.section.name, "program": o.is_program}
                for o, t in self.pairs
            ],
            "sites": [s.as_dict() for s in self.sites],
            "problems": [dataclasses.asdict(p) for p in self.problems],
        }


def make_twins(obj: Object, am=None) -> PatchResult:
    """Add a fast-path twin of every program (and what it reaches) to obj; return the decisions."""
    if obj.section(REPORT_SECTION) is not None:
        raise BpfrewriteError(f"{obj.path}: already patched (it has a {REPORT_SECTION} section)")
    if not obj.programs:
        raise BpfrewriteError(f"{obj.path}: no programs to patch")
    am = am or AnalysisManager(obj)
    callbacks = _iteration_callbacks(am)  # asked of the originals, before twins exist
    twins = {orig: _add_twin(obj, orig) for orig in _functions_to_twin(obj)}
    for twin in twins.values():
        _retarget(twin, twins)
    am.invalidate()  # the object gained functions: whole-object results are stale
    result = PatchResult(pairs=list(twins.items()))
    originals = {twin: orig for orig, twin in twins.items()}
    pm = PassManager(am)
    pm.run(StubCalls(originals, result), twins.values())
    pm.run(TakeMayGotoExit(originals, result), twins.values())
    via = {twins[cb]: name for cb, name in callbacks.items() if cb in twins}
    pm.run(ForceCallbackStop(originals, result, via), via)
    result.sites.sort(key=lambda s: (s.twin, -1 if s.slot is None else s.slot))
    _write_report_section(obj, result)
    return result


def _functions_to_twin(obj: Object) -> list[Function]:
    wanted: list[Function] = []
    for prog in obj.programs:
        for func in prog.reachable():
            if func not in wanted:
                wanted.append(func)
    taken = {s.name for s in obj.symbols}
    for func in wanted:
        if func.name + TWIN_SUFFIX in taken:
            raise BpfrewriteError(f"{obj.path}: a symbol named {func.name + TWIN_SUFFIX!r} exists already")
    # Deterministic: section order, then position, whatever order programs reached them in.
    return sorted(wanted, key=lambda f: (f.section.index, f.start))


def _add_twin(obj: Object, orig: Function) -> Function:
    """Append a copy of orig's instructions to its section, with a symbol and BTF FUNC of its own."""
    sec: Section = orig.section
    insns = sec.insns  # type: ignore[assignment]
    start = len(insns)
    copies = {id(i): i.copy() for i in orig.insns}
    for copy in copies.values():
        if copy.target is not None:  # branches stay inside their function: follow the copy
            if id(copy.target) not in copies:
                raise BpfrewriteError(f"{orig.name}: a branch leaves the function; cannot copy it")
            copy.target = copies[id(copy.target)]
    insns.extend(copies.values())
    osym = orig.symbol
    symbol = Symbol(
        index=-1, name=orig.name + TWIN_SUFFIX, value=0, size=0, bind=osym.bind, type=osym.type,
        other=osym.other, shndx=osym.shndx,
    )
    obj.symbols.append(symbol)
    twin = Function(
        name=symbol.name, section=sec, start=start, count=orig.count, symbol=symbol,
        is_program=orig.is_program, prog_type=orig.prog_type,
    )
    obj.functions.append(twin)
    if orig.btf_func_id is not None and obj.btf is not None:
        twin.btf_func_id = _add_btf_func(obj, orig.btf_func_id, twin.name)
        first = twin.insns[0]
        if first.func is not None:
            first.func = dataclasses.replace(first.func, type_id=twin.btf_func_id)
    return twin


def _add_btf_func(obj: Object, func_id: int, name: str) -> int:
    """A BTF FUNC named name with the prototype and linkage of func_id."""
    btf = obj.btf
    src = btf.types[func_id]
    name_off = btf.strings.add(name)
    return btf.add_type(dataclasses.replace(src, name_off=name_off, name=name))


def _retarget(twin: Function, twins: dict[Function, Function]) -> None:
    """Point the twin's calls and callback references at twins, never at originals."""
    for insn in twin.insns:
        ref = insn.ref
        if ref is None or ref.kind not in (RefKind.CALL, RefKind.CALLBACK):
            continue
        target = twins[ref.target]
        reloc = ref.reloc
        if reloc is not None and reloc.symbol is ref.target.symbol:
            reloc = Relocation(reloc.rtype, target.symbol)  # global: relocate against the twin's symbol
        insn.ref = Reference(ref.kind, target.name, reloc, target=target)


def _set_mov_imm(insn, value: int) -> None:
    """Make insn `r0 = value` in place (same width), keeping its line and func metadata."""
    insn.code, insn.dst, insn.src, insn.off, insn.imm = 0xB7, 0, 0, 0, value
    insn.ref = None  # a kfunc's relocation must go: libbpf fails on a relocated non-call


class _TwinTransform(Transform):
    """A transform of twins: knows each twin's original and records its decisions in result."""

    def __init__(self, originals: dict[Function, Function], result: PatchResult):
        self.originals = originals  # twin -> original
        self.result = result

    def site(self, twin: Function, slot: int | None, text: str, action: str, callee: str | None,
             value: int | None, reason: str) -> None:
        """Record one decision at slot of twin."""
        self.result.sites.append(Site(self.originals[twin].name, twin.name, slot, text, action, callee, value, reason))

    def problem(self, twin: Function, slot: int | None, message: str) -> None:
        """Record something the twin could not be made to do."""
        self.result.problems.append(Problem(self.originals[twin].name, slot, message))


@register
class StubCalls(_TwinTransform):
    """Replace each call the helper/kfunc table stubs by `r0 = <failure value>`."""

    name = "fastpath-stub-calls"
    # A call and `r0 = imm` are both mid-block instructions: the CFG keeps its shape.
    preserves = frozenset({CFG})

    def run(self, am, twin: Function) -> bool:
        """Stub twin's failing calls; record every call's decision."""
        from bpfrewrite.kernel.table import table_for

        changed = False
        base = twin.slots()[0]
        for insn, slot in zip(twin.insns, twin.slots()):
            if not (insn.is_helper_call or calls_kfunc(insn)):
                continue
            entry = table_for(insn)
            text, slot = insn.text(), slot - base
            if entry is None:
                callee = insn.ref.name if insn.ref is not None else f"helper#{insn.imm}"
                self.site(twin, slot, text, "keep", callee, None, "not in the helper/kfunc table: kept unchanged")
                self.problem(twin, slot, f"{callee} is not in the helper/kfunc table; kept")
            elif entry.fast_path == "stub":
                _set_mov_imm(insn, entry.failure_value)
                self.site(twin, slot, text, "stub", entry.name, entry.failure_value, entry.reason)
                changed = True
            else:
                self.site(twin, slot, text, "keep", entry.name, None, entry.reason)
        return changed


@register
class TakeMayGotoExit(_TwinTransform):
    """Make each may_goto always take its exit edge, in a form the verifier decides statically.

    A plain `goto` leaves the loop body unreachable, which check_cfg rejects ("unreachable
    insn"), and the verifier does not treat r10 as non-NULL (reg_not_null() omits
    PTR_TO_STACK), so `if r10 != 0` is explored both ways. A register that holds the same
    constant on every path here is decided: `if rK == c goto` is always taken and the loop
    body is dead code to the verifier.
    """

    name = "fastpath-may-goto"
    preserves = frozenset()  # the may_goto edge becomes a taken edge

    def run(self, am, twin: Function) -> bool:
        """Rewrite twin's may_goto instructions; record each decision."""
        changed = False
        base = twin.slots()[0]
        for index, (insn, slot) in enumerate(zip(twin.insns, twin.slots())):
            if not insn.is_may_goto:
                continue
            text, slot = insn.text(), slot - base
            found = _constant_register(twin, am.get(Dataflow, twin), index)
            if found is None:
                self.site(twin, slot, text, "keep", None, None, "no register holds a known constant here; may_goto kept")
                self.problem(twin, slot, "may_goto kept: no register with a known constant reaches it, "
                             "so the twin cannot decide the exit statically")
                continue
            reg, value, is32 = found
            insn.code = 0x16 if is32 else 0x15  # JMP32/JMP | JEQ | K
            insn.dst, insn.src, insn.imm = reg, 0, value
            self.site(twin, slot, text, "goto", None, None,
                      f"may_goto always takes its exit edge (as `{insn.text()}`, r{reg} is {value} here)")
            changed = True
        return changed


def _constant_register(func: Function, flow, index: int) -> tuple[int, int, bool] | None:
    """(reg, value, 32-bit) for a register every definition of which reaching index is `reg = value`."""
    insns = func.insns
    for reg in range(10):
        defs = flow.reaching(index, reg)
        if not defs or min(defs) < 0:
            continue
        values = set()
        for d in defs:
            di = insns[d]
            if di.code in (0xB7, 0xB4) and di.dst == reg and 0 <= di.imm < 1 << 31:
                values.add((di.imm, di.code == 0xB4))
            else:
                break
        else:
            if len(values) == 1:
                value, is32 = values.pop()
                return reg, value, is32
    return None


@register
class ForceCallbackStop(_TwinTransform):
    """Rewrite every definition of r0 reaching an exit of an iteration callback to `r0 = 1`."""

    name = "fastpath-callback-stop"
    preserves = frozenset({CFG})  # only non-branch instructions change

    def __init__(self, originals, result, via: dict[Function, str]):
        super().__init__(originals, result)
        self.via = via  # callback twin -> the iterating helper that calls it

    def run(self, am, twin: Function) -> bool:
        """Make twin return 1 at every exit, or record why it cannot."""
        flow = am.get(Dataflow, twin)
        slots = twin.slots()
        base, via = slots[0], self.via[twin]
        exits = {i for i, insn in enumerate(twin.insns) if insn.is_exit}
        todo = sorted({d for defs in flow.exit_r0_defs().values() for d in defs})
        changed = False
        for d in todo:
            where = slots[d] - base if d >= 0 else None
            why = _cannot_return_stop(twin, flow, d, exits)
            if why:
                self.problem(twin, where, f"callback of {via}: {why}")
                continue
            insn = twin.insns[d]
            text = insn.text()
            if insn.is_ld_imm64:
                insn.imm, insn.imm2 = _RETURN_STOP, 0
            else:
                _set_mov_imm(insn, _RETURN_STOP)
            self.site(twin, where, text, "return", None, _RETURN_STOP,
                      f"callback of {via} returns 1 so the iteration stops")
            changed = True
        return changed


def _cannot_return_stop(func: Function, flow, d: int, exits: set[int]) -> str | None:
    """Why the definition of r0 at index d cannot become `r0 = 1` in place, or None."""
    if d < 0:
        return "r0 is not defined on some path to an exit"
    insn = func.insns[d]
    if insn.is_ld_imm64 and (insn.src != 0 or insn.ref is not None):
        return f"r0 comes from `{insn.text()}`, an address"
    if insn.is_call or insn.is_atomic or insn.is_store:
        return f"r0 comes from `{insn.text()}`, which has effects the twin must keep"
    other = set(flow.uses_of(d, 0)) - exits
    if other:
        return f"the value returned is also used at instruction {min(other)}"
    return None


def _iteration_callbacks(am) -> dict[Function, str]:
    """Functions passed as callbacks to iterating helpers, with the helper's name."""
    from bpfrewrite.kernel.table import Role, helper_by_name, kfunc

    out: dict[Function, str] = {}
    for edge in am.get(CallGraph).callback_edges():
        entry = (helper_by_name(edge.via) or kfunc(edge.via)) if edge.via else None
        if entry is not None and Role.ITERATE in entry.roles:
            out[edge.callee] = entry.name
    return out


def read_report(obj: Object) -> dict | None:
    """The .bpfrewrite report of an object patched by bpfrewrite, or None for any other object."""
    sec = obj.section(REPORT_SECTION)
    if sec is None:
        return None
    try:
        report = json.loads(sec.data)
    except ValueError:
        raise BpfrewriteError(f"{obj.path}: the {REPORT_SECTION} section is not bpfrewrite's JSON report") from None
    if not isinstance(report, dict) or report.get("version") != REPORT_VERSION:
        raise BpfrewriteError(f"{obj.path}: unknown {REPORT_SECTION} report version")
    return report


def twin_names(obj: Object) -> set[str]:
    """Names of the fast-path twins in obj (empty for an object that was never patched)."""
    report = read_report(obj)
    return {t["twin"] for t in report.get("twins", ())} if report else set()


def _write_report_section(obj: Object, result: PatchResult) -> None:
    blob = json.dumps(result.report(), sort_keys=True, separators=(",", ":")).encode() + b"\n"
    obj.sections.append(
        Section(index=len(obj.sections), name=REPORT_SECTION, type=1, flags=0, data=blob, link=0, info=0,
                addralign=1, entsize=0, size=len(blob))
    )
