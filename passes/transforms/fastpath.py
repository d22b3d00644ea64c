"""The fast-path transform: a twin of every program, same shape, that reaches an exit quickly.

For each program P and every function it reaches, a copy named `<name>__fast` is appended to
the same section (programs) or to .text (subprograms and callbacks). The copy has the same
instruction count and the same slot for every instruction as its original, so instruction i
of the twin corresponds to instruction i of the original. Only same-width, in-place changes are
made, each decided by the helper/kfunc table (bpfrewrite.kernel.table):

- a call the table stubs becomes `r0 = <failure value>` (its relocation dropped, for kfuncs);
- a call the table keeps stays (releases, unlocks, never-NULL pointers, iterator set-up);
- `may_goto` becomes a jump the verifier knows is taken (see _take_may_goto_exit);
- callbacks of iterating helpers return 1 at every exit (each reaching definition of r0 is
  rewritten to `r0 = 1`), so an iteration in progress stops after the current step.

Originals are not touched: their code, relocations and BTF stay byte-for-byte the same.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.model import Function, Object, RefKind, Reference, Relocation, Section, Symbol

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
    if am is None:
        from passes.manager import AnalysisManager

        am = AnalysisManager(obj)
    callbacks = _iteration_callbacks(obj, am)
    originals = _functions_to_twin(obj)
    twins = {orig: _add_twin(obj, orig) for orig in originals}
    result = PatchResult(pairs=list(twins.items()))
    for orig, twin in twins.items():
        _retarget(twin, twins)
        _rewrite_calls(orig, twin, result, am)
    for orig, twin in twins.items():
        if orig in callbacks:
            _force_callback_stop(obj, am, orig, twin, callbacks[orig], result)
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
    insns.extend(i.copy() for i in orig.insns)
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


def _stub(insn, value: int) -> None:
    """Turn a call into `r0 = value` in place, keeping its line and func metadata."""
    insn.code, insn.dst, insn.src, insn.off, insn.imm = 0xB7, 0, 0, 0, value
    insn.ref = None  # a kfunc's relocation must go: libbpf fails on a relocated non-call


def _rewrite_calls(orig: Function, twin: Function, result: PatchResult, am) -> None:
    from bpfrewrite.kernel.table import helper, kfunc

    slot = 0
    for index, insn in enumerate(twin.insns):
        text = insn.text()
        entry = None
        if insn.is_helper_call:
            entry = helper(insn.imm)
            callee = entry.name if entry else f"helper#{insn.imm}"
        elif insn.ref is not None and insn.ref.kind == RefKind.KFUNC:
            entry = kfunc(insn.ref.name)
            callee = insn.ref.name
        elif insn.is_may_goto:
            _take_may_goto_exit(orig, twin, index, slot, text, result, am)
            slot += insn.width
            continue
        else:
            slot += insn.width
            continue
        if entry is None:
            result.sites.append(Site(orig.name, twin.name, slot, text, "keep", callee, None,
                                     "not in the helper/kfunc table: kept unchanged"))
            result.problems.append(Problem(orig.name, slot, f"{callee} is not in the helper/kfunc table; kept"))
        elif entry.fast_path == "stub":
            _stub(insn, entry.failure_value)
            result.sites.append(Site(orig.name, twin.name, slot, text, "stub", entry.name,
                                     entry.failure_value, entry.reason))
        else:
            result.sites.append(Site(orig.name, twin.name, slot, text, "keep", entry.name, None, entry.reason))
        slot += insn.width


def _take_may_goto_exit(orig: Function, twin: Function, index: int, slot: int, text: str,
                        result: PatchResult, am) -> None:
    """Make a may_goto always take its exit edge, in a form the verifier decides statically.

    A plain `goto` leaves the loop body unreachable, which check_cfg rejects ("unreachable
    insn"), and the verifier does not treat r10 as non-NULL (reg_not_null() omits
    PTR_TO_STACK), so `if r10 != 0` is explored both ways. A register that holds the same
    constant on every path here is decided: `if rK == c goto` is always taken and the loop
    body is dead code to the verifier.
    """
    from passes.analysis.dataflow import Dataflow

    insn = twin.insns[index]
    found = _constant_register(orig, am.get(Dataflow, orig), index)
    if found is None:
        result.sites.append(Site(orig.name, twin.name, slot, text, "keep", None, None,
                                 "no register holds a known constant here; may_goto kept"))
        result.problems.append(Problem(orig.name, slot, "may_goto kept: no register with a known constant "
                                       "reaches it, so the twin cannot decide the exit statically"))
        return
    reg, value, is32 = found
    insn.code = 0x16 if is32 else 0x15  # JMP32/JMP | JEQ | K
    insn.dst, insn.src, insn.imm = reg, 0, value
    result.sites.append(Site(orig.name, twin.name, slot, text, "goto", None, None,
                             f"may_goto always takes its exit edge (as `{insn.text()}`, r{reg} is {value} here)"))


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


def _iteration_callbacks(obj: Object, am) -> dict[Function, str]:
    """Functions passed as callbacks to iterating helpers, with the helper's name."""
    from bpfrewrite.kernel.table import Role, helper_by_name, kfunc
    from passes.analysis.callgraph import CallGraph

    graph = am.get(CallGraph, obj)
    out: dict[Function, str] = {}
    for edge in graph.callback_edges():
        entry = (helper_by_name(edge.via) or kfunc(edge.via)) if edge.via else None
        if entry is not None and Role.ITERATE in entry.roles:
            out[edge.callee] = entry.name
    return out


def _force_callback_stop(obj: Object, am, orig: Function, twin: Function, via: str, result: PatchResult) -> None:
    """Rewrite every definition of r0 that reaches an exit of the twin callback to `r0 = 1`."""
    from passes.analysis.dataflow import Dataflow

    flow = am.get(Dataflow, orig)  # computed on the original: same shape, and cached already
    slots = orig.slots()
    base = slots[0]
    exits = {i for i, insn in enumerate(orig.insns) if insn.is_exit}
    for exit_index, defs in sorted(flow.exit_r0_defs().items()):
        for d in sorted(defs):
            where = slots[d] - base if d >= 0 else None
            why = _cannot_return_stop(orig, flow, d, exits)
            if why:
                result.problems.append(Problem(orig.name, where, f"callback of {via}: {why}"))
                continue
            insn = twin.insns[d]
            text = orig.insns[d].text()
            if insn.is_ld_imm64:
                insn.imm, insn.imm2 = _RETURN_STOP, 0
            else:
                insn.code, insn.dst, insn.src, insn.off, insn.imm = 0xB7, 0, 0, 0, _RETURN_STOP
                insn.ref = None
            result.sites.append(Site(orig.name, twin.name, where, text, "return", None, _RETURN_STOP,
                                     f"callback of {via} returns 1 so the iteration stops"))


def _cannot_return_stop(orig: Function, flow, d: int, exits: set[int]) -> str | None:
    """Why the definition of r0 at index d cannot become `r0 = 1` in place, or None."""
    if d < 0:
        return "r0 is not defined on some path to an exit"
    insn = orig.insns[d]
    if insn.is_ld_imm64 and (insn.src != 0 or insn.ref is not None):
        return f"r0 comes from `{insn.text()}`, an address, at slot {d}"
    if insn.is_call or insn.is_atomic or insn.is_store:
        return f"r0 comes from `{insn.text()}`, which has effects the twin must keep"
    other = set(flow.uses_of(d, 0)) - exits
    if other:
        return f"the value returned is also used at instruction {min(other)}"
    return None


def _write_report_section(obj: Object, result: PatchResult) -> None:
    blob = json.dumps(result.report(), sort_keys=True, separators=(",", ":")).encode() + b"\n"
    obj.sections.append(
        Section(index=len(obj.sections), name=REPORT_SECTION, type=1, flags=0, data=blob, link=0, info=0,
                addralign=1, entsize=0, size=len(blob))
    )
