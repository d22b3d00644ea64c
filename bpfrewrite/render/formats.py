"""The one table of output formats: which --format values each command takes, its default, its check."""
from __future__ import annotations

from dataclasses import dataclass

from bpfrewrite.errors import BpfrewriteError


@dataclass(frozen=True)
class Formats:
    """A command's formats (the first is the default) and the words its --help puts around their list."""

    names: tuple[str, ...]
    help_prefix: str = ""
    help_suffix: str = "."

    @property
    def default(self) -> str:
        """The format used without --format."""
        return self.names[0]

    @property
    def help(self) -> str:
        """The --format help text: the formats in words, as `text, json or csv`."""
        return f"{self.help_prefix}{spoken(self.names)}{self.help_suffix}"


# Public: scripts pass these names. A new format of a command is added here and nowhere else.
FORMATS: dict[str, Formats] = {
    "disasm": Formats(("text", "json")),
    "cfg": Formats(("dot", "json", "svg", "png"), help_suffix=" (svg/png need graphviz)."),
    "lint": Formats(("text", "json", "sarif", "github")),
    "patch": Formats(("text", "json"), help_prefix="Report format: "),
    "verify": Formats(("text", "json", "csv"), help_prefix="Output format: ", help_suffix=" (one row per program)."),
    "guard": Formats(("text", "json"), help_prefix="Output format: ", help_suffix=" (JSON lines)."),
}


def spoken(names: tuple[str, ...]) -> str:
    """Names as a sentence lists them: `a`, `a or b`, `a, b or c`."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def check_format(command: str, fmt: str) -> str:
    """fmt, if command writes it; else BpfrewriteError naming the formats it does write."""
    names = FORMATS[command].names
    if fmt not in names:
        raise BpfrewriteError(f"unknown --format {fmt!r} for {command}: use {spoken(names)}")
    return fmt
