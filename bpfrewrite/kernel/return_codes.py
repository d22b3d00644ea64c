"""What a program's return value means, per program type: names and fates (pass or drop).

The facts are data (return_codes.json, with the kernel source of each type's codes), loaded once
and checked strictly. Program types are libbpf's names ("xdp", "sched_cls", as
bpfrewrite.elf.progtypes and libbpf_bpf_prog_type_str() spell them). Return values are compared
as the kernel reads them: the low 32 bits of r0, as a signed int (so -1 is TC_ACT_UNSPEC and
-EPERM an LSM denial; BPF_PROG_TEST_RUN's u32 retval is converted with `s32`).
"""
from __future__ import annotations

import errno
import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from bpfrewrite.errors import BpfrewriteError

SCHEMA_VERSION = 1
Fate = Literal["pass", "drop"]
_FATES = ("pass", "drop", None)


def s32(value: int) -> int:
    """The low 32 bits of value as a signed int (how the kernel reads a program's r0)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >> 31 else value


@dataclass(frozen=True)
class TypeCodes:
    """The return codes of one program type."""

    prog_type: str
    kind: str  # "codes" (a named list), "length" (bytes kept) or "errno" (0 or -errno)
    codes: dict[int, tuple[str, Fate | None]]
    other_name: str | None
    other_fate: Fate | None
    source: str

    def name(self, value: int) -> str | None:
        """The name of value (s32), or None when it has none."""
        value = s32(value)
        if self.kind == "length":
            return "drop (0 bytes kept)" if value == 0 else f"keep {value & 0xFFFFFFFF} bytes"
        if self.kind == "errno":
            if value == 0:
                return "allow (0)"
            return f"-{errno.errorcode[-value]}" if value < 0 and -value in errno.errorcode else None
        found = self.codes.get(value)
        return found[0] if found else self.other_name

    def fate(self, value: int) -> Fate | None:
        """"pass" when the traffic or operation goes on, "drop" when it is stopped, None if unsure."""
        value = s32(value)
        if self.kind == "length":
            return "drop" if value == 0 else "pass"
        if self.kind == "errno":
            return "pass" if value == 0 else "drop" if value < 0 else None
        found = self.codes.get(value)
        return found[1] if found else self.other_fate


def _fail(what: str) -> BpfrewriteError:
    return BpfrewriteError(f"bpfrewrite/kernel/return_codes.json: {what}")


def parse(text: str) -> dict[str, TypeCodes]:
    """Parse and validate return_codes.json."""
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_VERSION or not isinstance(doc.get("types"), dict):
        raise _fail(f"expected schema {SCHEMA_VERSION} with a 'types' object")
    raw_types = doc["types"]
    out: dict[str, TypeCodes] = {}
    for prog_type, raw in raw_types.items():
        alias = raw.get("same_as")
        if alias is not None:
            if set(raw) != {"same_as"} or alias not in raw_types or "same_as" in raw_types[alias]:
                raise _fail(f"{prog_type}: same_as must name a type with codes of its own")
            raw = raw_types[alias]
        kind = raw.get("kind", "codes")
        if kind not in ("codes", "length", "errno") or not str(raw.get("source", "")).strip():
            raise _fail(f"{prog_type}: unknown kind {kind!r} or no source")
        codes: dict[int, tuple[str, Fate | None]] = {}
        for entry in raw.get("codes", []):
            if set(entry) != {"value", "name", "fate"} or type(entry["value"]) is not int \
                    or entry["fate"] not in _FATES or entry["value"] in codes:
                raise _fail(f"{prog_type}: bad code entry {entry!r}")
            codes[entry["value"]] = (entry["name"], entry["fate"])
        other = raw.get("other", {"name": None, "fate": None})
        if kind == "codes" and (not codes or other.get("fate") not in _FATES):
            raise _fail(f"{prog_type}: a 'codes' type needs codes and an 'other' entry")
        out[prog_type] = TypeCodes(prog_type, kind, codes, other.get("name"), other.get("fate"), raw["source"])
    return out


@functools.cache
def _table() -> dict[str, TypeCodes]:
    return parse((resources.files("bpfrewrite.kernel") / "return_codes.json").read_text("utf-8"))


def for_type(prog_type: str | None) -> TypeCodes | None:
    """The return codes of prog_type, or None when its return values have no names here."""
    return _table().get(prog_type) if prog_type else None


def name(prog_type: str | None, value: int) -> str | None:
    """The name of a return value of prog_type ("XDP_DROP", "-EPERM"), or None."""
    codes = for_type(prog_type)
    return codes.name(value) if codes else None


def fate(prog_type: str | None, value: int) -> Fate | None:
    """"pass" or "drop" for a return value of prog_type; None when the table does not say."""
    codes = for_type(prog_type)
    return codes.fate(value) if codes else None


def label(prog_type: str | None, value: int) -> str:
    """A return value as text for a user: `1 (XDP_DROP)`, or the number alone when it has no name."""
    text = str(s32(value))
    found = name(prog_type, value)
    return f"{text} ({found})" if found else text
