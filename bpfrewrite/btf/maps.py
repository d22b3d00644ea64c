"""Reading a BTF-defined map (`struct {...} m SEC(".maps")`) the way libbpf does.

bpf_helpers.h encodes each attribute in the type of a struct member, never in data:
`__uint(name, N)` is `int (*name)[N]` (a pointer to an ARRAY of N elements), `__type(name, T)` is
`typeof(T) *name`, and `__array(name, T)` is `typeof(T) *name[]` (map-in-map and prog-array values).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from bpfrewrite.btf.types import BtfKind

if TYPE_CHECKING:
    from bpfrewrite.btf.types import BTF


_UINT_FIELDS = frozenset({"type", "max_entries", "map_flags", "numa_node", "pinning", "map_extra"})


class _UnknownShape(Exception):
    """A member is not shaped the way its name requires; the whole definition is unknown."""


def _uint_value(btf: "BTF", type_id: int) -> int:
    ptr = btf.types[btf.resolve(type_id)]
    if ptr.kind != BtfKind.PTR:
        raise _UnknownShape
    arr = btf.types[btf.resolve(ptr.size_or_type)]
    if arr.kind != BtfKind.ARRAY or arr.array is None:
        raise _UnknownShape
    return arr.array.nelems


def _set_size(out: dict, key: str, size: int) -> None:
    # libbpf refuses a map whose __uint(key_size) disagrees with the size of __type(key).
    if out.setdefault(key, size) != size:
        raise _UnknownShape


def read_map_def(btf: "BTF", type_id: int) -> dict:
    """Map attributes: type, max_entries, map_flags, key/value sizes and type ids, other __uint fields."""
    t = btf.types[btf.resolve(type_id)] if 0 <= type_id < len(btf.types) else None
    if t is not None and t.kind == BtfKind.VAR:
        t = btf.types[btf.resolve(t.size_or_type)]
    if t is None or t.kind != BtfKind.STRUCT:
        return {}
    out: dict = {}
    try:
        for m in t.members:
            name = btf.strings.get(m.name_off)
            member = btf.types[btf.resolve(m.type)]
            if name in ("key", "value"):
                if member.kind != BtfKind.PTR:
                    raise _UnknownShape
                pointee = member.size_or_type
                size = btf.size_of(pointee)
                if size is None:
                    raise _UnknownShape
                out[f"{name}_type_id"] = pointee
                _set_size(out, f"{name}_size", size)
            elif name == "values":
                if member.kind != BtfKind.ARRAY or member.array is None:
                    raise _UnknownShape
                elem = btf.types[btf.resolve(member.array.type)]
                if elem.kind != BtfKind.PTR:
                    raise _UnknownShape
                out["values_type_id"] = btf.resolve(elem.size_or_type)
            elif name in ("key_size", "value_size"):
                _set_size(out, name, _uint_value(btf, m.type))
            elif name in _UINT_FIELDS:
                out[name] = _uint_value(btf, m.type)
            else:
                # libbpf (non-strict) skips fields it does not know; keep newer __uint fields we can read
                try:
                    out[name] = _uint_value(btf, m.type)
                except _UnknownShape:
                    pass
    except _UnknownShape:
        return {}
    return out
