"""`bpfrewrite disasm`: list an object's instructions with source lines, names and references."""
from __future__ import annotations

from pathlib import Path

import typer

from bpfrewrite.commands.options import format_option


def register(app: typer.Typer) -> None:
    """Add the disasm command to app."""

    @app.command()
    def disasm(
        obj: Path = typer.Argument(..., help="BPF object file (clang -target bpf -g)."),
        prog: str = typer.Option(None, "--prog", help="Only this program and the functions it reaches."),
        fmt: str = format_option("disasm"),
    ) -> None:
        """Disassemble every program and subprogram, source lines interleaved (llvm-objdump-19 syntax)."""
        import sys

        from bpfrewrite.elf.reader import read_object
        from bpfrewrite.render.formats import check_format
        from bpfrewrite.render.listing import json_text, text_listing

        check_format("disasm", fmt)
        model = read_object(obj)
        out = sys.stdout
        try:
            if fmt == "json":
                out.writelines(json_text(model, prog))
            else:
                out.writelines(line + "\n" for line in text_listing(model, prog))
            out.flush()
        except BrokenPipeError:  # `disasm x.o | head`: the reader has what it wanted
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
