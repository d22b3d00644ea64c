"""Twin struct_ops maps: the only way a twin of a struct_ops program can load.

libbpf gives a struct_ops program its attach_btf_id (the kernel struct member it implements) from
the struct_ops map whose function-pointer relocation names it; a struct_ops program no map names
is loaded without one and the kernel refuses it with -524 (ENOTSUPP, measured on 6.18 with
libbpf 1.1), which fails the whole object. So for every struct_ops map `M` (a variable in a
`.struct_ops` or `.struct_ops.link` section) that names a program with a twin, a twin map
`M__fast` is added to the same section: the same bytes, the same BTF type, and relocations that
name the twins instead of the originals (members naming functions without a twin keep them).

Creating a struct_ops map registers nothing: the kernel registers it on attach (bpftool
`struct_ops register`, `bpf_map__attach_struct_ops`), so an object that loaded before still
loads, with its twins. A loader attaches one of `M` or `M__fast` (for `.struct_ops.link` maps,
`bpf_link__update_map` swaps one for the other on a live link).
"""
from __future__ import annotations

from bpfrewrite.btf.types import BtfKind, BtfVarSecinfo
from bpfrewrite.model import Function, Object, Section, Symbol

STT_OBJECT = 1
SHN_UNDEF = 0


def is_struct_ops_section(name: str) -> bool:
    """The data sections libbpf reads struct_ops maps from (libbpf 1.1: .struct_ops; 1.2+: .link too)."""
    return name.lstrip("?") in (".struct_ops", ".struct_ops.link")


def add_twin_maps(obj: Object, twins: dict[Function, Function], suffix: str) -> list[dict]:
    """Add a twin of every struct_ops map that names a twinned program; return what was added."""
    added = []
    for sec in list(obj.sections):
        if not is_struct_ops_section(sec.name) or sec.type != 1:  # SHT_PROGBITS
            continue
        rel_name = ".rel" + sec.name
        relocs = obj.other_relocations.get(rel_name)
        if not relocs:
            continue
        # Twins are not placed yet (their symbols say 0): look up originals only.
        made = set(twins.values())
        by_place = {(f.symbol.shndx, f.symbol.value): f for f in obj.functions if f not in made}
        for var in [s for s in obj.symbols if s.shndx == sec.index and s.type == STT_OBJECT and s.size]:
            mine = [(off, rtype, sym) for off, rtype, sym in relocs if var.value <= off < var.value + var.size]
            targets = [by_place.get((sym.shndx, sym.value)) for _, _, sym in mine]
            if not any(t in twins for t in targets):
                continue
            twin_var = _copy_variable(obj, sec, var, suffix)
            shift = twin_var.value - var.value
            for (off, rtype, sym), target in zip(mine, targets):
                relocs.append((off + shift, rtype, twins[target].symbol if target in twins else sym))
            added.append({"original": var.name, "twin": twin_var.name, "section": sec.name})
    return added


def _copy_variable(obj: Object, sec: Section, var: Symbol, suffix: str) -> Symbol:
    """Append a copy of var's bytes to sec, with a symbol and a BTF VAR in the section's DATASEC."""
    align = max(sec.addralign, 8)
    data = bytearray(sec.data)
    data += bytes(-len(data) % align)
    offset = len(data)
    data += sec.data[var.value : var.value + var.size]
    sec.data, sec.size = bytes(data), len(data)
    twin = Symbol(index=-1, name=var.name + suffix, value=offset, size=var.size, bind=var.bind,
                  type=var.type, other=var.other, shndx=var.shndx)
    obj.symbols.append(twin)
    btf = obj.btf
    if btf is not None:
        datasec = next((t for t in btf.types[1:] if t.kind == BtfKind.DATASEC and t.name == sec.name), None)
        if datasec is not None:
            # By name: clang leaves every DATASEC offset 0 and libbpf fills them in from the symbols.
            entry = next((v for v in datasec.datasec_vars if btf.types[v.type].name == var.name), None)
            if entry is not None:
                import dataclasses

                src = btf.types[entry.type]
                var_id = btf.add_type(dataclasses.replace(src, name_off=btf.strings.add(twin.name), name=twin.name))
                datasec.datasec_vars.append(BtfVarSecinfo(var_id, offset, entry.size))
                if datasec.size_or_type:  # clang leaves 0 and libbpf fills it in: keep that
                    datasec.size_or_type = len(data)
    return twin
