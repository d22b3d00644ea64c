"""Diagnostics: the neutral record rules return and suppression comments (renderers: bpfrewrite.render.diagnostics)."""
from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity, at_insn, sort_diagnostics

__all__ = ["Diagnostic", "Severity", "at_insn", "sort_diagnostics"]
