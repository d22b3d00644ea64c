"""Where instructions are, for diagnostics: section slots and source positions, cached by the manager.

Line info is decoded per record, so positions are an analysis: computed once per function per
lint run instead of once per finding.
"""
from __future__ import annotations

from bpfrewrite.passes.manager import Analysis, register


@register
class SourcePositions(Analysis):
    """Per instruction of one function: its section slot and its source position (or None)."""

    name = "source-positions"
    scope = "function"
    requires = frozenset()

    @classmethod
    def run(cls, am, unit) -> tuple[list[int], list]:
        """(slots, positions) of unit's instructions."""
        from bpfrewrite.source import function_positions

        slots = unit.slots()
        return slots, function_positions(am.obj, unit)


def where(am, func, index: int) -> str:
    """A short human name for an instruction: `line N` when line info has it, else `insn S`."""
    slots, positions = am.get(SourcePositions, func)
    pos = positions[index]
    if pos is not None and pos.line:
        return f"line {pos.line}"
    return f"insn {slots[index]}"
