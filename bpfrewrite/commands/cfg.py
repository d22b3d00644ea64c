"""`bpfrewrite cfg`: control-flow graphs of an object's programs as dot, JSON, SVG or PNG."""
from __future__ import annotations

from pathlib import Path

import typer

from bpfrewrite.commands.options import format_option


def register(app: typer.Typer) -> None:
    """Add the cfg command to app."""

    @app.command()
    def cfg(
        obj: Path = typer.Argument(..., help="BPF object file (clang -target bpf -g)."),
        prog: str = typer.Option(None, "--prog", help="Only this program and the functions it reaches."),
        fmt: str = format_option("cfg"),
        output: Path = typer.Option(None, "-o", "--output", help="Write here (atomically) instead of stdout."),
    ) -> None:
        """Draw basic blocks with source lines, call and callback edges, loops and their bounds."""
        import sys

        from bpfrewrite.elf.reader import read_object
        from bpfrewrite.errors import BpfrewriteError
        from bpfrewrite.passes.analysis.flowgraphs import flow_graphs
        from bpfrewrite.render.cfg import render
        from bpfrewrite.render.formats import check_format

        check_format("cfg", fmt)
        if output is None and fmt == "png" and sys.stdout.isatty():
            raise BpfrewriteError("refusing to write PNG to a terminal: use -o FILE or a pipe")
        data = render(flow_graphs(read_object(obj), prog), fmt)
        if output is None:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            from bpfrewrite.fileio import write_atomically

            write_atomically(output, data)
