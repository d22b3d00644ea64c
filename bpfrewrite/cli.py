"""Command-line entry point: a thin typer app; each command lives in bpfrewrite.commands.<name>.

Command modules import nothing heavy at module level (llvmlite, graphviz, libbpf) so that
`bpfrewrite --help` stays fast; they import what they need inside the command body.
"""
from __future__ import annotations

import sys

import typer

from bpfrewrite.errors import BpfrewriteError, Terminated
from bpfrewrite.render.messages import error_line, stop_line

app = typer.Typer(
    name="bpfrewrite",
    help="Lint BPF objects for early termination, draw their CFGs, and write twins (termination fast paths).\n\n"
    "BPFREWRITE_MEMORY_BUDGET=MiB (default 4096, 0: none) stops an analysis that makes the process "
    "outgrow it, with one line and exit code 2.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"bpfrewrite {version('bpfrewrite')}")
        except PackageNotFoundError:  # running from a checkout that was never installed
            print("bpfrewrite (not installed)")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Lint BPF objects for early termination, draw their CFGs, and write fast-path twins."""


# Each module registers its command(s) on `app`; order here is the order in --help.
_COMMAND_MODULES = ("disasm", "cfg", "lint", "patch", "verify", "guard")


def _register_commands() -> None:
    import importlib

    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"bpfrewrite.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not written yet
            if exc.name != f"bpfrewrite.commands.{name}":
                raise
            continue
        module.register(app)


_register_commands()


def command():
    """The click command of the app, with plain metavars in --help.

    typer 0.29 labels each option with its Python type (`<str>`, `<bool>`, `<list[str]>`); a
    user needs the value's meaning (FILE, N, SLUGS) or, for a flag, nothing.
    """
    cmd = typer.main.get_command(app)
    todo = [cmd]
    while todo:
        current = todo.pop()
        todo.extend(getattr(current, "commands", {}).values())
        current.get_help_option = _quiet_help(current.get_help_option)
        for param in current.params:
            if param.metavar is not None:
                continue
            if param.param_type_name == "option":  # typer bundles its own click: match by kind, not class
                param.metavar = "" if param.is_flag or param.count else _METAVARS.get(param.name, param.name.upper())
            else:  # arguments: the usage line names them; the type column stays empty
                param.display_type_rich = lambda ctx: None
    return cmd


def _quiet_help(make):
    """get_help_option, with no type label on --help itself."""
    def get_help_option(ctx):
        option = make(ctx)
        if option is not None:
            option.metavar = ""
        return option

    return get_help_option


# Metavars that read better than the parameter's name.
_METAVARS = {"fmt": "FORMAT", "jobs": "N", "fail_on": "LEVEL", "severity": "SLUG=LEVEL", "select": "SLUGS",
             "ignore": "SLUGS", "extend_select": "SLUGS", "cflags": "FLAGS", "config": "FILE",
             "loop_cost_threshold": "N", "explain": "SLUG", "print_after": "TRANSFORM"}


def _raise_terminated(signum: int, _frame) -> None:
    raise Terminated(signum)


def main() -> None:
    """Run the CLI; user errors become one line on stderr and exit code 2."""
    import gc
    import signal

    # A run builds ~10 objects per instruction and frees them at exit; the cyclic collector
    # only rescans them (measured: about 20% of `disasm` on a 100k-instruction object).
    gc.disable()
    # SIGINT/SIGTERM/SIGHUP become an exception: `with` and `finally` blocks then remove temporary
    # files and directories, and the compiler being waited for is killed. Not KeyboardInterrupt
    # for SIGINT: typer turns that into a silent return of 130 when not in standalone mode.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_terminated)
    try:
        # Without standalone mode click returns typer.Exit's code instead of raising it.
        code = command().main(prog_name="bpfrewrite", standalone_mode=False)
    except BpfrewriteError as exc:
        print(error_line(str(exc)), file=sys.stderr)
        sys.exit(2)
    except MemoryError:
        from bpfrewrite.budget import ENV

        print(error_line(f"out of memory (the system refused an allocation); {ENV} sets a budget "
                         "(MiB) that stops an analysis with this error before the machine runs short"), file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print(stop_line("interrupted"), file=sys.stderr)
        sys.exit(130)
    except Terminated as exc:
        what = "interrupted" if exc.signum == signal.SIGINT else f"terminated by {signal.Signals(exc.signum).name}"
        print(stop_line(what), file=sys.stderr)
        sys.exit(128 + exc.signum)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        # typer bundles its own copy of click (typer._click), so match the class by name.
        if any(c.__name__ == "ClickException" for c in type(exc).__mro__):
            print(error_line(f"{exc.format_message()} (see --help)"), file=sys.stderr)
            sys.exit(2)
        raise
    sys.exit(code if isinstance(code, int) else 0)
