"""CLI-wide behaviour: heavy imports stay lazy, every command documents itself."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_PROBE = """
import sys
sys.argv = ["bpfrewrite", *{args!r}]
from bpfrewrite.cli import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("llvmlite", "matplotlib") if m in sys.modules)
print("HEAVY:", ",".join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["disasm", str(REPO / "testdata" / "loop.bpf.o")]], ids=["help", "disasm"])
def test_help_and_disasm_do_not_import_llvmlite(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(args=args)], capture_output=True, text=True)
    assert "HEAVY: \n" in proc.stderr or proc.stderr.rstrip().endswith("HEAVY:"), proc.stderr


def test_every_command_has_help() -> None:
    out = subprocess.run([sys.executable, "-m", "bpfrewrite", "--help"], capture_output=True, text=True).stdout
    for command in ("disasm", "cfg", "lint", "patch", "verify"):
        assert command in out
        sub = subprocess.run([sys.executable, "-m", "bpfrewrite", command, "--help"], capture_output=True, text=True)
        assert sub.returncode == 0 and "Usage" in sub.stdout, command


def test_disasm_text_interleaves_source_and_names_references() -> None:
    out = subprocess.run([sys.executable, "-m", "bpfrewrite", "disasm", str(REPO / "testdata" / "loop.bpf.o")],
                         capture_output=True, text=True, check=True).stdout
    assert "loop_prog (program, type xdp, section xdp):" in out
    assert "; done = bpf_loop(want, mix_step, &st, 0); @ " in out
    assert "# helper bpf_loop" in out and "# callback mix_step" in out and "# data nr_loops" in out


def test_disasm_json_indexes_are_section_slots() -> None:
    import json

    from bpfrewrite.elf.reader import read_object

    out = subprocess.run([sys.executable, "-m", "bpfrewrite", "disasm", "--format", "json",
                          str(REPO / "testdata" / "loop.bpf.o")], capture_output=True, text=True, check=True).stdout
    records = json.loads(out)["instructions"]
    obj = read_object(REPO / "testdata" / "loop.bpf.o")
    for sec in obj.exec_sections():
        got = [(r["index"], r["bytes"]) for r in records if r["section"] == sec.name]
        assert got == [(slot, insn.encode().hex()) for slot, insn in zip(sec.slots(), sec.insns)]


@pytest.mark.parametrize("args", [["disasm"], ["disasm", "--bogus", "x"], ["nosuchcmd"],
                                  ["disasm", str(REPO / "testdata" / "loop.bpf.o"), "extra"],
                                  ["lint", "--fail-on", "sometimes", str(REPO / "testdata" / "loop.bpf.o")]],
                         ids=["missing-arg", "unknown-option", "unknown-command", "extra-arg", "bad-choice"])
def test_usage_errors_are_one_line_and_exit_2(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "bpfrewrite", *args], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bpfrewrite: error:"), proc.stderr


def test_disasm_into_a_closed_pipe_is_not_an_error(tmp_path) -> None:
    """`bpfrewrite disasm x.o | head -1`: the reader leaving early is what the user asked for."""
    # An unrolled loop makes a listing far larger than a pipe's buffer, so the write must fail.
    (tmp_path / "big.bpf.c").write_text(
        "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nvolatile unsigned long long acc;\n"
        'SEC("xdp") int big(struct xdp_md *ctx) {\n#pragma clang loop unroll(full)\n'
        "for (int i = 0; i < 3000; i++) acc = acc * 31 + i;\nreturn 2; }\n"
        'char LICENSE[] SEC("license") = "GPL";\n')
    obj = tmp_path / "big.bpf.o"
    subprocess.run(["clang-19", "-target", "bpf", "-O2", "-g", "-I/usr/include/x86_64-linux-gnu",
                    "-c", str(tmp_path / "big.bpf.c"), "-o", str(obj)], check=True)
    proc = subprocess.Popen([sys.executable, "-m", "bpfrewrite", "disasm", str(obj)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait() == 0 and proc.stderr.read() == b""


def test_cfg_survives_source_lines_that_are_not_utf8(tmp_path) -> None:
    src = (REPO / "testdata" / "src" / "plain_loop.bpf.c").read_bytes().replace(
        b"int plain_loop(", b"/* caf\xe9 */ int plain_loop(")
    (tmp_path / "l1.bpf.c").write_bytes(src)
    obj = tmp_path / "l1.bpf.o"
    subprocess.run(["clang-19", "-target", "bpf", "-O2", "-g", "-I/usr/include/x86_64-linux-gnu",
                    "-c", str(tmp_path / "l1.bpf.c"), "-o", str(obj)], check=True)
    for fmt in ("dot", "svg", "json"):
        proc = subprocess.run([sys.executable, "-m", "bpfrewrite", "cfg", "--format", fmt, str(obj)], capture_output=True)
        assert proc.returncode == 0, (fmt, proc.stderr)
