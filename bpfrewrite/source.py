"""Source positions of instructions, from BTF.ext line info (no source file needed)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bpfrewrite.model import Function, Object


@dataclass(frozen=True)
class SourcePos:
    """A C source position as clang recorded it in .BTF.ext line_info."""

    file: str
    line: int
    column: int
    text: str  # the source line as clang stored it in the BTF string table

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def record_position(obj: "Object", rec) -> SourcePos:
    """The position a line_info record describes."""
    btf = obj.btf
    assert btf is not None
    return SourcePos(btf.strings.get(rec.file_name_off), rec.line, rec.col, btf.strings.get(rec.line_off))


def function_positions(obj: "Object", func: "Function") -> list[SourcePos | None]:
    """For each instruction of func, the position of the nearest line record at or before it."""
    out: list[SourcePos | None] = []
    current: SourcePos | None = None
    seen: dict[tuple, SourcePos] = {}  # unrolled code repeats its records: look strings up once
    for insn in func.insns:
        rec = insn.line
        if rec is not None and obj.btf is not None:
            key = (rec.file_name_off, rec.line_off, rec.line, rec.col)
            current = seen.get(key)
            if current is None:
                current = seen[key] = record_position(obj, rec)
        out.append(current)
    return out
