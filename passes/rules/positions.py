"""Where instructions are, for diagnostics: section slots and source positions, cached by the manager.

Computing a function's slots walks its whole section, and line info is decoded per record, so
both are analyses: computed once per lint run (per section, per function) instead of per finding.
"""
from __future__ import annotations

from passes.manager import Analysis, register


@register
class SectionSlots(Analysis):
    """The 8-byte slot of every instruction of every executable section, by section index."""

    name = "section-slots"
    scope = "object"

    @classmethod
    def run(cls, am, unit) -> dict[int, list[int]]:
        """Slots of each executable section's instructions."""
        return {sec.index: sec.slots() for sec in unit.exec_sections()}


@register
class SourcePositions(Analysis):
    """Per instruction of one function: its section slot and its source position (or None)."""

    name = "source-positions"
    scope = "function"

    @classmethod
    def run(cls, am, unit) -> tuple[list[int], list]:
        """(slots, positions) of unit's instructions."""
        from bpfrewrite.source import function_positions

        slots = am.get(SectionSlots)[unit.section.index][unit.start : unit.start + unit.count]
        return slots, function_positions(am.obj, unit)


def where(am, func, index: int) -> str:
    """A short human name for an instruction: `line N` when line info has it, else `insn S`."""
    slots, positions = am.get(SourcePositions, func)
    pos = positions[index]
    if pos is not None and pos.line:
        return f"line {pos.line}"
    return f"insn {slots[index]}"
