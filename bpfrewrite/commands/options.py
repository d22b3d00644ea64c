"""Options several commands share, built from the tables that define them."""
from __future__ import annotations

from pathlib import Path

import typer

from bpfrewrite.render.formats import FORMATS


def format_option(command: str):
    """The --format option of command: its default and help from the table of formats.

    A plain string, checked by render.formats.check_format in the command body rather than by a
    click Choice: the check then runs where it always did (`lint --list-rules` ignores --format).
    """
    formats = FORMATS[command]
    return typer.Option(formats.default, "--format", help=formats.help)


def config_file(config: Path | None, start: Path) -> Path | None:
    """The pyproject.toml to read [tool.bpfrewrite] from: --config (which must exist), else the
    nearest above start if it may be obeyed, else None (with one warning line on stderr why)."""
    import sys

    from bpfrewrite.config import distrust, find_pyproject
    from bpfrewrite.errors import BpfrewriteError
    from bpfrewrite.render.messages import warning_line

    if config is not None:
        if not config.is_file():
            raise BpfrewriteError(f"--config {config}: no such file")
        return config
    found = find_pyproject(start)
    why = distrust(found) if found else None
    if why:  # another user's file must not choose the compiler, its flags, the rules or the twins
        print(warning_line(f"ignoring {found}: {why} (pass --config to use it)"), file=sys.stderr)
        return None
    return found
