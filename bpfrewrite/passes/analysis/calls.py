"""Helper and kfunc calls of an object, each with its knowledge-table entry (the one source of facts)."""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING

from bpfrewrite.kernel.table import Entry, Returns, Role, table_for
from bpfrewrite.model import RefKind
from bpfrewrite.passes.manager import Analysis, register

if TYPE_CHECKING:
    from bpfrewrite.model import Function


@dataclass(frozen=True)
class Call:
    """A helper or kfunc call the table knows: where it is and what the table says about it."""

    func: "Function"
    index: int  # list index in func.insns
    entry: Entry


def call_entry(insn) -> Entry | None:
    """The table entry of a helper or kfunc call instruction; None for anything else or unknown callees."""
    return table_for(insn)


@register
class KnownCalls(Analysis):
    """Every helper/kfunc call of the object whose callee the table knows, in function then insn order."""

    name = "known-calls"
    scope = "object"
    requires = frozenset()

    @classmethod
    def run(cls, am, unit) -> list[Call]:
        """The calls of unit (the object)."""
        out = []
        for func in unit.functions:
            for index, insn in enumerate(func.insns):
                entry = call_entry(insn)
                if entry is not None:
                    out.append(Call(func, index, entry))
        return out


def known_calls(am) -> list[Call]:
    """Every known helper/kfunc call of the manager's object (computed once per object)."""
    return am.get(KnownCalls)


def has_roles(entry: Entry, roles: tuple[Role, ...], returns: Collection[Returns] | None = None) -> bool:
    """True when entry has every one of roles and, with returns, a result of one of those kinds."""
    return all(r in entry.roles for r in roles) and (returns is None or entry.returns in returns)


def calls_with_role(am, *roles: Role, returns: Collection[Returns] | None = None) -> Iterator[Call]:
    """The known calls whose entry has every one of roles (and, with returns, one of those result kinds)."""
    return (c for c in known_calls(am) if has_roles(c.entry, roles, returns))


def checked_locks(target=None) -> list[str]:
    """Names of the locks whose result a program can test (roles lock and spins, int result), for
    advice; with target (major, minor), only those that kernel has."""
    from bpfrewrite.kernel.table import helpers, kfuncs
    from bpfrewrite.kernel.versions import available

    found = [e.name for e in (*helpers(), *kfuncs())
             if has_roles(e, (Role.LOCK, Role.SPINS), (Returns.INT,)) and (target is None or available(e.name, target))]
    return sorted(found, key=lambda n: (len(n), n))


def argument_defs(am, call: Call, reg: int) -> list:
    """The instructions whose value of register reg reaches the call (None for a path with no def)."""
    from bpfrewrite.passes.analysis.dataflow import ENTRY, Dataflow

    flow = am.get(Dataflow, call.func)
    insns = flow.insns  # call.func.insns slices the section: per call it would cost the whole function
    return [None if d == ENTRY else insns[d] for d in flow.reaching(call.index, reg)]


def callback_target(am, call: Call):
    """The Function passed as the call's callback argument (table callback_arg), when one reaches it."""
    if call.entry.callback_arg is None:
        return None
    targets = {
        id(insn.ref.target): insn.ref.target
        for insn in argument_defs(am, call, call.entry.callback_arg)
        if insn is not None and insn.ref is not None and insn.ref.kind == RefKind.CALLBACK
        and insn.ref.target is not None
    }
    return next(iter(targets.values())) if len(targets) == 1 else None


def callback_name(am, call: Call) -> str | None:
    """The name of the function passed as the call's callback argument, if known."""
    target = callback_target(am, call)
    return target.name if target is not None else None
