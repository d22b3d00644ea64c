"""The one table of output formats: every command takes what it lists, refuses the rest in one message form."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bpfrewrite import cli
from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity
from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.render.diagnostics import render
from bpfrewrite.render.formats import FORMATS, check_format, spoken

OBJ = str(Path(__file__).resolve().parent.parent / "testdata" / "loop.bpf.o")
# The least each command needs to reach its --format check (guard: its one required option).
ARGS = {"disasm": [OBJ], "cfg": [OBJ], "lint": [OBJ], "patch": [OBJ, "/nonexistent/out.o"],
        "verify": [OBJ], "guard": [OBJ, "--budget", "1ms"]}


def run_cli(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["bpfrewrite", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_every_command_is_in_the_table():
    assert sorted(FORMATS) == sorted(cli._COMMAND_MODULES) == sorted(ARGS)


@pytest.mark.parametrize("command", sorted(ARGS))
def test_unknown_format_is_one_line_naming_the_choices(command, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, command, *ARGS[command], "--format", "xml")
    names = FORMATS[command].names
    assert (code, out) == (2, "")
    assert err == f"bpfrewrite: error: unknown --format 'xml' for {command}: use {spoken(names)}\n"


@pytest.mark.parametrize("command", sorted(ARGS))
def test_default_and_help_come_from_the_table(command):
    click_command = cli.command().commands[command]
    (option,) = [p for p in click_command.params if "--format" in p.opts]
    assert option.default == FORMATS[command].default == FORMATS[command].names[0]
    for name in FORMATS[command].names:
        assert name in option.help


def test_spoken():
    assert [spoken(n) for n in (("a",), ("a", "b"), ("a", "b", "c"))] == ["a", "a or b", "a, b or c"]


def test_check_format():
    assert check_format("verify", "csv") == "csv"
    with pytest.raises(BpfrewriteError, match=r"^unknown --format 'csv' for guard: use text or json$"):
        check_format("guard", "csv")


def test_lint_formats_are_the_diagnostic_renderers():
    """Each name the table gives lint renders; a name it does not give is refused."""
    diag = Diagnostic(rule="r", severity=Severity.WARNING, message="m", object="o.o", section="s", function="f",
                      insn=0)
    outputs = {fmt: render(fmt, [diag]) for fmt in FORMATS["lint"].names}
    assert len(set(outputs.values())) == len(outputs)  # four different renderers, not one
    with pytest.raises(BpfrewriteError, match="for lint: use text, json, sarif or github"):
        render("xml", [diag])
