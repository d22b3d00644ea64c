"""`bpfrewrite lint` end to end: exit codes, selection, severities, configuration, inputs, formats."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import spin_lock_source

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"
SPIN = TESTDATA / "spin_lock.bpf.o"  # one spin-lock-not-terminable warning (plus infos)
BAD_LOCK = TESTDATA / "res_spin_lock_bad_unchecked.bpf.o"  # one unchecked-lock-result error
CLEAN = TESTDATA / "lint" / "loop_lookup_break.bpf.o"  # nothing at all


def lint(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; (exit code, stdout, stderr)."""
    from bpfrewrite.cli import main

    monkeypatch.setattr(sys, "argv", ["bpfrewrite", "lint", *map(str, args)])
    monkeypatch.setenv("NO_COLOR", "1")
    with pytest.raises(SystemExit) as exc:
        main()
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def rules_in(out: str) -> list[str]:
    return [d["rule"] for d in json.loads(out)["diagnostics"]]


def test_exit_codes_follow_fail_on(monkeypatch, capsys):
    assert lint(monkeypatch, capsys, SPIN)[0] == 1  # default fail-on warning
    assert lint(monkeypatch, capsys, SPIN, "--fail-on", "error")[0] == 0
    assert lint(monkeypatch, capsys, BAD_LOCK, "--fail-on", "error")[0] == 1
    assert lint(monkeypatch, capsys, BAD_LOCK, "--fail-on", "never")[0] == 0
    assert lint(monkeypatch, capsys, CLEAN, "--fail-on", "info")[0] == 0


@pytest.mark.parametrize(
    "args, needle",
    [
        (["missing.bpf.o"], "no such file"),
        (["notes.txt"], "unsupported input"),
        ([SPIN, "--select", "no-such-rule"], "unknown rule no-such-rule"),
        ([SPIN, "--format", "xml"], "unknown --format"),
        ([SPIN, "--fail-on", "sometimes"], "--fail-on must be one of"),
        ([SPIN, "--severity", "spin-lock-not-terminable=fatal"], "unknown severity"),
    ],
)
def test_user_errors_exit_2_with_one_line(monkeypatch, capsys, tmp_path, args, needle):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hi")
    code, _, err = lint(monkeypatch, capsys, *args)
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1


def test_select_ignore_and_severity(monkeypatch, capsys):
    code, out, _ = lint(monkeypatch, capsys, SPIN, "--format", "json", "--select", "spin-lock-not-terminable")
    assert rules_in(out) == ["spin-lock-not-terminable"] and code == 1
    code, out, _ = lint(monkeypatch, capsys, SPIN, "--format", "json", "--ignore", "spin-lock-not-terminable")
    assert "spin-lock-not-terminable" not in rules_in(out) and code == 0  # only infos remain
    code, out, _ = lint(
        monkeypatch, capsys, SPIN, "--format", "json", "--fail-on", "error",
        "--severity", "spin-lock-not-terminable=error",
    )
    sev = {d["rule"]: d["severity"] for d in json.loads(out)["diagnostics"]}
    assert sev["spin-lock-not-terminable"] == "error" and code == 1


def test_pyproject_config_and_command_line_override(monkeypatch, capsys, tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bpfrewrite]\nignore = ["fast-path-keeps-helper"]\nfail-on = "error"\n'
        '[tool.bpfrewrite.severity]\nspin-lock-not-terminable = "info"\n'
    )
    sub = tmp_path / "progs"
    sub.mkdir()
    shutil.copy(SPIN, sub / "spin.bpf.o")
    code, out, _ = lint(monkeypatch, capsys, sub / "spin.bpf.o", "--format", "json", "--show-infos")
    diags = json.loads(out)["diagnostics"]
    assert [(d["rule"], d["severity"]) for d in diags] == [("spin-lock-not-terminable", "info")]
    assert code == 0
    code, out, _ = lint(monkeypatch, capsys, sub / "spin.bpf.o", "--format", "json", "--fail-on", "info")
    assert code == 1
    # --config names another file: its (empty) table replaces the discovered one.
    other = tmp_path / "other.toml"
    other.write_text("[tool.other]\n")
    code, out, _ = lint(monkeypatch, capsys, sub / "spin.bpf.o", "--format", "json", "--config", other, "--show-infos")
    assert "fast-path-keeps-helper" in rules_in(out) and code == 1


def test_infos_are_hidden_by_default_and_counted(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)  # no pyproject.toml above the input's copy
    shutil.copy(SPIN, tmp_path / "spin.bpf.o")
    shown = lint(monkeypatch, capsys, "spin.bpf.o", "--show-infos")[1]
    infos = sum(": info: " in line for line in shown.splitlines())
    assert infos >= 1
    code, out, _ = lint(monkeypatch, capsys, "spin.bpf.o")
    assert ": info: " not in out and code == 1
    assert out.splitlines()[-1] == f"1 warning generated; {infos} info{'s' if infos != 1 else ''} hidden (--show-infos shows them)."
    (tmp_path / "pyproject.toml").write_text("[tool.bpfrewrite]\nshow-infos = true\n")
    assert lint(monkeypatch, capsys, "spin.bpf.o")[1] == shown
    assert lint(monkeypatch, capsys, "spin.bpf.o", "--hide-infos")[1] == out
    # Only infos, all hidden: the summary still says they exist (the info the warning's line held is back).
    only = lint(monkeypatch, capsys, "spin.bpf.o", "--show-infos", "--ignore", "spin-lock-not-terminable")[1]
    infos = sum(": info: " in line for line in only.splitlines())
    code, out, _ = lint(monkeypatch, capsys, "spin.bpf.o", "--hide-infos", "--ignore", "spin-lock-not-terminable")
    assert out == f"{infos} infos hidden (--show-infos shows them).\n" and code == 0 and infos >= 2


def test_pyproject_unknown_slug_is_an_error(monkeypatch, capsys, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.bpfrewrite]\nselect = ["nope"]\n')
    shutil.copy(SPIN, tmp_path / "spin.bpf.o")
    code, _, err = lint(monkeypatch, capsys, tmp_path / "spin.bpf.o")
    assert code == 2 and "nope" in err and "pyproject.toml" in err


SPIN_C = spin_lock_source("prog")


def test_c_input_is_compiled_and_reported_at_its_source(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prog.bpf.c").write_text(SPIN_C)
    code, out, _ = lint(monkeypatch, capsys, "prog.bpf.c", "--select", "spin-lock-not-terminable")
    assert code == 1
    assert out.splitlines()[0].startswith("prog.bpf.c:12:2: warning: bpf_spin_lock")
    assert out.splitlines()[1] == "\tbpf_spin_lock(&p->lock);"


def test_c_compile_error_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.bpf.c").write_text("int f(void) { return x; }\n")
    code, _, err = lint(monkeypatch, capsys, "broken.bpf.c")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "compile failed" in err and "broken.bpf.c:1:" in err and "error:" in err


def test_missing_compiler(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.bpf.c").write_text(SPIN_C)
    code, _, err = lint(monkeypatch, capsys, "p.bpf.c", "--cc", "no-such-clang")
    assert code == 2 and "no-such-clang" in err


# A helper call as clang writes it in IR: a call through the helper id cast to a pointer (93 is
# bpf_spin_lock in uapi linux/bpf.h). No debug info: diagnostics fall back to object+section+insn.
IR = """\
target triple = "bpfel"
define i32 @prog(ptr %ctx) section "tc" {
  %r = call i64 inttoptr (i64 93 to ptr)(ptr %ctx)
  ret i32 0
}
"""


def test_ll_input_compiled_in_process(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.ll").write_text(IR)
    code, out, _ = lint(monkeypatch, capsys, "p.ll", "--select", "spin-lock-not-terminable", "--target-kernel", "6.18")
    assert code == 1
    assert out.splitlines()[0] == (
        "p.ll:tc+0: warning: bpf_spin_lock cannot fail, so a terminating program cannot skip the"
        " critical section; use a lock whose result can be tested (bpf_res_spin_lock or bpf_res_spin_lock_irqsave)"
        " [spin-lock-not-terminable]"
    )


def test_bc_input(monkeypatch, capsys, tmp_path):
    import llvmlite.binding as llvm

    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.bc").write_bytes(llvm.parse_assembly(IR).as_bitcode())
    code, out, _ = lint(monkeypatch, capsys, "p.bc", "--format", "json", "--select", "spin-lock-not-terminable")
    (d,) = json.loads(out)["diagnostics"]
    assert (d["object"], d["section"], d["function"], d["insn"], d["file"]) == ("p.bc", "tc", "prog", 0, None)


ASM_IR = """\
define i32 @prog(ptr %ctx) section "tc" {
  %r = call i64 asm sideeffect "r0 = 1 ; not BPF assembly at all @@", "={r0}"()
  ret i32 0
}
"""


def test_ir_with_inline_asm_is_refused_without_aborting(monkeypatch, capsys, tmp_path):
    import llvmlite.binding as llvm

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.ll").write_text(ASM_IR)
    code, _, err = lint(monkeypatch, capsys, "a.ll")
    assert code == 2 and "inline assembly" in err
    # Bitcode cannot be scanned as text: the parsed module is checked before code generation.
    (tmp_path / "a.bc").write_bytes(llvm.parse_assembly(ASM_IR).as_bitcode())
    code, _, err = lint(monkeypatch, capsys, "a.bc")
    assert code == 2 and "inline assembly" in err


def test_ir_parse_error(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.ll").write_text("define i32 @f( {\n")
    code, _, err = lint(monkeypatch, capsys, "bad.ll")
    assert code == 2 and "invalid LLVM IR" in err and "bad.ll:" in err


def test_jobs_gives_the_same_output(monkeypatch, capsys):
    files = [SPIN, BAD_LOCK, CLEAN, TESTDATA / "loop.bpf.o", TESTDATA / "lint" / "loop_parser_bounds.bpf.o"]
    one = lint(monkeypatch, capsys, *files, "--format", "json")
    two = lint(monkeypatch, capsys, *files, "--format", "json", "--jobs", "2")
    assert one == two and one[0] == 1
    assert {"spin-lock-not-terminable", "unchecked-lock-result", "loop-without-exit"} <= set(rules_in(one[1]))


def test_progress_bar_on_a_terminal_fills_then_clears(monkeypatch, capsys):
    """From 8 inputs, a terminal stderr gets a bar redrawn per input and blanked at the end;
    stdout is what it is without the bar."""
    import io

    from bpfrewrite.render.progress import CLEAR

    files = [CLEAN] * 8
    plain = lint(monkeypatch, capsys, *files)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty = Terminal()
    monkeypatch.setattr(sys, "stderr", tty)
    code, out, _ = lint(monkeypatch, capsys, *files)
    drawn = tty.getvalue()
    assert (code, out) == plain[:2]
    assert drawn.endswith(CLEAR)
    bars = drawn[: -len(CLEAR)].split("\r")[1:]
    assert [b.rsplit(" ", 1)[1] for b in bars] == [f"{i}/8" for i in range(1, 9)]
    assert [b.count("#") for b in bars] == sorted(b.count("#") for b in bars)
    assert bars[-1].count(".") == 0 and bars[0].count(".") > 0
    assert max(len(b) for b in bars) <= len(CLEAR) - 2  # the blank line covers the widest bar


def test_one_bad_input_among_good_ones(monkeypatch, capsys, tmp_path):
    code, out, err = lint(monkeypatch, capsys, SPIN, tmp_path / "gone.bpf.o", "--format", "json")
    assert code == 2 and "gone.bpf.o: no such file" in err
    assert "spin-lock-not-terminable" in rules_in(out)  # the good input is still reported


def test_sarif_for_a_real_object(monkeypatch, capsys):
    from bpfrewrite.lint.registry import RULES

    monkeypatch.chdir(REPO)
    code, out, _ = lint(monkeypatch, capsys, "testdata/spin_lock.bpf.o", "--format", "sarif")
    run = json.loads(out)["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {s for s, r in RULES.items() if r.default_enabled}  # the rules that ran
    assert rules["spin-lock-not-terminable"]["shortDescription"]["text"] == RULES["spin-lock-not-terminable"].summary()
    assert rules["unchecked-lock-result"]["defaultConfiguration"]["level"] == "error"
    (res,) = [r for r in run["results"] if r["ruleId"] == "spin-lock-not-terminable"]
    region = res["locations"][0]["physicalLocation"]["region"]
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "testdata/src/spin_lock.bpf.c"
    src = (TESTDATA / "src" / "spin_lock.bpf.c").read_text().splitlines()
    assert "bpf_spin_lock(&c->lock)" in src[region["startLine"] - 1]
    assert src[region["startLine"] - 1][region["startColumn"] - 1 :].startswith("bpf_spin_lock")


def test_github_format(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    _, out, _ = lint(monkeypatch, capsys, "testdata/spin_lock.bpf.o", "--format", "github", "--select",
                     "spin-lock-not-terminable")
    assert out.startswith("::warning file=testdata/src/spin_lock.bpf.c,line=")
    assert ",title=spin-lock-not-terminable::bpf_spin_lock cannot fail" in out


def test_list_rules_and_explain_come_from_the_registry():
    import subprocess
    import sys

    from bpfrewrite.lint.registry import RULES
    from bpfrewrite.render.rules import rule_page as page

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "bpfrewrite", "lint", *args], capture_output=True, text=True)

    listed = cli("--list-rules")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == list(RULES)
    explained = cli("--explain", "loop-without-exit")
    assert explained.returncode == 0 and explained.stdout == page(RULES["loop-without-exit"], generated_note=False)
    assert "generated by" not in explained.stdout and "generated by" in page(RULES["loop-without-exit"])
    unknown = cli("--explain", "nope")
    assert unknown.returncode == 2 and "unknown rule" in unknown.stderr
    none = cli()
    assert none.returncode == 2 and "no inputs" in none.stderr


def test_pyproject_unknown_key_is_an_error(monkeypatch, capsys, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.bpfrewrite]\nselct = ["loop-without-exit"]\n')
    shutil.copy(SPIN, tmp_path / "spin.bpf.o")
    code, _, err = lint(monkeypatch, capsys, tmp_path / "spin.bpf.o")
    assert code == 2 and "unknown key selct" in err and "known keys" in err
