"""Write the model back to an ELF BPF object.

Offsets are derived here, never stored: function symbol values and sizes, call and callback
immediates, relocation offsets and .BTF.ext insn_off all come from each instruction's current
position in its section. Sections the model does not interpret pass through byte for byte;
relocation sections that refer to symbols are rewritten only to follow symbol renumbering.

Decisions on derived sections (style habit 7): .rel.BTF.ext is regenerated (one R_BPF_64_NODYLD32
per record, against the code section's symbol, as clang emits it); .llvm_addrsig is rewritten
with the new symbol indexes; DWARF (.debug_*) is kept as is: originals never move, so it stays
true for them, and twins have none.
"""
from __future__ import annotations

import os

from bpfrewrite.byteorder import ELF_DATA, LITTLE, layout
from bpfrewrite.elf.reader import NAME_ENCODING, NAME_ERRORS
from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.isa.opcodes import GOTOL
from bpfrewrite.model import Object, RefKind, Section, slot_offsets

INSN_SIZE = 8
SHT_SYMTAB = 2
SHT_NOBITS = 8
SHT_REL = 9
SHT_LLVM_ADDRSIG = 0x6FFF4C03
SHF_INFO_LINK = 0x40
STB_LOCAL = 0
STT_SECTION = 3
R_BPF_64_NODYLD32 = 4

SHN_LORESERVE = 0xFF00
SHN_XINDEX = 0xFFFF

# ELF64 structures in both byte orders; the object is written in obj.byte_order (its input's).
_EHDR = layout("16sHHIQQQIHHHHHH")
_SHDR = layout("IIQQQQIIQQ")
_SYM = layout("IBBHQQ")
_REL = layout("QQ")
_REL_SIZE = _REL[LITTLE].size


def write_object(obj: Object, path: str | os.PathLike, data: bytes | None = None) -> None:
    """Write obj (or its already serialised bytes) to path atomically: a temporary file, then rename."""
    from bpfrewrite.fileio import write_atomically

    write_atomically(path, serialize(obj) if data is None else data)


def serialize(obj: Object) -> bytes:
    """The ELF bytes of obj, with every derived offset recomputed."""
    return _Writer(obj).run()


class _Writer:
    def __init__(self, obj: Object):
        self.obj = obj
        order = self.order = obj.byte_order
        self.ehdr, self.shdr, self.sym, self.rel = _EHDR[order], _SHDR[order], _SYM[order], _REL[order]
        # Fresh, not Section.slots()'s cache: what is written must follow the instructions as they are.
        self.slots = {s.index: slot_offsets(s.insns) for s in obj.exec_sections()}
        self.data: dict[int, bytes] = {}
        self.sections: list[Section] = list(obj.sections)

    def run(self) -> bytes:
        obj = self.obj
        self._place_function_symbols()
        sym_index = self._order_symbols()
        for sec in obj.exec_sections():  # new relocation sections need their names in the table
            if any(i.ref is not None and i.ref.reloc is not None for i in sec.insns or ()):
                self._rel_section_for(sec)
        strtab = self._string_table()
        for sec in obj.exec_sections():
            self.data[sec.index] = self._code(sec)
        self._code_relocations(sym_index)
        for sec in self.sections:
            if sec.type == SHT_REL and sec.name in obj.other_relocations:
                self.data[sec.index] = self._remapped_relocations(sec, sym_index)
        self._btf_ext(sym_index)  # before .BTF: it may add section names to the BTF strings
        if obj.btf is not None and obj.section(".BTF") is not None:
            self.data[obj.section(".BTF").index] = obj.btf.serialize(self.order)
        for sec in self.sections:
            if sec.type == SHT_LLVM_ADDRSIG:
                self.data[sec.index] = self._addrsig(sec, sym_index)
        symtab = next(s for s in self.sections if s.type == SHT_SYMTAB)
        self.data[symtab.index] = self._symtab(sym_index, strtab)
        symtab.info = sum(1 for s in self._ordered if s.bind == STB_LOCAL)
        return self._layout()

    # -- symbols ---------------------------------------------------------------------------
    def _section_end(self, sec: Section) -> int:
        insns = sec.insns or []
        return (self.slots[sec.index][-1] + insns[-1].width) if insns else 0

    def _place_function_symbols(self) -> None:
        for func in self.obj.functions:
            slots = self.slots[func.section.index]
            start = slots[func.start]
            end_index = func.start + func.count
            end = slots[end_index] if end_index < len(slots) else self._section_end(func.section)
            func.symbol.value = start * INSN_SIZE
            func.symbol.size = (end - start) * INSN_SIZE

    def _order_symbols(self) -> dict[int, int]:
        # ELF: local symbols come first; .symtab's sh_info is the index of the first global.
        syms = self.obj.symbols
        self._old_symbols = {s.index: s for s in syms if s.name_off is not None}
        self._ordered = [s for s in syms if s.bind == STB_LOCAL] + [s for s in syms if s.bind != STB_LOCAL]
        index = {id(s): i for i, s in enumerate(self._ordered)}
        for i, s in enumerate(self._ordered):
            s.index = i
        return index

    def _string_table(self) -> dict[str, int]:
        """Append new symbol names to the symbol string table and new section names to the
        section-name table (clang uses one .strtab for both); returns symbol name -> offset."""
        symtab = next(s for s in self.sections if s.type == SHT_SYMTAB)
        sym_names = [s.name for s in self.obj.symbols if s.name_off is None and s.name]
        sec_names = [s.name for s in self.sections if s.name_off is None]
        tables: dict[int, list[str]] = {}
        tables.setdefault(symtab.link, []).extend(sym_names)
        tables.setdefault(self.obj.elf_header["e_shstrndx"], []).extend(sec_names)
        offsets: dict[int, dict[str, int]] = {}
        for index, names in tables.items():
            blob = bytearray(self.data.get(index, self.sections[index].data))
            added = offsets[index] = {}
            for name in names:
                if name not in added:
                    added[name] = len(blob)
                    blob += name.encode(NAME_ENCODING, NAME_ERRORS) + b"\0"
            self.data[index] = bytes(blob)
        for sec in self.sections:
            if sec.name_off is None:
                sec.name_off = offsets[self.obj.elf_header["e_shstrndx"]][sec.name]
        return offsets[symtab.link]

    def _symtab(self, sym_index: dict[int, int], added: dict[str, int]) -> bytes:
        out = bytearray()
        for s in self._ordered:
            name_off = s.name_off if s.name_off is not None else (added[s.name] if s.name else 0)
            info = (s.bind << 4) | (s.type & 0xF)
            # Read symbols keep their st_shndx (a value >= SHN_LORESERVE is special there: the reader
            # refuses SHT_SYMTAB_SHNDX). A new one in a section numbered that high would need it.
            if s.name_off is None and s.shndx >= SHN_LORESERVE:
                raise BpfrewriteError(f"symbol {s.name!r} would be in section number {s.shndx}: symbols in sections "
                                      f"past {SHN_LORESERVE - 1} need SHT_SYMTAB_SHNDX, which bpfrewrite does not write")
            out += self.sym.pack(name_off, info, s.other, s.shndx, s.value, s.size)
        return bytes(out)

    # -- code and its relocations --------------------------------------------------------------
    def _code(self, sec: Section) -> bytes:
        slots = self.slots[sec.index]
        slot_of = {id(insn): slot for slot, insn in zip(slots, sec.insns or ())}
        out = bytearray()
        for i, insn in enumerate(sec.insns or ()):
            ref = insn.ref
            if ref is not None and ref.kind in (RefKind.CALL, RefKind.CALLBACK):
                insn.imm = self._call_imm(sec, slots[i], insn)
            if insn.target is not None:
                self._branch_offset(sec, slots[i], insn, slot_of)
            out += insn.encode(self.order)
        return bytes(out)

    def _branch_offset(self, sec: Section, slot: int, insn, slot_of: dict[int, int]) -> None:
        """Derive a branch's offset from its target instruction's current slot."""
        target_slot = slot_of.get(id(insn.target))
        if target_slot is None:
            raise BpfrewriteError(f"{sec.name}: branch at slot {slot} jumps to an instruction not in the section")
        value = target_slot - (slot + 1)
        limit = 1 << 31 if insn.code == GOTOL else 1 << 15  # gotol keeps its offset in imm
        if not -limit <= value < limit:
            raise BpfrewriteError(f"{sec.name}: branch at slot {slot} is out of range ({value} slots)")
        insn.set_branch_offset(value)

    def _call_imm(self, sec: Section, slot: int, insn) -> int:
        """The immediate libbpf expects for a call or callback reference to ref.target."""
        ref = insn.ref
        target = ref.target
        target_slot = self.slots[target.section.index][target.start]
        if ref.kind == RefKind.CALL:
            if ref.reloc is None:  # resolved by its own offset: callee in the caller's section
                if target.section is not sec:
                    raise BpfrewriteError(f"unrelocated call from {sec.name!r} to {target.name!r} in another section")
                return target_slot - (slot + 1)
            # libbpf: callee slot = sym.st_value / 8 + imm + 1
            return target_slot - ref.reloc.symbol.value // INSN_SIZE - 1
        # callback address: byte offset = sym.st_value + imm
        return target_slot * INSN_SIZE - ref.reloc.symbol.value

    def _rel_section_for(self, code: Section) -> Section:
        for sec in self.sections:
            if sec.type == SHT_REL and sec.info == code.index:
                return sec
        symtab = next(s for s in self.sections if s.type == SHT_SYMTAB)
        new = Section(
            index=len(self.sections), name=".rel" + code.name, type=SHT_REL, flags=SHF_INFO_LINK,
            data=b"", link=symtab.index, info=code.index, addralign=8, entsize=_REL_SIZE, size=0,
        )
        self.sections.append(new)
        return new

    def _code_relocations(self, sym_index: dict[int, int]) -> None:
        for sec in self.obj.exec_sections():
            entries = []
            for slot, insn in zip(self.slots[sec.index], sec.insns or ()):
                reloc = insn.ref.reloc if insn.ref is not None else None
                if reloc is not None:
                    entries.append(self.rel.pack(slot * INSN_SIZE, sym_index[id(reloc.symbol)] << 32 | reloc.rtype))
            has_rel = any(s.type == SHT_REL and s.info == sec.index for s in self.sections)
            if entries or has_rel:
                self.data[self._rel_section_for(sec).index] = b"".join(entries)

    def _remapped_relocations(self, sec: Section, sym_index: dict[int, int]) -> bytes:
        return b"".join(
            self.rel.pack(off, sym_index[id(sym)] << 32 | rtype) for off, rtype, sym in self.obj.other_relocations[sec.name]
        )

    # -- BTF.ext -------------------------------------------------------------------------------
    def _btf_ext(self, sym_index: dict[int, int]) -> None:
        obj = self.obj
        ext_sec = obj.section(".BTF.ext")
        if obj.btf_ext is None or ext_sec is None or obj.btf is None:
            return
        ext = obj.btf_ext
        # Keep the input's section order; sections that gain records for the first time go last.
        order = list(dict.fromkeys([*ext.func_info, *ext.line_info, *ext.core_relos]))
        by_name = {s.name: s for s in obj.exec_sections()}
        listed = {obj.btf.strings.get(off) for off in order}
        for sec in obj.exec_sections():
            if sec.name not in listed and any(i.func or i.line or i.core for i in sec.insns or ()):
                order.append(obj.btf.strings.add(sec.name))
        func, line, core = {}, {}, {}
        for name_off in order:
            sec = by_name.get(obj.btf.strings.get(name_off))
            if sec is None:
                continue
            f, ln, c = [], [], []
            for slot, insn in zip(self.slots[sec.index], sec.insns or ()):
                at = slot * INSN_SIZE
                if insn.func is not None:
                    f.append(_at_offset(insn.func, at))
                if insn.line is not None:
                    ln.append(_at_offset(insn.line, at))
                c.extend(_at_offset(r, at) for r in insn.core)
            for table, recs in ((func, f), (line, ln), (core, c)):
                if recs:
                    table[name_off] = recs
        ext.func_info, ext.line_info, ext.core_relos = func, line, core
        blob = self.data[ext_sec.index] = ext.serialize(self.order)
        self._btf_ext_relocations(blob, sym_index, by_name)

    def _btf_ext_relocations(self, blob: bytes, sym_index: dict[int, int], by_name: dict[str, Section]) -> None:
        from bpfrewrite.btf.ext import record_offsets

        rel = next((s for s in self.sections if s.type == SHT_REL and s.info == self.obj.section(".BTF.ext").index), None)
        if rel is None:
            return
        section_syms = {s.shndx: s for s in self.obj.symbols if s.type == STT_SECTION}
        entries = []
        for pos, name_off in record_offsets(blob):
            code = by_name[self.obj.btf.strings.get(name_off)]
            sym = section_syms.get(code.index)
            if sym is None:
                raise BpfrewriteError(f"no section symbol for {code.name!r} to relocate .BTF.ext against")
            entries.append(self.rel.pack(pos, sym_index[id(sym)] << 32 | R_BPF_64_NODYLD32))
        self.data[rel.index] = b"".join(entries)
        self.obj.other_relocations.pop(rel.name, None)

    # -- misc ---------------------------------------------------------------------------------
    def _addrsig(self, sec: Section, sym_index: dict[int, int]) -> bytes:
        # Only a hint for the linker's identical-code folding (libbpf skips the section): an index
        # that names no symbol (left by `llvm-strip -g`, or corrupt) is dropped, not carried.
        out = bytearray()
        for value in _uleb_decode(sec.data):
            sym = self._old_symbols.get(value)
            if sym is not None:
                out += _uleb_encode(sym_index[id(sym)])
        return bytes(out)

    def _layout(self) -> bytes:
        out = bytearray(self.ehdr.size)
        # ELF extended numbering: from SHN_LORESERVE sections on, e_shnum is 0 and e_shstrndx is
        # SHN_XINDEX; the real values go to section 0's sh_size and sh_link.
        count, shstrndx = len(self.sections), self.obj.elf_header["e_shstrndx"]
        big_count, big_strndx = count >= SHN_LORESERVE, shstrndx >= SHN_LORESERVE
        headers = [self.shdr.pack(0, 0, 0, 0, 0, count if big_count else 0, shstrndx if big_strndx else 0, 0, 0, 0)]
        for sec in self.sections[1:]:
            data = self.data.get(sec.index, sec.data)
            align = max(sec.addralign, 1)
            out += bytes(-len(out) % align)
            size = sec.size if sec.type == SHT_NOBITS else len(data)
            headers.append(
                self.shdr.pack(sec.name_off, sec.type, sec.flags, 0, len(out), size, sec.link, sec.info,
                               sec.addralign, sec.entsize)
            )
            if sec.type != SHT_NOBITS:
                out += data
        out += bytes(-len(out) % 8)
        shoff = len(out)
        out += b"".join(headers)
        ident = b"\x7fELF" + bytes([2, ELF_DATA[self.order], 1, 0]) + bytes(8)
        self.ehdr.pack_into(out, 0, ident, 1, 247, 1, 0, 0, shoff, self.obj.elf_header["e_flags"],
                            self.ehdr.size, 0, 0, self.shdr.size, 0 if big_count else count,
                            SHN_XINDEX if big_strndx else shstrndx)
        return bytes(out)


def _at_offset(rec, at: int):
    """A copy of a .BTF.ext record (plain dataclass) at byte offset at.

    dataclasses.replace does the same through __init__ at several times the cost, once per
    line record of the object (100k+ on the largest programs).
    """
    new = object.__new__(type(rec))
    new.__dict__.update(rec.__dict__)
    new.insn_off = at
    return new


def _uleb_decode(data: bytes) -> list[int]:
    values, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            values.append(value)
            value, shift = 0, 0
    return values


def _uleb_encode(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
