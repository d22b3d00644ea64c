"""`bpfrewrite disasm`: list an object's instructions with source lines, names and references."""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the disasm command to app."""

    @app.command()
    def disasm(
        obj: Path = typer.Argument(..., help="BPF object file (clang -target bpf -g)."),
        prog: str = typer.Option(None, "--prog", help="Only this program and the functions it reaches."),
        fmt: str = typer.Option("text", "--format", help="text or json."),
    ) -> None:
        """Disassemble every program and subprogram, source lines interleaved (llvm-objdump-19 syntax)."""
        import json
        import sys

        from bpfrewrite.disasm import SCHEMA_VERSION, json_listing, text_listing
        from bpfrewrite.elf.reader import read_object
        from bpfrewrite.errors import BpfrewriteError

        if fmt not in ("text", "json"):
            raise BpfrewriteError(f"unknown --format {fmt!r}: use text or json")
        model = read_object(obj)
        out = sys.stdout
        try:
            if fmt == "json":
                # One record per line: readable, and json.dumps without indent uses the C encoder
                # (json.dump with indent is pure Python, 10x slower on 100k instructions).
                records = json_listing(model, prog)["instructions"]
                out.write(f'{{"version": {SCHEMA_VERSION}, "instructions": [\n')
                out.write(",\n".join(json.dumps(r) for r in records))
                out.write("\n]}\n")
            else:
                out.writelines(line + "\n" for line in text_listing(model, prog))
            out.flush()
        except BrokenPipeError:  # `disasm x.o | head`: the reader has what it wanted
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
