"""Build integration: --version, --help without type placeholders, directory inputs, cflags paths
relative to their pyproject.toml, compile_commands.json (--compile-commands / -p), hooks."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_tool, spin_lock_source

REPO = Path(__file__).resolve().parent.parent
SPIN = REPO / "testdata" / "spin_lock.bpf.o"
INCLUDE = REPO / "testdata" / "include"

# Compiles only with -DNEEDED (or a header defining it) and with INCLUDE on the include path.
SOURCE = spin_lock_source("prog", includes="""\
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "cfg.h"
#ifndef NEEDED
#error NEEDED is not defined
#endif
""")


def cli(*args, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "bpfrewrite", *map(str, args)], cwd=cwd or REPO,
                          capture_output=True, text=True, env=env)


def rules_of(out: str) -> list[tuple[str, str]]:
    return [(Path(d["object"]).name, d["rule"]) for d in json.loads(out)["diagnostics"]]


def test_version():
    from importlib.metadata import PackageNotFoundError, version

    proc = cli("--version")
    assert proc.returncode == 0
    try:
        assert proc.stdout == f"bpfrewrite {version('bpfrewrite')}\n"
    except PackageNotFoundError:
        assert proc.stdout.startswith("bpfrewrite ")


@pytest.mark.parametrize("command", ["", "disasm", "cfg", "lint", "patch", "verify"])
def test_help_has_no_type_placeholders(command):
    proc = cli(*([command] if command else []), "--help")
    assert proc.returncode == 0
    assert not re.search(r"<(bool|str|int|path|list\[str\]|int range|float)>", proc.stdout), proc.stdout
    if command == "lint":
        for default in ("[default: text]", "[default: warning]", "[default: 1]", "[default: 10000]", "[default: clang-19]"):
            assert default in proc.stdout


def test_directory_input_finds_bpf_sources_and_objects(tmp_path):
    require_tool("clang-19")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / ".hidden").mkdir()
    (src / "inc").mkdir()
    (src / "inc" / "cfg.h").write_text("#define NEEDED 1\n")
    (src / "sub" / "p.bpf.c").write_text(SOURCE)
    shutil.copy(SPIN, src / "o.bpf.o")
    shutil.copy(SPIN, src / ".hidden" / "skipped.bpf.o")
    (src / "notes.txt").write_text("not an input")
    flags = f"-I{src / 'inc'} -I{INCLUDE}"
    proc = cli("lint", "--format", "json", "--select", "spin-lock-not-terminable", "--cflags", flags, "-j", "2", src)
    assert proc.returncode == 1, proc.stderr
    assert sorted(rules_of(proc.stdout)) == [("o.bpf.o", "spin-lock-not-terminable"),
                                             ("p.bpf.c", "spin-lock-not-terminable")]
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = cli("lint", empty)
    assert proc.returncode == 2 and "no *.bpf.c or *.bpf.o" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_cflags_paths_are_relative_to_the_pyproject(tmp_path):
    require_tool("clang-19")
    project = tmp_path / "project"
    (project / "inc").mkdir(parents=True)
    (project / "inc" / "cfg.h").write_text("#define NEEDED 1\n")
    (project / "p.bpf.c").write_text(SOURCE)
    (project / "pyproject.toml").write_text(f'[tool.bpfrewrite]\ncflags = "-Iinc -I{INCLUDE}"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = cli("lint", "--format", "json", "--select", "spin-lock-not-terminable", project / "p.bpf.c", cwd=elsewhere)
    assert proc.returncode == 1, proc.stderr
    assert rules_of(proc.stdout) == [("p.bpf.c", "spin-lock-not-terminable")]


def test_compile_commands_give_each_source_its_build_flags(tmp_path):
    require_tool("clang-19")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "p.bpf.c").write_text(SOURCE)
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "cfg.h").write_text("/* NEEDED comes from the command line */\n")
    build = tmp_path / "build"
    build.mkdir()
    entry = {"directory": str(build), "file": "../src/p.bpf.c",
             "arguments": ["clang", "-target", "bpf", "-O2", "-g", "-DNEEDED=1", "-I../gen", f"-I{INCLUDE}",
                           "-c", "../src/p.bpf.c", "-o", "p.bpf.o", "-MD", "-MF", "p.d"]}
    (build / "compile_commands.json").write_text(json.dumps([entry]))
    src = tmp_path / "src" / "p.bpf.c"
    without = cli("lint", src)
    assert without.returncode == 2 and "compile failed" in without.stderr
    for option in (["-p", build], ["--compile-commands", build / "compile_commands.json"]):
        proc = cli("lint", "--format", "json", "--select", "spin-lock-not-terminable", *option, src, cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert rules_of(proc.stdout) == [("p.bpf.c", "spin-lock-not-terminable")]
    (build / "compile_commands.json").write_text("{not json")
    bad = cli("lint", "-p", build, src)
    assert bad.returncode == 2 and "compilation database" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_hooks_run_serially_once():
    text = (REPO / ".pre-commit-hooks.yaml").read_text()
    hooks = text.split("- id: ")[1:]
    assert len(hooks) == 2 and all(re.search(r"^  require_serial: true\b", h, re.M) for h in hooks)
