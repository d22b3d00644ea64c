"""Read a clang-built BPF ELF object into the model (bpfrewrite.model), once.

pyelftools parses the ELF structure; everything it returns is turned into model dataclasses
here and nowhere else (style habit 5). Instructions are decoded by bpfrewrite.isa, BTF and
BTF.ext by bpfrewrite.btf; relocations and BTF.ext records are then attached to instructions.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

from bpfrewrite.byteorder import ELF_DATA, layout, target
from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.isa.opcodes import CALL, CallKind
from bpfrewrite.model import (
    Function,
    Map,
    Object,
    RefKind,
    Reference,
    Relocation,
    Section,
    Symbol,
)

EM_BPF = 247
ET_REL = 1
SHT_NOBITS = 8
SHT_RELA = 4
SHT_REL = 9
SHN_UNDEF = 0
STT_SECTION = 3
STT_FUNC = 2
INSN_SIZE = 8
_MAX_ALIGN = 4096

# R_BPF_* relocation types (llvm/BinaryFormat/ELFRelocs/BPF.def).
R_BPF_64_64 = 1
R_BPF_64_ABS64 = 2
R_BPF_64_ABS32 = 3
R_BPF_64_NODYLD32 = 4
R_BPF_64_32 = 10

_DATA_PREFIXES = (".data", ".rodata", ".bss")
_LEGACY_MAP_DEF = layout("5I")  # struct bpf_map_def: type, key, value, max_entries, flags
_REL = layout("QQ")  # Elf64_Rel: r_offset, r_info
_ELF_ORDER = {value: order for order, value in ELF_DATA.items()}


def read_object(path: str | os.PathLike) -> Object:
    """Read the BPF object at path into the model; raise BpfrewriteError on bad input."""
    return parse_object(_read_bytes(Path(path)), str(path))


def parse_object(data: bytes, path: str) -> Object:
    """Parse the bytes of a BPF object (path names it in messages); raise BpfrewriteError on bad input."""
    order = _check_header(data, str(path))
    try:
        return _build(str(path), data, order)
    except BpfrewriteError as exc:
        if str(exc).startswith(f"{path}:"):
            raise
        raise BpfrewriteError(f"{path}: {exc}") from None  # every message names the file


def _read_bytes(path: Path) -> bytes:
    from bpfrewrite.fileio import read_input

    return read_input(path, "a BPF object file")


def _check_header(data: bytes, path: str) -> str:
    """Refuse what is not a 64-bit relocatable BPF ELF; return its byte order."""
    if len(data) == 0:
        raise BpfrewriteError(f"{path}: empty file, expected a BPF object")
    if data[:4] != b"\x7fELF":
        raise BpfrewriteError(f"{path}: not an ELF file")
    if len(data) < 64:
        raise BpfrewriteError(f"{path}: truncated ELF header")
    if data[4] != 2:
        raise BpfrewriteError(f"{path}: a 32-bit ELF; BPF objects are 64-bit ELF")
    order = _ELF_ORDER.get(data[5])
    if order is None:
        raise BpfrewriteError(f"{path}: unknown ELF data encoding {data[5]}")
    e_type = int.from_bytes(data[16:18], order)  # type: ignore[arg-type]
    machine = int.from_bytes(data[18:20], order)  # type: ignore[arg-type]
    if machine != EM_BPF:
        raise BpfrewriteError(f"{path}: not a BPF object (ELF machine {machine}, expected {EM_BPF})")
    if e_type != ET_REL:
        raise BpfrewriteError(f"{path}: not a relocatable object (ELF type {e_type}); pass clang's .o")
    return order


def _elf_layer(data: bytes) -> tuple[dict, list[Section], list[Symbol]]:
    """Header fields, sections and symbols, through pyelftools (the only code the wide except covers)."""
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(data))
        header = {"e_flags": elf.header["e_flags"], "e_shstrndx": elf.header["e_shstrndx"]}
        sections = [_section(i, s) for i, s in enumerate(elf.iter_sections())]
        symbols = _symbols(elf, sections)
    except BpfrewriteError:
        raise
    except Exception as exc:  # pyelftools raises many types on corrupt input; our own code is outside
        raise BpfrewriteError(f"malformed ELF object ({type(exc).__name__}: {exc})") from None
    if not 0 < header["e_shstrndx"] < len(sections):
        raise BpfrewriteError("the section name table index is out of range")
    _check_unique_sections(sections)
    # pyelftools decodes names as UTF-8 with U+FFFD for bad bytes, which loses them; decode
    # from the raw tables instead, keeping every byte (the writer encodes the same way).
    names = sections[header["e_shstrndx"]].data
    for sec in sections[1:]:
        sec.name = raw_name(names, sec.name_off)
    return header, sections, symbols


# ELF names are bytes; surrogateescape keeps bytes that are not UTF-8 round-trippable (as BTF strings do).
NAME_ENCODING, NAME_ERRORS = "utf-8", "surrogateescape"


def raw_name(table: bytes, off: int) -> str:
    """The NUL-terminated name at off in a string table's bytes ("" past its end)."""
    if not 0 <= off < len(table):
        return ""
    end = table.find(b"\0", off)
    return table[off: end if end >= 0 else len(table)].decode(NAME_ENCODING, NAME_ERRORS)


# Sections read by name (or, for .symtab, by type): with two, libbpf refuses (.symtab) or takes
# the last, while a reader by name takes the first; either way twins would land in a copy the
# loader ignores. Code sections too: .BTF.ext names its records' section by name only.
_UNIQUE_NAMES = (".BTF", ".BTF.ext", ".maps", "maps", "license", "version", ".llvm_addrsig")
SHT_SYMTAB = 2
SHT_SYMTAB_SHNDX = 18
SHF_EXECINSTR = 0x4


def _check_unique_sections(sections: list[Section]) -> None:
    seen: set[str] = set()
    tables = 0
    for sec in sections[1:]:
        if sec.type == SHT_SYMTAB:
            tables += 1
            if tables > 1:
                raise BpfrewriteError("two symbol tables (SHT_SYMTAB); a BPF object has one (libbpf refuses it too)")
        if sec.type == SHT_SYMTAB_SHNDX:
            raise BpfrewriteError(f"section {sec.name!r}: extended symbol section indexes (SHT_SYMTAB_SHNDX) "
                                  "are not supported")
        if sec.name in _UNIQUE_NAMES or sec.flags & SHF_EXECINSTR:
            if sec.name in seen:
                raise BpfrewriteError(f"two sections named {sec.name!r}; a BPF object has one")
            seen.add(sec.name)


def _build(path: str, data: bytes, order: str) -> Object:
    header, sections, symbols = _elf_layer(data)
    obj = Object(path=path, elf_header=header, sections=sections, symbols=symbols, functions=[], byte_order=order)
    _decode_code(obj)
    obj.functions = _functions(obj)
    _parse_btf(obj)
    _attach_relocations(obj)
    _resolve_local_calls(obj)
    _attach_btf_ext(obj)
    obj.maps = _maps(obj)
    obj.__dict__.pop("_slot_indexes", None)
    obj.__dict__.pop("_function_starts", None)
    lic = obj.section("license")
    if lic is not None:
        obj.license = lic.data.split(b"\0", 1)[0].decode("utf-8", "replace")
    return obj


def _enum_value(value: object, table: dict) -> int:
    """pyelftools gives known enum values as names; turn them back into numbers."""
    return table[value] if isinstance(value, str) else int(value)  # type: ignore[arg-type]


def _section(index: int, sec) -> Section:
    from elftools.elf.enums import ENUM_SH_TYPE_BASE

    hdr = sec.header
    align = hdr["sh_addralign"]
    # ELF: 0 or a power of two. BPF sections need at most 8; a huge value would make the
    # writer pad the output by that much, so anything past a page is refused as corrupt.
    if align & (align - 1) or align > _MAX_ALIGN:
        raise BpfrewriteError(f"section {sec.name!r} has an invalid alignment {align}")
    stype = _enum_value(hdr["sh_type"], ENUM_SH_TYPE_BASE)
    payload = b"" if stype == SHT_NOBITS else sec.data()
    if stype != SHT_NOBITS and len(payload) != hdr["sh_size"]:
        raise BpfrewriteError(f"section {sec.name!r} is truncated")
    return Section(
        index=index,
        name=sec.name,
        type=stype,
        flags=hdr["sh_flags"],
        data=payload,
        link=hdr["sh_link"],
        info=hdr["sh_info"],
        addralign=hdr["sh_addralign"],
        entsize=hdr["sh_entsize"],
        size=hdr["sh_size"],
        name_off=hdr["sh_name"],
    )


def _symbols(elf, sections: list[Section]) -> list[Symbol]:
    from elftools.elf.enums import ENUM_ST_INFO_BIND, ENUM_ST_INFO_TYPE, ENUM_ST_SHNDX, ENUM_ST_VISIBILITY

    from elftools.elf.sections import SymbolTableSection

    # By our list, not get_section_by_name: that parses every section header again (slow at 70,000).
    index = next((s.index for s in sections if s.name == ".symtab"), None)
    symtab = elf.get_section(index) if index is not None else None
    if symtab is None:
        raise BpfrewriteError("object has no symbol table (.symtab); was it stripped?")
    if not isinstance(symtab, SymbolTableSection):
        raise BpfrewriteError(".symtab is not a symbol table section")
    strtab = elf.get_section(symtab["sh_link"]).data()
    out = []
    for i, sym in enumerate(symtab.iter_symbols()):
        info = sym["st_info"]
        out.append(
            Symbol(
                index=i,
                name=raw_name(strtab, sym["st_name"]),
                value=sym["st_value"],
                size=sym["st_size"],
                bind=_enum_value(info["bind"], ENUM_ST_INFO_BIND),
                type=_enum_value(info["type"], ENUM_ST_INFO_TYPE),
                other=_enum_value(sym["st_other"]["visibility"], ENUM_ST_VISIBILITY),
                shndx=_enum_value(sym["st_shndx"], ENUM_ST_SHNDX),
                name_off=sym["st_name"],
            )
        )
    return out


def _decode_code(obj: Object) -> None:
    from bpfrewrite.isa import decode

    for sec in obj.sections:
        if sec.is_exec and sec.type != SHT_NOBITS:
            try:
                sec.insns = decode(sec.data, obj.byte_order)
            except BpfrewriteError as exc:
                raise BpfrewriteError(f"section {sec.name!r}: {exc}") from None
            _link_branches(sec)


def _link_branches(sec: Section) -> None:
    """Point each branch at the Instruction it jumps to (style: symbolic targets, offsets derived).

    A target outside the section or inside an ld_imm64 is left unlinked: the writer then keeps
    the raw offset, and the CFG analysis reports the bad jump with the function's name.
    """
    from bpfrewrite.isa.instruction import BRANCH_CODES

    insns = sec.insns or []
    slots = sec.slots()
    at_slot = dict(zip(slots, insns))
    for slot, insn in zip(slots, insns):
        if insn.code in BRANCH_CODES:
            insn.target = at_slot.get(slot + 1 + insn.branch_offset)


class _SlotIndex:
    """Maps a section's 8-byte slots to list indexes; an ld_imm64's second slot maps to None."""

    def __init__(self, sec: Section):
        self.section = sec
        self.by_slot: list[int | None] = []
        for i, insn in enumerate(sec.insns or ()):
            self.by_slot.append(i)
            if insn.width == 2:
                self.by_slot.append(None)

    def index(self, byte_off: int, what: str) -> int:
        """The list index of the instruction at byte_off, or a clear error."""
        if byte_off % INSN_SIZE:
            raise BpfrewriteError(f"{what} at byte {byte_off} of {self.section.name!r} is not 8-byte aligned")
        slot = byte_off // INSN_SIZE
        if not 0 <= slot < len(self.by_slot):
            raise BpfrewriteError(f"{what} at byte {byte_off} is outside section {self.section.name!r}")
        idx = self.by_slot[slot]
        if idx is None:
            raise BpfrewriteError(f"{what} at byte {byte_off} of {self.section.name!r} lands inside an ld_imm64")
        return idx

    def index_or_end(self, byte_off: int, what: str) -> int:
        """Like index(), but the section's end is allowed (for function ends)."""
        if byte_off == len(self.by_slot) * INSN_SIZE:
            return len(self.section.insns or ())
        return self.index(byte_off, what)


def _slot_indexes(obj: Object) -> dict[int, _SlotIndex]:
    # Reader-private caches live in the instance dict and are dropped when reading ends.
    cache = obj.__dict__.setdefault("_slot_indexes", {})
    for sec in obj.exec_sections():
        if sec.index not in cache:
            cache[sec.index] = _SlotIndex(sec)
    return cache


def _functions(obj: Object) -> list[Function]:
    from bpfrewrite.elf.progtypes import program_type

    slots = _slot_indexes(obj)
    funcs = []
    for sym in obj.symbols:
        if sym.type != STT_FUNC or sym.shndx not in slots:
            continue
        sec = obj.sections[sym.shndx]
        index = slots[sym.shndx]
        start = index.index(sym.value, f"function {sym.name!r}")
        end = index.index_or_end(sym.value + sym.size, f"end of function {sym.name!r}")
        if end <= start:
            raise BpfrewriteError(f"function {sym.name!r} in {sec.name!r} has no instructions")
        is_program = sec.name != ".text"
        funcs.append(
            Function(
                name=sym.name,
                section=sec,
                start=start,
                count=end - start,
                symbol=sym,
                is_program=is_program,
                prog_type=program_type(sec.name) if is_program else None,
            )
        )
    funcs.sort(key=lambda f: (f.section.index, f.start))
    for a, b in zip(funcs, funcs[1:]):
        if a.section is b.section and a.start + a.count > b.start:
            raise BpfrewriteError(f"functions {a.name!r} and {b.name!r} overlap in {a.section.name!r}")
    return funcs


def _function_at(obj: Object, sec: Section, index: int) -> Function | None:
    starts = obj.__dict__.get("_function_starts")
    if starts is None or len(starts) != len(obj.functions):
        starts = {(f.section.index, f.start): f for f in obj.functions}
        obj.__dict__["_function_starts"] = starts
    return starts.get((sec.index, index))


def _attach_relocations(obj: Object) -> None:
    slots = _slot_indexes(obj)
    for rel_sec in obj.sections:
        if rel_sec.type == SHT_RELA:  # clang never emits RELA for BPF; libbpf refuses it too
            raise BpfrewriteError(f"{rel_sec.name}: RELA relocations are not supported in BPF objects")
        if rel_sec.type != SHT_REL:
            continue
        entries = _rel_entries(obj, rel_sec)
        if rel_sec.info in slots:
            target = obj.sections[rel_sec.info]
            for offset, rtype, sym in entries:
                index = slots[rel_sec.info].index(offset, f"relocation against {sym.name or 'symbol'}")
                insn = target.insns[index]  # type: ignore[index]
                if insn.ref is not None:
                    raise BpfrewriteError(f"{target.name}: two relocations on one instruction at byte {offset}")
                insn.ref = _classify(obj, target, insn, Relocation(rtype, sym))
        else:
            obj.other_relocations[rel_sec.name] = entries


def _rel_entries(obj: Object, rel_sec: Section) -> list[tuple[int, int, Symbol]]:
    if rel_sec.entsize not in (0, 16) or len(rel_sec.data) % 16:
        raise BpfrewriteError(f"{rel_sec.name}: bad relocation entry size")
    out = []
    for offset, info in _REL[obj.byte_order].iter_unpack(rel_sec.data):
        sym_index, rtype = info >> 32, info & 0xFFFFFFFF
        if sym_index >= len(obj.symbols):
            raise BpfrewriteError(f"{rel_sec.name}: relocation names symbol {sym_index}, which does not exist")
        out.append((offset, rtype, obj.symbols[sym_index]))
    return out


def _section_name(obj: Object, shndx: int) -> str | None:
    return obj.sections[shndx].name if 0 < shndx < len(obj.sections) else None


def _classify(obj: Object, code: Section, insn, reloc: Relocation) -> Reference:
    """Turn one relocation on a code instruction into a typed reference (libbpf's rules)."""
    sym = reloc.symbol
    sec_name = _section_name(obj, sym.shndx)
    where = f"{code.name}: relocation against {sym.name or sec_name or 'symbol'}"
    if sym.index == 0:
        raise BpfrewriteError(f"{code.name}: a relocation names the null symbol")
    # clang: R_BPF_64_32 on calls, R_BPF_64_64 on ld_imm64 (llvm BPFELFObjectWriter); libbpf
    # resolves by instruction, so another type means the object is not what we think it is.
    want = R_BPF_64_32 if insn.is_call else R_BPF_64_64
    if reloc.rtype != want:
        raise BpfrewriteError(f"{where}: relocation type {reloc.rtype} on `{insn.text()}` (expected {want})")
    if insn.is_call:
        # clang emits a kfunc call as `call -1` with src_reg 1 against an undefined symbol;
        # libbpf turns it into src_reg 2 (BPF_PSEUDO_KFUNC_CALL) when it resolves the extern.
        if insn.is_kfunc_call or sym.shndx == SHN_UNDEF:
            return Reference(RefKind.KFUNC, sym.name, reloc)
        if insn.is_pseudo_call:
            if sec_name != ".text":
                raise BpfrewriteError(f"{where}: bpf-to-bpf call target is not in .text")
            # libbpf: callee slot = st_value/8 + imm + 1 (imm -1 for a function symbol).
            slot = sym.value // INSN_SIZE + insn.imm + 1
            target = _target(obj, sym.shndx, slot, where)
            return Reference(RefKind.CALL, target.name, reloc, target=target)  # a static callee has a section symbol
        raise BpfrewriteError(f"{where}: relocation on a helper call")
    if not insn.is_ld_imm64:
        raise BpfrewriteError(f"{where}: relocation on an instruction that is neither call nor ld_imm64")
    if sym.shndx == SHN_UNDEF:
        kind = RefKind.KCONFIG if _is_kconfig(obj, sym.name) else RefKind.KSYM
        return Reference(kind, sym.name, reloc)
    if sec_name == ".text" and (sym.type == STT_SECTION or sym.type == STT_FUNC):
        slot = (sym.value + insn.imm) // INSN_SIZE
        target = _target(obj, sym.shndx, slot, where)
        return Reference(RefKind.CALLBACK, target.name, reloc, target=target)
    if sec_name in (".maps", "maps") or (sec_name or "").startswith("maps/"):
        return Reference(RefKind.MAP, sym.name, reloc, section=sec_name)
    if sec_name and sec_name.startswith(_DATA_PREFIXES):
        addend = insn.imm + (sym.value if sym.type != STT_SECTION else 0)
        name = sym.name if sym.type != STT_SECTION else sec_name
        return Reference(RefKind.DATA, name, reloc, section=sec_name, addend=addend)
    if sec_name and sec_name.startswith(".addr_space"):
        return Reference(RefKind.ARENA, sym.name or sec_name, reloc, section=sec_name)
    raise BpfrewriteError(f"{where}: unsupported relocation (symbol in section {sec_name!r})")


def _is_kconfig(obj: Object, name: str) -> bool:
    btf = obj.btf
    if btf is None:
        return False
    from bpfrewrite.btf.types import BtfKind

    sec_id = btf.find(BtfKind.DATASEC, ".kconfig")
    if sec_id is None:
        return False
    return any(btf.name(v.type) == name for v in btf.types[sec_id].datasec_vars)


def _target(obj: Object, shndx: int, slot: int, where: str) -> Function:
    slots = _slot_indexes(obj).get(shndx)
    if slots is None:
        raise BpfrewriteError(f"{where}: target section holds no code")
    index = slots.index(slot * INSN_SIZE, f"{where}: target")
    func = _function_at(obj, obj.sections[shndx], index)
    if func is None:
        raise BpfrewriteError(f"{where}: target slot {slot} is not the start of a function")
    return func


def _resolve_local_calls(obj: Object) -> None:
    """Give unrelocated pseudo calls (callee in the caller's own section) a CALL reference."""
    for sec in obj.exec_sections():
        for slot, insn in zip(sec.slots(), sec.insns):  # type: ignore[arg-type]
            if insn.code == CALL and insn.src == CallKind.PSEUDO_CALL and insn.ref is None:  # is_pseudo_call, inlined
                target = _target(obj, sec.index, slot + 1 + insn.imm, f"{sec.name}: call at slot {slot}")
                insn.ref = Reference(RefKind.CALL, target.name, None, target=target)


def _parse_btf(obj: Object) -> None:
    from bpfrewrite.btf.ext import BTFExt
    from bpfrewrite.btf.types import BTF

    sec = obj.section(".BTF")
    # The BTF codecs' errors already name their section (".BTF: ...", ".BTF.ext: ...").
    if sec is not None:
        obj.btf = BTF.parse(sec.data)
        _check_order(obj, ".BTF", obj.btf.byte_order)
    ext = obj.section(".BTF.ext")
    if ext is not None and obj.btf is not None:
        obj.btf_ext = BTFExt.parse(ext.data, obj.btf)
        _check_order(obj, ".BTF.ext", obj.btf_ext.byte_order)


def _check_order(obj: Object, name: str, order: str) -> None:
    # Each BTF section says its own byte order (its magic); one that disagrees with the ELF header
    # is not an object clang or libbpf's linker writes, and would be written back wrong.
    if order != obj.byte_order:
        raise BpfrewriteError(f"{name} is {order}-endian ({target(order)}) but the ELF header says "
                              f"{obj.byte_order}-endian ({target(obj.byte_order)}): a mixed-order object")


def _attach_btf_ext(obj: Object) -> None:
    """Hang func_info, line_info and CO-RE records on the instructions they describe."""
    ext, btf = obj.btf_ext, obj.btf
    if ext is None or btf is None:
        return
    slots = _slot_indexes(obj)
    by_name = {s.name: s for s in obj.exec_sections()}

    def insn_for(sec_off: int, byte_off: int, what: str):
        name = btf.strings.get(sec_off)
        sec = by_name.get(name)
        if sec is None:
            raise BpfrewriteError(f".BTF.ext: {what} for section {name!r}, which holds no code")
        return sec, slots[sec.index].index(byte_off, f".BTF.ext {what}")

    from bpfrewrite.btf.types import BtfKind

    for sec_off, recs in ext.func_info.items():
        for rec in recs:
            sec, idx = insn_for(sec_off, rec.insn_off, "func_info")
            # The kernel refuses such func_info too ("invalid type id"); twins copy this FUNC.
            if not 0 < rec.type_id < len(btf.types) or btf.types[rec.type_id].kind != BtfKind.FUNC:
                raise BpfrewriteError(f".BTF.ext: func_info at byte {rec.insn_off} of {sec.name!r} names "
                                      f"type {rec.type_id}, which is not a BTF FUNC")
            sec.insns[idx].func = rec  # type: ignore[index]
            func = _function_at(obj, sec, idx)
            if func is not None:
                func.btf_func_id = rec.type_id
    for sec_off, recs in ext.line_info.items():
        for rec in recs:
            sec, idx = insn_for(sec_off, rec.insn_off, "line_info")
            sec.insns[idx].line = rec  # type: ignore[index]
    for sec_off, recs in ext.core_relos.items():
        for rec in recs:
            sec, idx = insn_for(sec_off, rec.insn_off, "CO-RE relocation")
            sec.insns[idx].core.append(rec)  # type: ignore[index]


def _maps(obj: Object) -> list[Map]:
    out = []
    btf = obj.btf
    maps_sec = obj.section(".maps")
    if maps_sec is not None and btf is not None:
        from bpfrewrite.btf.maps import read_map_def
        from bpfrewrite.btf.types import BtfKind

        sec_id = btf.find(BtfKind.DATASEC, ".maps")
        for var_id, _off, _size in btf.types[sec_id].datasec_vars if sec_id is not None else ():
            var = btf.types[var_id]
            d = read_map_def(btf, var.size_or_type)
            out.append(
                Map(
                    name=var.name,
                    section=".maps",
                    type=d.get("type"),
                    key_size=d.get("key_size"),
                    value_size=d.get("value_size"),
                    max_entries=d.get("max_entries"),
                    flags=d.get("map_flags"),
                    key_type_id=d.get("key_type_id"),
                    value_type_id=d.get("value_type_id"),
                )
            )
    legacy = obj.section("maps")
    if legacy is not None:
        for sym in obj.symbols:
            if sym.shndx == legacy.index and sym.type != STT_SECTION and sym.name:
                if sym.value + _LEGACY_MAP_DEF[obj.byte_order].size > len(legacy.data):
                    raise BpfrewriteError(f"legacy map {sym.name!r} runs past the end of section 'maps'")
                mtype, ksize, vsize, entries, flags = _LEGACY_MAP_DEF[obj.byte_order].unpack_from(legacy.data, sym.value)
                out.append(Map(sym.name, "maps", mtype, ksize, vsize, entries, flags))
    return out
