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
from dataclasses import dataclass, field

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.isa.opcodes import JA, Class, JmpOp, Source
from bpfrewrite.model import Function, Object, RefKind, Reference, Relocation, Section, Symbol
from bpfrewrite.twins import (
    REPORT_SECTION,
    REPORT_VERSION,
    TWIN_SUFFIX,
    twin_name,
    twin_names,
    twin_section_name,
    write_report,
)
from bpfrewrite.passes.analysis.cfg import CFG
from bpfrewrite.passes.analysis.dataflow import Dataflow
from bpfrewrite.passes.analysis.fastpath_plan import RETURN_STOP, FastPathPlan
from bpfrewrite.passes.manager import AnalysisManager, PassManager, Transform, register
from bpfrewrite.passes.verdicts import verdict_of
from bpfrewrite.passes.transforms.struct_ops import add_twin_maps



@dataclass
class Site:
    """One decision the transform made at an instruction of a twin."""

    function: str  # the original function
    twin: str
    slot: int  # 8-byte slot from the function's start (the same in original and twin)
    insn: int  # 8-byte slot of the twin's instruction from its section's start (lint's `insn` unit)
    original: str  # instruction text in the original
    action: str  # stub | keep | goto | back-edge | return | unchanged-unknown
    callee: str | None
    value: int | None  # r0 written in place, for stub and return
    reason: str

    def as_dict(self) -> dict:
        """JSON form (keys stable: part of the .bpfrewrite section format)."""
        # Every field is a str, int or None: a flat copy (asdict deep-copies, per site of 100k-insn programs).
        return dict(self.__dict__)


@dataclass
class Problem:
    """Something the transform could not make fast in place; the twin still runs it as is."""

    function: str
    slot: int | None
    message: str
    source: str | None = None  # file:line:col of the instruction, from line info


@dataclass
class PatchResult:
    """What a run of the transform did: twin pairs, site decisions and problems."""

    pairs: list[tuple[Function, Function]] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # (original program, twin, original's verdict, twin's verdict), programs only
    verdicts: list[tuple[Function, Function, object, object]] = field(default_factory=list)
    # (twin, slot) -> file:line:col for the CLI; not in the section, whose bytes must not depend on the cwd.
    sources: dict[tuple[str, int], str] = field(default_factory=dict)
    maps: list[dict] = field(default_factory=list)  # twin struct_ops maps: original, twin, section
    note: str | None = None  # why nothing was twinned (the output is then an unchanged copy)

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
            "verdicts": [
                {"program": o.name, "twin": t.name, "type": o.prog_type, "original": vo.as_dict(), "fast": vt.as_dict()}
                for o, t, vo, vt in self.verdicts
            ],
            "maps": self.maps,
        }


def make_twins(obj: Object, am=None, print_after: tuple[str, ...] = (), printer=None,
               programs: tuple[str, ...] | None = None) -> PatchResult:
    """Add a twin of every program (or of those named in programs) and what it reaches; return the decisions.

    print_after names transforms after which printer(name, twin) is called (debugging aid).
    """
    if obj.section(REPORT_SECTION) is not None:
        raise BpfrewriteError(f"{obj.path}: already patched (it has a {REPORT_SECTION} section)")
    if twin_names(obj):  # e.g. linked from patched objects: the linker drops the record, not the twins
        raise BpfrewriteError(f"{obj.path}: already patched (it has twins: {', '.join(sorted(twin_names(obj)))})")
    roots = _chosen_programs(obj, programs)
    if not roots:
        roots = _library_roots(obj)
    am = am or AnalysisManager(obj)
    originals_in_order = _functions_to_twin(obj, roots)
    for orig in originals_in_order:  # plan on the originals, before the object changes
        am.get(FastPathPlan, orig)
    tags = _decl_tags_by_target(obj)
    twins = {orig: _add_twin(obj, orig, tags) for orig in originals_in_order}
    for twin in twins.values():
        _retarget(twin, twins)
    # The object gained functions: object-wide results are stale; the originals' plans are not.
    am.invalidate(preserved=(FastPathPlan, Dataflow, CFG))
    result = PatchResult(pairs=list(twins.items()))
    # A struct_ops program loads only when a struct_ops map names it: its twin needs a twin map.
    result.maps = add_twin_maps(obj, twins, TWIN_SUFFIX)
    originals = {twin: orig for orig, twin in twins.items()}
    pm = PassManager(am, print_after=print_after, printer=printer)
    stub_calls = StubCalls(originals, result)
    pm.run(stub_calls, twins.values())
    if stub_calls.uncovered:  # one line per object, not one per call site
        result.problems.append(Problem("", None, _uncovered_message(obj, stub_calls.uncovered)))
    pm.run(TakeMayGotoExit(originals, result), twins.values())
    callbacks = [t for o, t in twins.items() if am.get(FastPathPlan, o).iterated_by is not None]
    pm.run(ForceCallbackStop(originals, result), callbacks)
    result.sites.sort(key=lambda s: (s.twin, -1 if s.slot is None else s.slot))
    result.verdicts = [(o, t, verdict_of(am, o), verdict_of(am, t)) for o, t in result.pairs if o.is_program]
    write_report(obj, result.report())
    return result


class NothingToTwin(BpfrewriteError):
    """The object has no entry program and no global function: patch copies it unchanged.

    problem is True when it holds code that cannot be twinned (code without function symbols),
    False when there is simply no code to twin (BTF-only objects, only static functions).
    """

    def __init__(self, message: str, problem: bool):
        super().__init__(message)
        self.problem = problem


def _library_roots(obj: Object) -> list[Function]:
    """For an object without programs: its global functions in .text (a library linked into
    programs elsewhere), so it can be patched on its own and still link; else NothingToTwin."""
    roots = [f for f in obj.subprograms if f.symbol.is_global]
    if roots:
        return roots
    for sec in obj.exec_sections():
        covered = sum(f.count for f in obj.functions if f.section is sec)
        if len(sec.insns or ()) > covered:
            raise NothingToTwin(f"section {sec.name!r} holds {len(sec.insns or ()) - covered} instructions that no "
                                "function symbol covers: libbpf finds programs by their symbols, so no twin can be "
                                "made (rebuild it with a current clang)", problem=True)
    what = "only static functions" if obj.functions else "no code"
    return _nothing(f"no programs and no global functions ({what}): nothing to twin")


def _nothing(message: str) -> list[Function]:
    raise NothingToTwin(message, problem=False)


def _static_externs(obj: Object) -> set[str]:
    """Names of extern BPF functions (BTF FUNC, extern linkage, not in the .ksyms DATASEC that
    clang gives kfuncs): defined in another object and resolved by libbpf's static linker."""
    from bpfrewrite.btf.types import BtfKind

    btf = obj.btf
    if btf is None:
        return set()
    ksyms = btf.find(BtfKind.DATASEC, ".ksyms")
    kfuncs = {v[0] for v in btf.types[ksyms].datasec_vars} if ksyms is not None else set()
    # BTF keeps a FUNC's linkage in vlen (2: BTF_FUNC_EXTERN).
    return {t.name for i, t in enumerate(btf.types) if t.kind == BtfKind.FUNC and t.vlen == 2 and i not in kfuncs}


def _chosen_programs(obj: Object, names: tuple[str, ...] | None) -> list[Function]:
    """The programs named (all of them for None); an unknown name is an error, not a silent no-op."""
    if names is None:
        return obj.programs
    by_name = {p.name: p for p in obj.programs}
    unknown = [n for n in dict.fromkeys(names) if n not in by_name]
    if unknown:
        have = ", ".join(by_name) or "none"
        raise BpfrewriteError(f"no program named {', '.join(map(repr, unknown))} (programs: {have})")
    return [p for p in obj.programs if p.name in names]


def _functions_to_twin(obj: Object, programs: list[Function]) -> list[Function]:
    wanted = {func: None for prog in programs for func in prog.reachable()}  # an ordered set
    taken = {s.name for s in obj.symbols}
    for func in wanted:
        if twin_name(func.name) in taken:
            raise BpfrewriteError(f"{obj.path}: a symbol named {twin_name(func.name)!r} exists already")
    # Deterministic: section order, then position, whatever order programs reached them in.
    return sorted(wanted, key=lambda f: (f.section.index, f.start))


def _decl_tags_by_target(obj: Object) -> dict[int, list]:
    """BTF DECL_TAG types by the type id they tag (read once; twins copy their FUNC's tags)."""
    from bpfrewrite.btf.types import BtfKind

    out: dict[int, list] = {}
    for t in obj.btf.types if obj.btf is not None else ():
        if t.kind == BtfKind.DECL_TAG:
            out.setdefault(t.size_or_type, []).append(t)
    return out


def _twin_section(obj: Object, sec: Section) -> Section:
    """The executable section that holds the twins of sec's programs (created empty once)."""
    if sec.name == ".text":  # subprograms: libbpf appends only those a loaded program uses
        return sec
    name = twin_section_name(sec.name)
    found = obj.section(name)
    if found is not None:
        return found
    new = Section(index=len(obj.sections), name=name, type=sec.type, flags=sec.flags, data=b"", link=0, info=0,
                  addralign=sec.addralign, entsize=sec.entsize, size=0, insns=[])
    obj.sections.append(new)
    # .rel.BTF.ext relocates each record against its code section's STT_SECTION symbol, as clang emits.
    obj.symbols.append(Symbol(index=-1, name="", value=0, size=0, bind=0, type=3, other=0, shndx=new.index))
    return new


def _add_twin(obj: Object, orig: Function, tags: dict[int, list]) -> Function:
    """Append a copy of orig's instructions to its twin section, with a symbol and BTF FUNC of its own."""
    sec: Section = _twin_section(obj, orig.section)
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
        index=-1, name=twin_name(orig.name), value=0, size=0, bind=osym.bind, type=osym.type,
        other=osym.other, shndx=sec.index,
    )
    obj.symbols.append(symbol)
    twin = Function(
        name=symbol.name, section=sec, start=start, count=orig.count, symbol=symbol,
        is_program=orig.is_program, prog_type=orig.prog_type,
    )
    obj.functions.append(twin)
    if orig.btf_func_id is not None and obj.btf is not None:
        # Named from the original's BTF FUNC, not its symbol: the kernel wants a C identifier
        # there (or refuses all of the object's BTF), and a symbol name may be anything.
        btf_name = twin_name(obj.btf.name(orig.btf_func_id))
        twin.btf_func_id = _add_btf_func(obj, orig.btf_func_id, btf_name, tags.get(orig.btf_func_id, ()))
        first = twin.insns[0]
        if first.func is not None:
            first.func = dataclasses.replace(first.func, type_id=twin.btf_func_id)
    return twin


def _add_btf_func(obj: Object, func_id: int, name: str, tags) -> int:
    """A BTF FUNC named name with the prototype and linkage of func_id, and copies of its tags."""
    btf = obj.btf
    src = btf.types[func_id]
    name_off = btf.strings.add(name)
    twin_id = btf.add_type(dataclasses.replace(src, name_off=name_off, name=name))
    # Tags such as __arg_ctx / __arg_nonnull are DECL_TAGs on the FUNC: the verifier reads a
    # global function's arguments through them, so the twin's FUNC needs its own copies.
    for tag in tags:
        btf.add_type(dataclasses.replace(tag, size_or_type=twin_id))
    return twin_id


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


class _TwinTransform(Transform):
    """Applies one part of the original's FastPathPlan to its twin; records decisions in result."""
    requires = frozenset({"fastpath-plan"})

    def __init__(self, originals: dict[Function, Function], result: PatchResult):
        self.originals = originals  # twin -> original
        self.result = result
        self._slots: dict[Function, list[int]] = {}
        self._positions: dict[Function, list] = {}  # original -> source position per instruction

    def slots(self, twin: Function) -> list[int]:
        """twin's section slots, sliced once per twin: per site it would cost the whole function."""
        # Same-width changes only (style habit 3), so the slots stay valid while the transform runs.
        got = self._slots.get(twin)
        if got is None:
            got = self._slots[twin] = twin.slots()
        return got

    def plan(self, am, twin: Function):
        """The plan of twin's original (the twin has the same shape, slot for slot)."""
        return am.get(FastPathPlan, self.originals[twin])

    def site(self, twin: Function, index: int, text: str, action: str, callee: str | None,
             value: int | None, reason: str) -> None:
        """Record one decision at instruction index of twin."""
        slots = self.slots(twin)
        self.result.sites.append(Site(self.originals[twin].name, twin.name, slots[index] - slots[0], slots[index],
                                      text, action, callee, value, reason))

    def positions(self, obj: Object, twin: Function) -> list:
        """Source position of each instruction of twin's original, computed once per function."""
        from bpfrewrite.source import function_positions

        orig = self.originals[twin]
        if orig not in self._positions:  # once per function, not once per problem
            self._positions[orig] = function_positions(obj, orig)
        return self._positions[orig]

    def problem(self, twin: Function, index: int | None, message: str, obj: Object | None = None) -> None:
        """Record something the twin could not be made to do."""
        slots = self.slots(twin)
        slot = None if index is None else slots[index] - slots[0]
        pos = None
        if index is not None and obj is not None:
            pos = self.positions(obj, twin)[index]
        self.result.problems.append(Problem(self.originals[twin].name, slot, message, str(pos) if pos else None))


def position_text(pos) -> str | None:
    """`file:line:col` as lint prints it (path relative to the working directory), or None."""
    from bpfrewrite.diagnostics.diagnostic import display_path

    if pos is None or not pos.file:
        return None
    return f"{display_path(pos.file)}:{pos.line}:{pos.column}" if pos.column else f"{display_path(pos.file)}:{pos.line}"


@register
class StubCalls(_TwinTransform):
    """Replace each call the plan stubs by `r0 = <failure value>`; record every call's decision."""

    name = "fastpath-stub-calls"
    # A call and `r0 = imm` are both mid-block instructions: the CFG keeps its shape.
    preserves = frozenset({CFG})

    def run(self, am, twin: Function) -> bool:
        """Apply the plan's call decisions to twin."""
        changed = False
        insns = twin.insns  # a slice of the section: once, not once per call
        for call in self.plan(am, twin).calls:
            insn = insns[call.index]
            text = insn.text()
            if call.action == "stub":
                insn.make_r0_imm(call.value)
                changed = True
            self.site(twin, call.index, text, call.action, call.callee, call.value, call.reason)
            if not call.known:
                self.uncovered[call.callee] = self.uncovered.get(call.callee, 0) + 1
        return changed

    @property
    def uncovered(self) -> dict[str, int]:
        """Callees the table does not know -> number of call sites in twins (reported once per object)."""
        return self.__dict__.setdefault("_uncovered", {})


def _uncovered_message(obj: Object, uncovered: dict[str, int]) -> str:
    """The object's one line on calls the table does not cover, with what the running kernel says of each."""
    from bpfrewrite.kernel.vmlinux import kernel_btf

    linked = _static_externs(obj)
    parts = []
    for name, count in sorted(uncovered.items()):
        sites = f"{count} site" + ("s" if count > 1 else "")
        # Unknown helper ids have no name to look up; the kernel's BTF is read only for kfuncs.
        if name.startswith("helper#"):
            what = "unknown helper id"
        elif name in linked:
            what = "a BPF function of another object, resolved when objects are linked"
        else:
            what = kernel_btf().describe(name)
        parts.append(f"{name} ({sites}; {what})")
    return f"calls the helper/kfunc table does not cover, kept unchanged in the twins: {', '.join(parts)}"


@register
class TakeMayGotoExit(_TwinTransform):
    """Make the twin leave each loop a may_goto guards, in a form the verifier decides statically.

    A plain `goto` in place of may_goto leaves the loop body unreachable, which check_cfg rejects
    ("unreachable insn"), and the verifier does not treat r10 as non-NULL (reg_not_null() omits
    PTR_TO_STACK), so `if r10 != 0` is explored both ways. Form compare: a register that holds
    the same constant on every path here is decided: `if rK == c goto` is always taken and the
    loop body is dead code to the verifier. Form goto: a plain `goto` where the code after the
    may_goto is reached from elsewhere too. Form back-edge: the may_goto stays and each back edge
    of the loop jumps to its exit instead, so every instruction stays reachable and the twin runs
    at most one iteration (the plan checks the exit path sees no state it was not verified with).
    """

    name = "fastpath-may-goto"
    preserves = frozenset()  # edges change: the may_goto edge is taken, or back edges leave the loop

    def run(self, am, twin: Function) -> bool:
        """Apply the plan's may_goto decisions to twin."""
        changed = False
        slots = self.slots(twin)
        insns = twin.insns  # a slice of the section: once, not once per site
        for site in self.plan(am, twin).may_gotos:
            insn = insns[site.index]
            text = insn.text()
            if site.form == "compare":
                insn.code = (Class.JMP32 if site.is32 else Class.JMP) | JmpOp.JEQ | Source.K
                insn.dst, insn.src, insn.imm = site.reg, 0, site.value
                self.site(twin, site.index, text, "goto", None, None,
                          f"may_goto always takes its exit edge (as `{insn.text()}`, r{site.reg} is {site.value} here)")
                changed = True
                continue
            if site.form == "goto":
                insn.code, insn.dst, insn.src, insn.imm = JA, 0, 0, 0  # target and off stay
                self.site(twin, site.index, text, "goto", None, None,
                          f"may_goto becomes `{insn.text()}`: {site.why}")
                changed = True
                continue
            if site.form == "back-edge":
                self.site(twin, site.index, text, "back-edge", None, None, f"may_goto kept: {site.why}")
                exit_insn = insns[site.target]
                for j in site.back_edges:
                    jump = insns[j]
                    before = jump.text()
                    jump.target = exit_insn  # the writer derives the offset; set it too for printing
                    jump.set_branch_offset(slots[site.target] - (slots[j] + 1))
                    self.site(twin, j, before, "back-edge", None, None,
                              f"back edge now jumps to the exit of the may_goto at slot "
                              f"{slots[site.index] - slots[0]} (as `{jump.text()}`)")
                    changed = True
                if site.unhandled:
                    self.problem(twin, site.index, f"may_goto kept for an outer loop: {site.why}", am.obj)
                continue
            self.site(twin, site.index, text, "keep", None, None, f"may_goto kept: {site.why}")
            if site.unhandled:
                self.problem(twin, site.index, f"may_goto kept: {site.why}; the twin cannot leave its loop "
                             "statically", am.obj)
        return changed


@register
class ForceCallbackStop(_TwinTransform):
    """Rewrite every definition of r0 reaching an exit of an iteration callback to `r0 = 1`."""

    name = "fastpath-callback-stop"
    preserves = frozenset({CFG})  # only non-branch instructions change

    def run(self, am, twin: Function) -> bool:
        """Apply the plan's return decisions to twin."""
        plan = self.plan(am, twin)
        changed = False
        insns = twin.insns
        for ret in plan.returns:
            if ret.blocker is not None:
                where = ""
                if ret.used_at is not None:  # lint's words: a source line when line info has one
                    pos = self.positions(am.obj, twin)[ret.used_at]
                    slots = self.slots(twin)
                    where = f" at line {pos.line}" if pos and pos.line else f" at slot {slots[ret.used_at] - slots[0]}"
                self.problem(twin, ret.index, f"callback of {plan.iterated_by}: {ret.blocker}{where}", am.obj)
                continue
            insn = insns[ret.index]
            text = insn.text()
            if insn.is_ld_imm64:
                insn.imm, insn.imm2 = RETURN_STOP, 0
            else:
                insn.make_r0_imm(RETURN_STOP)
            self.site(twin, ret.index, text, "return", None, RETURN_STOP,
                      f"callback of {plan.iterated_by} returns 1 so the iteration stops")
            changed = True
        return changed
