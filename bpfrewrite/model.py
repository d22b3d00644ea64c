"""The object model: an ELF BPF object parsed once, with metadata riding on instructions.

An executable section is a list of Instructions; functions (programs and subprograms) are
ranges of that list named by their ELF symbols. Relocations, line info, func info and CO-RE
records are attached to the instruction they describe, so a rewrite that moves or copies an
instruction carries them along; writers derive byte offsets from list positions.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from bpfrewrite.byteorder import LITTLE
from bpfrewrite.isa.opcodes import LD_IMM64

if TYPE_CHECKING:
    from bpfrewrite.btf.ext import BTFExt
    from bpfrewrite.btf.types import BTF
    from bpfrewrite.isa.instruction import Instruction


class RefKind(enum.IntEnum):
    """What a relocated instruction refers to."""

    MAP = 1  # ld_imm64 of a map (BTF-defined .maps or legacy maps section)
    DATA = 2  # ld_imm64 of global data (.data/.rodata/.bss/.data.*/.rodata.*)
    CALL = 3  # bpf-to-bpf call of a subprogram in .text
    CALLBACK = 4  # ld_imm64 (src_reg BPF_PSEUDO_FUNC) of a function's address
    KFUNC = 5  # call of an extern kernel function
    KSYM = 6  # ld_imm64 of an extern kernel variable (__ksym)
    KCONFIG = 7  # ld_imm64 of an extern from .kconfig
    ARENA = 8  # ld_imm64 of a variable in an arena section


def slot_offsets(insns: "list[Instruction]") -> list[int]:
    """The 8-byte slot of each instruction of a list (an ld_imm64 takes two)."""
    from itertools import accumulate

    # Instruction.width, inlined: this runs over every instruction, often
    out = list(accumulate([2 if insn.code == LD_IMM64 else 1 for insn in insns], initial=0))
    out.pop()
    return out


def calls_kfunc(insn: "Instruction") -> bool:
    """A kfunc call: src_reg 2, or clang's form in objects (src_reg 1 relocated against an extern).

    libbpf rewrites clang's form to src_reg 2 only when it loads the object.
    """
    if not insn.is_call:
        return False
    return insn.is_kfunc_call or (insn.ref is not None and insn.ref.kind == RefKind.KFUNC)


@dataclass(eq=False)
class Relocation:
    """One ELF relocation entry as read, kept so a writer can emit it again unchanged."""

    rtype: int  # R_BPF_* number
    symbol: "Symbol"


@dataclass(eq=False)
class Reference:
    """The meaning of a relocation on an instruction."""

    kind: RefKind
    name: str  # map, variable, function or extern name
    reloc: Relocation | None  # None: a call inside one section that clang left unrelocated
    target: "Function | None" = None  # CALL / CALLBACK: the function referred to
    section: str | None = None  # DATA: the data section's name
    addend: int = 0  # DATA: byte offset inside the section (from imm)


@dataclass(eq=False)
class Symbol:
    """An ELF symbol, as the model needs it (index is its position in .symtab)."""

    index: int
    name: str
    value: int
    size: int
    bind: int  # STB_*
    type: int  # STT_*
    other: int
    shndx: int  # section index, or SHN_* special value
    name_off: int | None = None  # offset in .strtab as read; None for symbols a rewrite adds

    @property
    def is_global(self) -> bool:
        """True for STB_GLOBAL and STB_WEAK symbols."""
        return self.bind in (1, 2)


@dataclass(eq=False)
class Section:
    """An ELF section as read: header fields and raw bytes (passed through unless rewritten)."""

    index: int
    name: str
    type: int  # SHT_*
    flags: int
    data: bytes
    link: int
    info: int
    addralign: int
    entsize: int
    size: int  # sh_size; differs from len(data) only for SHT_NOBITS
    name_off: int | None = None  # sh_name as read; None for sections a rewrite adds
    # Executable sections only: the decoded instruction list (data is its encoding).
    insns: "list[Instruction] | None" = None

    def slots(self) -> list[int]:
        """The 8-byte slot of each instruction (an ld_imm64 takes two), derived from the insns.

        Cached per instruction count, so analyses asking once per function stay linear. The
        rewriter only appends instructions or replaces one with another of the same width
        (style habit 3), so the count is enough to notice a change; the writer does not trust
        the cache and computes slots afresh (slot_offsets) for what it emits.
        """
        insns = self.insns or []
        cached = self.__dict__.get("_slots")
        if cached is not None and len(cached) == len(insns):
            return cached
        out = self.__dict__["_slots"] = slot_offsets(insns)
        return out

    @property
    def is_exec(self) -> bool:
        """True for sections holding BPF code (SHF_EXECINSTR)."""
        return bool(self.flags & 0x4)


@dataclass(eq=False)
class Function:
    """A function: a program (entry point) or a subprogram; a slice of its section's insns."""

    name: str
    section: Section
    start: int  # index into section.insns (not a byte offset, not a slot)
    count: int  # number of Instructions (an ld_imm64 counts once)
    symbol: Symbol
    is_program: bool
    prog_type: str | None = None  # libbpf's program type for the section, programs only
    btf_func_id: int | None = None  # BTF FUNC type id from func_info, when present

    @property
    def insns(self) -> "list[Instruction]":
        """The function's instructions, in order."""
        return self.section.insns[self.start : self.start + self.count]  # type: ignore[index]

    @property
    def is_global(self) -> bool:
        """True when the function symbol is global (libbpf verifies it separately)."""
        return self.symbol.is_global

    def reachable(self) -> "list[Function]":
        """This function first, then every function it calls or takes the address of (any depth), in object order."""
        seen, todo = {self}, [self]
        while todo:
            for insn in todo.pop().insns:
                target = insn.ref.target if insn.ref is not None else None
                if target is not None and target not in seen:
                    seen.add(target)
                    todo.append(target)
        seen.discard(self)
        return [self] + sorted(seen, key=lambda f: (f.section.index, f.start))

    def slots(self) -> list[int]:
        """The 8-byte slot, within the section, of each of the function's instructions."""
        return self.section.slots()[self.start : self.start + self.count]


@dataclass(eq=False)
class Map:
    """A map definition (BTF-defined in .maps, or legacy in `maps`)."""

    name: str
    section: str
    type: int | None = None
    key_size: int | None = None
    value_size: int | None = None
    max_entries: int | None = None
    flags: int | None = None
    key_type_id: int | None = None
    value_type_id: int | None = None


@dataclass(eq=False)
class Object:
    """A BPF ELF object: sections, symbols, functions, maps, BTF and BTF.ext."""

    path: str
    elf_header: dict
    sections: list[Section]
    symbols: list[Symbol]
    functions: list[Function]
    maps: list[Map] = field(default_factory=list)
    license: str | None = None
    btf: "BTF | None" = None
    btf_ext: "BTFExt | None" = None
    # Relocation sections are decoded onto instructions for exec sections; these keep the
    # rest (e.g. .rel.debug_*, .rel.BTF.ext) as section name -> [(offset, rtype, symbol)].
    other_relocations: dict[str, list[tuple[int, int, Symbol]]] = field(default_factory=dict)
    # "little" (bpfel) or "big" (bpfeb), from the ELF header: the order every multi-byte field
    # is read and written in (instructions, relocations, symbols, BTF, BTF.ext).
    byte_order: str = LITTLE

    @property
    def programs(self) -> list[Function]:
        """Entry points, in section then offset order."""
        return [f for f in self.functions if f.is_program]

    @property
    def subprograms(self) -> list[Function]:
        """Functions in .text (static or global), in offset order."""
        return [f for f in self.functions if not f.is_program]

    def section(self, name: str) -> Section | None:
        """The section called name, if any."""
        return next((s for s in self.sections if s.name == name), None)

    def function(self, name: str) -> Function | None:
        """The function called name, if any."""
        return next((f for f in self.functions if f.name == name), None)

    def select(self, prog: str | None) -> list[Function]:
        """Every function, or (--prog) the one named and every function it reaches."""
        if prog is None:
            return list(self.functions)
        root = self.function(prog)
        if root is None:
            from bpfrewrite.errors import BpfrewriteError

            names = ", ".join(f.name for f in self.programs) or "none"
            raise BpfrewriteError(f"no program or function named {prog!r} (programs: {names})")
        return root.reachable()

    def exec_sections(self) -> Iterator[Section]:
        """Sections holding BPF code, in file order."""
        return (s for s in self.sections if s.is_exec and s.insns is not None)
