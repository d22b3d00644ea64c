"""What a program and its fast-path twin do to the traffic: their static verdicts, named.

A verdict is the set of values a program can return (the low 32 bits of r0 at its reachable exits,
as the kernel reads them), plus "unknown" when some exit returns a computed value or a tail call
may hand the packet to another program. Names and fates (pass or drop) come from the per-type table
bpfrewrite/kernel/return_codes.json. Library entry points for other commands (guard):

    twin_verdicts(obj) -> {program: (original Verdict, twin Verdict)}
    can_drop(verdict) -> bool      # may it stop traffic? (unknown counts as yes)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from bpfrewrite.kernel import return_codes
from bpfrewrite.kernel.return_codes import s32
from bpfrewrite.model import Function, Object
from bpfrewrite.twins import program_twins, twin_names


@dataclass(frozen=True)
class Verdict:
    """The return values a program can give, with their names for its program type."""

    prog_type: str | None
    values: frozenset[int]  # s32
    unknown: bool
    tail_call: bool = False
    # value -> list indexes (in the function) of the definitions of r0 returning it
    origins: dict[int, tuple[int, ...]] = field(default_factory=dict, compare=False)
    # conditional jumps (list indexes) that can go one way only
    decided: frozenset[int] = field(default_factory=frozenset, compare=False)

    def labels(self) -> list[str]:
        """Each value as `1 (XDP_DROP)` in numeric order, then `unknown` when others are possible."""
        out = [return_codes.label(self.prog_type, v) for v in sorted(self.values)]
        if self.unknown:
            out.append("unknown (tail call)" if self.tail_call else "unknown")
        return out

    def text(self) -> str:
        """The labels joined for a table cell ("-" when no exit is reachable)."""
        return ", ".join(self.labels()) or "-"

    def fates(self) -> set[str | None]:
        """The fates of the known values ("pass", "drop", None when the table does not say)."""
        return {return_codes.fate(self.prog_type, v) for v in self.values}

    def as_dict(self) -> dict:
        """JSON form: values, their names (null where none), unknown, tail_call."""
        ordered = sorted(self.values)
        return {
            "values": ordered,
            "names": [return_codes.name(self.prog_type, v) for v in ordered],
            "unknown": self.unknown,
            "tail_call": self.tail_call,
        }


def can_drop(verdict: Verdict) -> bool:
    """May the program stop traffic (drop, abort, deny)? True when a value's fate is drop, or unknown
    for a type whose return values have fates; False for types without them (tracing)."""
    if return_codes.for_type(verdict.prog_type) is None:
        return False
    return verdict.unknown or "drop" in verdict.fates()


def can_pass(verdict: Verdict) -> bool:
    """May the program let traffic through? (unknown counts as yes, for a type with fates)."""
    if return_codes.for_type(verdict.prog_type) is None:
        return False
    return verdict.unknown or "pass" in verdict.fates()


def only_drops(verdict: Verdict) -> bool:
    """Does every reachable exit stop traffic (no pass value, nothing unknown)?"""
    if return_codes.for_type(verdict.prog_type) is None or verdict.unknown or not verdict.values:
        return False
    return verdict.fates() == {"drop"}


def fails_closed(original: Verdict, twin: Verdict) -> bool:
    """The twin can only drop where the original can pass."""
    return only_drops(twin) and can_pass(original)


def verdict_of(am, func: Function, twin_plan: bool = False) -> Verdict:
    """The verdict of func's code as it is, or (twin_plan) of the twin its FastPathPlan describes."""
    from bpfrewrite.passes.analysis.return_values import ReturnValues, TwinReturnValues

    exits = am.get(TwinReturnValues if twin_plan else ReturnValues)[func]
    origins: dict[int, set[int]] = {}
    for raw, defs in exits.origins.items():
        if raw is not None:
            origins.setdefault(s32(raw), set()).update(defs)
    return Verdict(
        prog_type=func.prog_type,
        values=frozenset(s32(v) for v in exits.values),
        unknown=exits.unknown,
        tail_call=exits.tail_call,
        origins={v: tuple(sorted(d)) for v, d in origins.items()},
        decided=exits.decided,
    )


def twin_verdicts(obj: Object, am=None) -> dict[str, tuple[Verdict, Verdict]]:
    """{program: (original's verdict, twin's verdict)} for every program of obj that has a twin.

    In a patched object (twins found as `twin_names` finds them: the record, or their shape after
    libbpf's linker) the twin's verdict is read from the twin's code; in an unpatched one, every
    program's twin verdict is read from the original with the fast-path plan applied (what `patch`
    would write).
    """
    from bpfrewrite.passes.manager import AnalysisManager

    am = am or AnalysisManager(obj)
    twins = twin_names(obj)
    pairs = program_twins(obj)
    out: dict[str, tuple[Verdict, Verdict]] = {}
    for prog in obj.programs:
        if not twins:
            out[prog.name] = (verdict_of(am, prog), verdict_of(am, prog, twin_plan=True))
            continue
        twin = obj.function(pairs[prog.name]) if prog.name in pairs else None
        if prog.name not in twins and twin is not None:
            out[prog.name] = (verdict_of(am, prog), verdict_of(am, twin))
    return out
