"""Diagnostics: the neutral record rules return, suppression comments, and one renderer per format."""
from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity, at_insn, sort_diagnostics

__all__ = ["Diagnostic", "Severity", "at_insn", "sort_diagnostics"]
