"""`bpfrewrite verify`: load each program through the system's libbpf; report the verdicts."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Tuple

import typer

from bpfrewrite.commands.options import format_option
from bpfrewrite.errors import BpfrewriteError

EXIT_REJECTED = 1


def register(app: typer.Typer) -> None:
    """Add the `verify` command to the CLI."""
    app.command(name="verify")(verify)


def verify(
    obj: Optional[Path] = typer.Argument(None, help="A clang-built BPF object (.bpf.o).", show_default=False),
    prog: Optional[str] = typer.Option(None, "--prog", help="Only this program (function name)."),
    run: bool = typer.Option(False, "--run", help="Test-run accepted programs (PROG_TEST_RUN); the return value is named for the program type (2 (XDP_PASS))."),
    data: Optional[Path] = typer.Option(
        None, "--data", help="Test-run input: a packet (default 64 zero bytes) or raw_tp args."
    ),
    repeat: int = typer.Option(1, "--repeat", help="Runs per program; the duration is their mean."),
    fmt: str = format_option("verify"),
    compare: Optional[Tuple[Path, Path]] = typer.Option(
        None, "--compare", help="Compare two CSVs of verify --format csv, program by program (as veristat -C); no OBJ."
    ),
) -> None:
    """Load each program into the kernel's verifier (never attached); exit 1 if any is rejected.

    Reports the verifier's cost of each program and twin: instructions processed, states, peak
    states and verification time, and what the twins add in total.
    """
    from bpfrewrite.render import verify as render
    from bpfrewrite.render.formats import check_format

    check_format("verify", fmt)
    if compare is not None:
        if obj is not None or fmt != "text":
            raise BpfrewriteError("--compare takes two CSV files and no object or --format")
        typer.echo(render.render_compare(render.read_csv(compare[0]), render.read_csv(compare[1])), nl=False)
        return
    if obj is None:
        raise BpfrewriteError("give a BPF object to verify (or --compare A.csv B.csv)")
    payload = _read_data(data) if data is not None else None
    if (data is not None or repeat != 1) and not run:
        raise BpfrewriteError("--data and --repeat only make sense with --run")

    from bpfrewrite.kernel.runner import verify_object

    results = render.display_order(verify_object(obj, prog=prog, run=run, data=payload, repeat=repeat))
    if fmt == "json":
        typer.echo(render.render_json(results))
    elif fmt == "csv":
        typer.echo(render.render_csv(results, obj.name), nl=False)
    else:
        typer.echo(render.render_text(results, run=run), nl=False)
    if not all(r.accepted for r in results):
        # sys.exit, not typer.Exit: in standalone_mode=False click returns typer.Exit's code instead
        # of raising it, and cli.main would then exit 0.
        sys.exit(EXIT_REJECTED)


def _read_data(path: Path) -> bytes:
    from bpfrewrite.fileio import read_input

    try:
        return read_input(path, "a file")
    except BpfrewriteError as exc:
        raise BpfrewriteError(f"cannot read --data file: {exc}") from None
