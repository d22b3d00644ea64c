"""Options several commands share, built from the tables that define them."""
from __future__ import annotations

import typer

from bpfrewrite.render.formats import FORMATS


def format_option(command: str):
    """The --format option of command: its default and help from the table of formats.

    A plain string, checked by render.formats.check_format in the command body rather than by a
    click Choice: the check then runs where it always did (`lint --list-rules` ignores --format).
    """
    formats = FORMATS[command]
    return typer.Option(formats.default, "--format", help=formats.help)
