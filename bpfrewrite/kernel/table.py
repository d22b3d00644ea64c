"""The one table of facts about BPF helpers and kfuncs, shared by the linter and the rewriter.

The facts are hand-edited data, each entry with the source it comes from: helpers.json (every
helper id of uapi linux/bpf.h) and kfuncs.json, shipped as package data. tools/gen_helper_table.py
checks them against the kernel headers, BTF and source; it writes no facts. They are loaded once
and checked strictly, so a typo in the data fails loudly instead of silently changing a rewrite.
See docs/helper-table.md for what each field means and how to add an entry.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Iterable, Literal

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.isa.opcodes import CALL, CallKind
from bpfrewrite.model import RefKind

SCHEMA_VERSION = 2


class Returns(StrEnum):
    """What r0 holds after the call, as the verifier sees it."""

    INT = "int"
    VOID = "void"  # r0 is not readable after the call (kernel RET_VOID)
    PTR_OR_NULL = "ptr_or_null"  # the program must test r0 against NULL before using it
    PTR_NONNULL = "ptr_nonnull"  # the verifier lets the program use r0 without a NULL test


class Role(StrEnum):
    """What the call means for resources and termination."""

    ACQUIRE = "acquire"  # returns (or sets up) something the program must release
    RELEASE = "release"  # consumes something acquired earlier
    LOCK = "lock"  # enters a section that must be left (spin lock, RCU, preemption, irqs)
    UNLOCK = "unlock"  # leaves such a section
    SPINS = "spins"  # a LOCK that waits for another holder (spin locks; not RCU, preempt or irq sections)
    ITERATE = "iterate"  # calls a callback repeatedly
    CALLBACK_ONCE = "callback_once"  # calls a callback at most once
    LONG_RUNNING = "long_running"  # kernel work the program cannot cut short
    ITER_NEW = "iter_new"  # initialises an open-coded iterator
    ITER_NEXT = "iter_next"  # advances one; NULL ends the loop
    ITER_DESTROY = "iter_destroy"  # tears one down
    TAIL_CALL = "tail_call"  # jumps to another program
    NONE = "none"  # documentation only: entries without a role store an empty set


Kind = Literal["helper", "kfunc"]
FastPath = Literal["stub", "keep"]


@dataclass(frozen=True)
class Entry:
    """Facts about one helper or kfunc."""

    name: str
    id: int | None  # helper id (BPF_FUNC_*); None for kfuncs
    kind: Kind
    returns: Returns
    roles: frozenset[Role]
    callback_arg: int | None  # 1-based index of the callback argument, if any
    fast_path: FastPath  # what the fast-path twin does with the call
    failure_value: int | None  # r0 written in place of a stubbed call (0 is NULL)
    reason: str  # one sentence: why stub or keep
    source: str  # where the facts come from

    @property
    def stubbed(self) -> bool:
        """True when the fast path replaces the call by `r0 = failure_value`."""
        return self.fast_path == "stub"


_FIELDS = frozenset(Entry.__dataclass_fields__)
_TOP_KEYS = frozenset({"schema", "kind", "about", "entries"})


def _fail(file: str, what: str) -> BpfrewriteError:
    return BpfrewriteError(f"bpfrewrite/kernel/{file}: {what}")


def _entry(file: str, kind: Kind, raw: object) -> Entry:
    """Validate one JSON object and turn it into an Entry."""
    if not isinstance(raw, dict):
        raise _fail(file, f"entry is not an object: {raw!r}")
    name = raw.get("name", "?")
    keys = set(raw)
    if keys != _FIELDS:
        extra, missing = sorted(keys - _FIELDS), sorted(_FIELDS - keys)
        raise _fail(file, f"{name}: unknown keys {extra} / missing keys {missing}")
    if not isinstance(name, str) or not name:
        raise _fail(file, f"entry name must be a non-empty string: {name!r}")
    if raw["kind"] != kind:
        raise _fail(file, f"{name}: kind {raw['kind']!r} in the {kind} table")
    ident = raw["id"]
    if kind == "helper" and (type(ident) is not int or ident < 0):
        raise _fail(file, f"{name}: helper id must be a non-negative integer")
    if kind == "kfunc" and ident is not None:
        raise _fail(file, f"{name}: kfuncs have no id")
    try:
        returns = Returns(raw["returns"])
        roles = frozenset(Role(r) for r in raw["roles"])
    except (ValueError, TypeError) as exc:
        raise _fail(file, f"{name}: {exc}") from None
    if Role.NONE in roles:
        raise _fail(file, f"{name}: write an empty role list instead of 'none'")
    cb = raw["callback_arg"]
    if cb is not None and (type(cb) is not int or not 1 <= cb <= 5):
        raise _fail(file, f"{name}: callback_arg must be 1..5 or null")
    fast_path, failure = raw["fast_path"], raw["failure_value"]
    if fast_path not in ("stub", "keep"):
        raise _fail(file, f"{name}: fast_path must be 'stub' or 'keep'")
    if failure is not None and type(failure) is not int:
        raise _fail(file, f"{name}: failure_value must be an integer or null")
    if fast_path == "stub" and failure is None:
        raise _fail(file, f"{name}: a stubbed call needs a failure_value")
    if fast_path == "stub" and not -(2**31) <= failure < 2**31:
        raise _fail(file, f"{name}: failure_value must fit the 32-bit imm of `r0 = imm`")
    for text in ("reason", "source"):
        if not isinstance(raw[text], str) or not raw[text].strip():
            raise _fail(file, f"{name}: {text} must be a non-empty string")
    return Entry(
        name=name, id=ident, kind=kind, returns=returns, roles=roles, callback_arg=cb,
        fast_path=fast_path, failure_value=failure, reason=raw["reason"], source=raw["source"],
    )


def parse_table(file: str, kind: Kind, text: str) -> list[Entry]:
    """Parse and validate the text of helpers.json or kfuncs.json."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(file, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or set(doc) != _TOP_KEYS:
        raise _fail(file, f"top-level keys must be {sorted(_TOP_KEYS)}")
    if doc["schema"] != SCHEMA_VERSION:
        raise _fail(file, f"schema {doc['schema']!r}, this bpfrewrite reads {SCHEMA_VERSION}")
    if doc["kind"] != kind or not isinstance(doc["entries"], list):
        raise _fail(file, f"expected a list of {kind} entries")
    entries = [_entry(file, kind, raw) for raw in doc["entries"]]
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise _fail(file, "duplicate names")
    ids = [e.id for e in entries if e.id is not None]
    if len(set(ids)) != len(ids):
        raise _fail(file, "duplicate helper ids")
    return entries


@dataclass(frozen=True)
class _Tables:
    by_id: dict[int, Entry]
    by_name: dict[str, Entry]  # kfuncs


@functools.cache
def _tables() -> _Tables:
    pkg = resources.files("bpfrewrite.kernel")
    helpers_ = parse_table("helpers.json", "helper", (pkg / "helpers.json").read_text("utf-8"))
    kfuncs_ = parse_table("kfuncs.json", "kfunc", (pkg / "kfuncs.json").read_text("utf-8"))
    return _Tables(
        by_id={e.id: e for e in helpers_ if e.id is not None},
        by_name={e.name: e for e in kfuncs_},
    )


def helper(id: int) -> Entry | None:
    """The entry for helper id (BPF_FUNC_*), or None if the table does not know it."""
    return _tables().by_id.get(id)


def helper_by_name(name: str) -> Entry | None:
    """The helper entry called name (with or without the bpf_ prefix), or None."""
    full = name if name.startswith("bpf_") else f"bpf_{name}"
    return next((e for e in _tables().by_id.values() if e.name == full), None)


def kfunc(name: str) -> Entry | None:
    """The entry for the kfunc called name, or None if the table does not know it."""
    return _tables().by_name.get(name)


def helpers() -> Iterable[Entry]:
    """Every helper entry, by id."""
    return [e for _, e in sorted(_tables().by_id.items())]


def kfuncs() -> Iterable[Entry]:
    """Every kfunc entry, by name."""
    return [e for _, e in sorted(_tables().by_name.items())]


def table_for(insn: object, extern_name: str | None = None) -> Entry | None:
    """The entry for a call instruction: by helper id, or by name for a kfunc call.

    A kfunc's name comes from extern_name, else from the instruction's KFUNC reference.
    Anything that is not a helper or kfunc call (bpf-to-bpf calls included) gives None.
    """
    if getattr(insn, "code", None) != CALL:
        return None
    src = getattr(insn, "src", None)
    ref = getattr(insn, "ref", None)
    # In an object file clang writes a kfunc call as src_reg 1 (pseudo call) with a relocation
    # against the extern; libbpf makes it src_reg 2 at load time. The KFUNC reference tells.
    if src == CallKind.HELPER:
        return helper(getattr(insn, "imm"))
    if src == CallKind.KFUNC_CALL or (ref is not None and getattr(ref, "kind", None) == RefKind.KFUNC):
        name = extern_name
        if name is None:
            ref = getattr(insn, "ref", None)
            if ref is not None and getattr(ref, "kind", None) == RefKind.KFUNC:
                name = ref.name
        return kfunc(name) if name else None
    return None
