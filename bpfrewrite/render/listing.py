"""Disassembly listings of an object (disasm): text with source interleaved, and JSON records."""
from __future__ import annotations

import json
from typing import Iterator

from bpfrewrite.model import Function, Object, RefKind
from bpfrewrite.source import function_positions

SCHEMA_VERSION = 1  # of `disasm --format json`: the schema is public, bump on change


def annotation(insn) -> str | None:
    """What a relocated or call instruction refers to, in words (helper, kfunc, map, function)."""
    ref = insn.ref
    if ref is not None:
        if ref.kind == RefKind.DATA and ref.addend:
            return f"{ref.kind.name.lower()} {ref.name}+{ref.addend}"
        return f"{ref.kind.name.lower()} {ref.name}"
    if insn.is_helper_call:
        from bpfrewrite.kernel.table import helper

        entry = helper(insn.imm)
        return f"helper {entry.name}" if entry else f"helper #{insn.imm} (unknown)"
    return None


def _slots(func: Function) -> Iterator[tuple[int, object]]:
    return zip(func.slots(), func.insns)


def text_listing(obj: Object, prog: str | None = None) -> Iterator[str]:
    """Lines of a listing per function with source lines interleaved (like bpftool's linum dump)."""
    for func in obj.select(prog):
        kind = f"program, type {func.prog_type or 'unknown'}" if func.is_program else "subprogram"
        if not func.is_program:
            kind = ("global " if func.is_global else "static ") + kind
        yield f"{func.name} ({kind}, section {func.section.name}):"
        positions = function_positions(obj, func)
        last = None
        texts: dict[tuple, str] = {}  # an encoding without a reference always reads the same
        for (slot, insn), pos in zip(_slots(func), positions):
            if insn.line is not None and pos is not None and pos != last:
                yield f"; {pos.text.strip()} @ {pos}"
                last = pos
            key = None if insn.ref is not None else (insn.code, insn.dst, insn.src, insn.off, insn.imm, insn.imm2)
            text = texts.get(key) if key is not None else None
            if text is None:
                note = annotation(insn)
                text = insn.text() + (f"\t# {note}" if note else "")
                if key is not None:
                    texts[key] = text
            yield f"{slot:>6}: {text}"
        yield ""


def json_listing(obj: Object, prog: str | None = None) -> dict:
    """{"instructions": [...]} with section, slot index, bytes, objdump text, function and source."""
    records = []
    for func in obj.select(prog):
        for (slot, insn), pos in zip(_slots(func), function_positions(obj, func)):
            rec = {
                "section": func.section.name,
                "index": slot,
                "bytes": insn.encode(obj.byte_order).hex(),
                "text": insn.text(),
                "function": func.name,
            }
            note = annotation(insn)
            if insn.ref is not None:
                rec["ref"] = {"kind": insn.ref.kind.name.lower(), "name": insn.ref.name}
            elif note:
                rec["helper"] = note.split(" ", 1)[1]
            if pos is not None:
                rec["source"] = {"file": pos.file, "line": pos.line, "column": pos.column}
            records.append(rec)
    return {"version": SCHEMA_VERSION, "instructions": records}


def json_text(obj: Object, prog: str | None = None) -> Iterator[str]:
    """json_listing as text in pieces, one record a line, for streaming out a large object."""
    # json.dumps without indent uses the C encoder (json.dump with indent is pure Python, 10x
    # slower on 100k instructions); one record per line stays readable.
    records = json_listing(obj, prog)["instructions"]
    yield f'{{"version": {SCHEMA_VERSION}, "instructions": [\n'
    yield ",\n".join(json.dumps(r) for r in records)
    yield "\n]}\n"
