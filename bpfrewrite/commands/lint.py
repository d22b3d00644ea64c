"""`bpfrewrite lint`: check objects (or C / LLVM IR sources) for early-termination safety."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from bpfrewrite.commands.options import format_option

# Show a progress bar from this many inputs on (and only when stderr is a terminal).
_PROGRESS_MIN_FILES = 8


def register(app: typer.Typer) -> None:
    """Add the lint command to app."""

    @app.command()
    def lint(
        files: Optional[List[str]] = typer.Argument(None, help="Inputs: .o objects, .c sources, .ll/.bc LLVM IR."),
        fmt: str = format_option("lint"),
        fail_on: Optional[str] = typer.Option(
            None, "--fail-on", help="Exit 1 on a diagnostic at or above: error, warning, info, never. \\[default: warning]"
        ),
        select: Optional[str] = typer.Option(None, "--select", help="Only these rules (comma-separated slugs)."),
        ignore: Optional[str] = typer.Option(None, "--ignore", help="Skip these rules (comma-separated slugs)."),
        extend_select: Optional[str] = typer.Option(
            None, "--extend-select", help="Also run these rules (comma-separated; e.g. unused-suppression, off by default)."
        ),
        severity: List[str] = typer.Option([], "--severity", help="Override a rule's severity: slug=level (repeatable)."),
        jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Lint this many inputs in parallel."),
        cc: Optional[str] = typer.Option(None, "--cc", help="C compiler for .c inputs. \\[default: clang-19]"),
        cflags: Optional[str] = typer.Option(None, "--cflags", help="Extra flags for .c inputs, after the defaults (-O2 -D__TARGET_ARCH_x86 and the multiarch include directory)."),
        config: Optional[Path] = typer.Option(
            None, "--config", help="pyproject.toml to read \\[tool.bpfrewrite] from (default: nearest above the first input)."
        ),
        loop_cost_threshold: Optional[int] = typer.Option(
            None, "--loop-cost-threshold", min=0, show_default=False,
            help="loop-without-exit reports a counted loop only from this many instructions per run "
            "(iterations x body) \\[default: 10000].",
        ),
        show_infos: Optional[bool] = typer.Option(
            None, "--show-infos/--hide-infos", show_default=False,
            help="Print info diagnostics, or hide them and count them in the summary. \\[default: hide-infos]",
        ),
        target_kernel: Optional[str] = typer.Option(
            None, "--target-kernel", metavar="X.Y", show_default=False,
            help="Kernel the programs will run on; advice and version-dependent rules follow it "
            "\\[default: the running kernel, else the newest the helper table knows].",
        ),
        compile_commands: Optional[Path] = typer.Option(
            None, "--compile-commands", metavar="FILE",
            help="compile_commands.json: compile each .c input with the flags its entry gives.",
        ),
        build_dir: Optional[Path] = typer.Option(
            None, "-p", metavar="DIR", help="Build directory holding compile_commands.json (as clang-tidy -p).",
        ),
        list_rules: bool = typer.Option(False, "--list-rules", help="List every rule (slug, default severity, summary) and exit."),
        explain: Optional[str] = typer.Option(None, "--explain", help="Print a rule's documentation (what, why, example, how to fix) and exit."),
    ) -> None:
        """Report helpers, locks, loops and callbacks that keep a program from terminating early."""
        import sys

        from bpfrewrite.errors import BpfrewriteError
        from bpfrewrite.render.diagnostics import render
        from bpfrewrite.render.formats import check_format
        from bpfrewrite.render.messages import error_line

        if list_rules or explain:
            sys.stdout.write(_rule_docs(explain))
            return
        if not files:
            raise BpfrewriteError("no inputs: give .o, .c, .ll or .bc files (or --list-rules, --explain SLUG)")
        from bpfrewrite.inputs import compile_database, expand_inputs

        files = expand_inputs(files)
        if compile_commands is not None and build_dir is not None:
            raise BpfrewriteError("give either --compile-commands FILE or -p DIR")
        database = None
        if compile_commands is not None or build_dir is not None:
            database = compile_database(compile_commands or build_dir / "compile_commands.json")

        check_format("lint", fmt)
        settings = _settings(files, fail_on, select, ignore, severity, cc, cflags, config)
        from dataclasses import replace

        if loop_cost_threshold is not None:
            settings = replace(settings, loop_cost_threshold=loop_cost_threshold)
        if target_kernel is not None:
            from bpfrewrite.kernel.versions import parse_version

            settings = replace(settings, target_kernel=parse_version(target_kernel))
        if extend_select is not None:
            from bpfrewrite.config import validate
            from bpfrewrite.lint.registry import RULES

            settings = replace(settings, extend_select=tuple(s.strip() for s in extend_select.split(",") if s.strip()))
            validate(settings, set(RULES))
        if show_infos is not None:
            settings = replace(settings, show_infos=show_infos)
        results = _run(files, settings, jobs, database)
        errors = [r.error for r in results if r.error]
        from bpfrewrite.diagnostics.diagnostic import sort_diagnostics

        diags = sort_diagnostics([d for r in results for d in r.diagnostics])
        hidden = 0
        if not settings.show_infos and settings.fail_on != "info":  # infos that fail the run are shown
            from bpfrewrite.diagnostics.diagnostic import Severity

            shown = [d for d in diags if d.severity > Severity.INFO]
            hidden, diags = len(diags) - len(shown), shown
        sys.stdout.write(render(fmt, diags, _descriptions(settings), sys.stdout, _version(), hidden))
        sys.stdout.flush()
        for message in errors:
            print(error_line(message), file=sys.stderr)
        if errors:
            raise SystemExit(2)
        if any(settings.fails(d.severity) for d in diags):
            raise SystemExit(1)


def _rule_docs(slug: str | None) -> str:
    """The rule table (slug None), or one rule's page as docs/rules/ has it."""
    from bpfrewrite.errors import BpfrewriteError
    from bpfrewrite.lint.registry import RULES
    from bpfrewrite.render.rules import rule_list, rule_page

    if slug is None:
        return rule_list(RULES)
    if slug not in RULES:
        raise BpfrewriteError(f"unknown rule {slug}; known rules: {', '.join(sorted(RULES))}")
    return rule_page(RULES[slug], generated_note=False)


def _settings(files, fail_on, select, ignore, severity, cc, cflags, config):
    """The effective LintConfig: pyproject values, then command-line overrides; slugs validated."""
    from dataclasses import replace

    from bpfrewrite.commands.options import config_file
    from bpfrewrite.config import LintConfig, check_fail_on, load_pyproject, parse_severity_overrides, validate
    from bpfrewrite.lint.registry import RULES

    path = config_file(config, Path(files[0]))
    settings = load_pyproject(path) if path else LintConfig()
    if fail_on is not None:
        settings = replace(settings, fail_on=check_fail_on(fail_on))
    if select is not None:
        settings = replace(settings, select=tuple(s.strip() for s in select.split(",") if s.strip()), source=None)
    if ignore is not None:
        settings = replace(settings, ignore=tuple(s.strip() for s in ignore.split(",") if s.strip()), source=None)
    if severity:
        items = [item for arg in severity for item in arg.split(",") if item.strip()]
        overrides = parse_severity_overrides(items, "--severity")
        settings = replace(settings, severity={**settings.severity, **overrides}, source=None)
    if cc is not None:
        settings = replace(settings, cc=cc)
    if cflags is not None:
        settings = replace(settings, cflags=cflags)
    validate(settings, set(RULES))
    return settings


def _run(files: list[str], settings, jobs: int, database: dict[str, str] | None = None):
    """Lint every input (in a process pool when jobs > 1), results in input order; a .c input
    with an entry in the compilation database compiles with that entry's flags."""
    import sys
    from dataclasses import replace

    from bpfrewrite.lint.runner import lint_path

    configs = [settings] * len(files)
    if database:
        configs = [replace(settings, cflags=database[key]) if (key := str(Path(f).resolve())) in database else settings
                   for f in files]

    progress = _Progress(len(files)) if len(files) >= _PROGRESS_MIN_FILES and sys.stderr.isatty() else None
    results = []
    if jobs <= 1 or len(files) <= 1:
        for path in files:
            results.append(lint_path(path, configs[len(results)]))
            if progress:
                progress.step()
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(jobs, len(files))) as pool:
            for result in pool.map(lint_path, files, configs):
                results.append(result)
                if progress:
                    progress.step()
    if progress:
        progress.done()
    return results


class _Progress:
    """A progress bar on stderr, drawn by bpfrewrite.render.progress."""

    def __init__(self, total: int):
        self.total, self.count = total, 0

    def step(self) -> None:
        from bpfrewrite.render.progress import bar

        self.count += 1
        self._write(bar("linting", self.count, self.total))

    def done(self) -> None:
        from bpfrewrite.render.progress import CLEAR

        self._write(CLEAR)

    @staticmethod
    def _write(text: str) -> None:
        import sys

        sys.stderr.write(text)
        sys.stderr.flush()


def _descriptions(settings):
    """SARIF rule descriptions for the rules that ran, at the severities the run gives them."""
    from bpfrewrite.lint.registry import RULES, selected
    from bpfrewrite.render.diagnostics.sarif import rule_description

    return [rule_description(RULES[slug], settings.severity.get(slug, RULES[slug].severity))
            for slug in selected(settings, list(RULES))]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bpfrewrite")
    except PackageNotFoundError:
        return "0"
