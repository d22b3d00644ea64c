"""`bpfrewrite patch`: write a fast-path twin of every program into the object."""
from __future__ import annotations

from pathlib import Path

import typer

from bpfrewrite.commands.options import format_option


def register(app: typer.Typer) -> None:
    """Add the patch command to app."""

    @app.command()
    def patch(
        src: Path = typer.Argument(..., help="BPF object to patch (clang -target bpf -g)."),
        dst: Path = typer.Argument(None, help="Where to write the patched object."),
        in_place: bool = typer.Option(False, "--in-place", help="Overwrite SRC (atomically) instead of writing DST."),
        report: bool = typer.Option(False, "--report", help="Print every site decision (stub, keep, goto, back-edge, return), then what each program and its twin can return, named for the program type."),
        fmt: str = format_option("patch"),
        strict: bool = typer.Option(False, "--strict", help="Exit 1, writing nothing, if a twin cannot be made fast in place."),
        print_after: list[str] = typer.Option([], "--print-after", help="Print on stderr each twin this transform ran on (repeatable): fastpath-stub-calls, fastpath-may-goto, fastpath-callback-stop."),
        timings: bool = typer.Option(False, "--timings", help="Print the time spent in each analysis and transform on stderr."),
        program: list[str] = typer.Option([], "--program", help="Twin only this program (repeatable; default: every program, or \\[tool.bpfrewrite] twin-programs)."),
        config: Path = typer.Option(None, "--config", help="pyproject.toml to read \\[tool.bpfrewrite] twin-programs from (default: nearest above SRC)."),
    ) -> None:
        """Add a twin P__fast beside every program P: same shape, failing calls stubbed, callbacks stopping.

        The twin has the same instruction count and slots as its original and sits in section
        "?<P's section>", so libbpf loads and attaches it only when asked
        (bpf_program__set_autoload). The .bpfrewrite section of the output records each pair and
        every site decision. Originals are unchanged.
        """
        import sys

        from bpfrewrite.errors import BpfrewriteError
        from bpfrewrite.patching import patch_object
        from bpfrewrite.render import patch_report
        from bpfrewrite.render.formats import check_format

        check_format("patch", fmt)
        if in_place == (dst is not None):
            raise BpfrewriteError("give either an output path or --in-place")
        out = src if in_place else dst
        if not in_place and out.exists() and src.exists() and out.resolve() == src.resolve():
            raise BpfrewriteError("output is the input file: use --in-place to overwrite it")
        managers: list = []
        programs = tuple(program) if program else _configured_programs(src, config)

        def print_function(name: str, func) -> None:
            sys.stderr.writelines(line + "\n" for line in patch_report.function_listing(name, func))

        result = patch_object(src, out, strict=strict, print_after=tuple(print_after), printer=print_function,
                              am_out=managers, programs=programs)
        if timings:
            sys.stderr.writelines(line + "\n" for line in patch_report.timing_lines(managers[0].timings))
        for problem in result.problems:
            print(patch_report.problem_line(problem), file=sys.stderr)
        if result.note is not None and not result.problems:
            print(patch_report.unchanged_note(src, result.note, out, in_place), file=sys.stderr)
        if report:
            if fmt == "json":
                sys.stdout.write(patch_report.report_json(result))
            else:
                sys.stdout.writelines(line + "\n" for line in patch_report.report_text(result))
        if strict and result.problems:
            raise typer.Exit(1)


def _configured_programs(src: Path, config: Path | None) -> tuple[str, ...] | None:
    """[tool.bpfrewrite] twin-programs of --config or of the nearest pyproject.toml above src."""
    from bpfrewrite.commands.options import config_file
    from bpfrewrite.config import load_pyproject

    path = config_file(config, src)
    return load_pyproject(path).twin_programs if path is not None else None
