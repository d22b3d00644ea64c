"""The lines bpfrewrite writes on stderr about its own run (not about a program): one line each,
prefixed with the tool's name so that they stand out among a build's output."""
from __future__ import annotations


def error_line(message: str) -> str:
    """A user error or an input that could not be handled: `bpfrewrite: error: MESSAGE`."""
    return f"bpfrewrite: error: {message}"


def warning_line(message: str) -> str:
    """Something the run ignored or worked around: `bpfrewrite: warning: MESSAGE`."""
    return f"bpfrewrite: warning: {message}"


def stop_line(what: str) -> str:
    """Why the run stopped early (`interrupted`, `terminated by SIGTERM`): `bpfrewrite: WHAT`."""
    return f"bpfrewrite: {what}"
