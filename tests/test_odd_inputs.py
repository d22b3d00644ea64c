"""Odd inputs and signals: FIFOs, devices, directories, huge files, no memory, SIGTERM/SIGHUP/SIGINT.
Each ends in one line on stderr and a known exit code, never a hang, a traceback, or anything left over."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import require_tool

from bpfrewrite.fileio import MAX_INPUT_BYTES

REPO = Path(__file__).resolve().parent.parent
LOOP = REPO / "testdata" / "loop.bpf.o"
COMMANDS = {"disasm": (), "cfg": (), "lint": (), "patch": ("out.o",), "verify": ()}


def _cli(*args: str, cwd: Path = REPO, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpfrewrite", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60, **kw)


def _one_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_fifo_input_is_refused_without_blocking(tmp_path, command) -> None:
    fifo = tmp_path / "x.o"
    os.mkfifo(fifo)
    proc = _cli(command, str(fifo), *COMMANDS[command], cwd=tmp_path)  # timeout: a hang fails the test
    assert proc.returncode == 2
    assert _one_line(proc) == f"bpfrewrite: error: {fifo}: is a FIFO, expected a " + \
        ("file" if command == "lint" else "BPF object file")
    assert not (tmp_path / "out.o").exists()


def test_fifo_c_source_is_refused_before_clang_opens_it(tmp_path) -> None:
    fifo = tmp_path / "x.c"
    os.mkfifo(fifo)
    proc = _cli("lint", str(fifo))
    assert proc.returncode == 2 and "is a FIFO" in _one_line(proc)


@pytest.mark.parametrize("command", ["disasm", "lint", "patch"])
def test_dev_zero_is_refused(tmp_path, command) -> None:
    proc = _cli(command, "/dev/zero", *COMMANDS[command], cwd=tmp_path)
    assert proc.returncode == 2 and "/dev/zero: is a character device" in _one_line(proc)


def test_directory_given_to_lint_is_named_a_directory(tmp_path) -> None:
    """lint takes a directory for the *.bpf.c and *.bpf.o files under it; one without any says so."""
    proc = _cli("lint", str(tmp_path))
    assert proc.returncode == 2
    assert _one_line(proc) == f"bpfrewrite: error: {tmp_path}: no *.bpf.c or *.bpf.o files in this directory"
    proc = _cli("disasm", str(tmp_path))
    assert proc.returncode == 2
    assert _one_line(proc) == f"bpfrewrite: error: {tmp_path}: is a directory, expected a BPF object file"


def test_input_over_the_size_ceiling_is_refused_before_reading(tmp_path) -> None:
    big = tmp_path / "big.o"
    with open(big, "wb") as f:
        f.truncate(MAX_INPUT_BYTES + 1)  # sparse: costs no disk
    proc = _cli("disasm", str(big))
    assert proc.returncode == 2 and "more than the 256 MiB input limit" in _one_line(proc)


def test_out_of_memory_is_one_line(tmp_path) -> None:
    """A 250 MiB input under a 160 MiB address-space limit: the read fails with MemoryError."""
    zeros = tmp_path / "zeros.o"
    with open(zeros, "wb") as f:
        f.write(bytes(250 << 20))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (160 << 20, 160 << 20))

    proc = _cli("disasm", str(zeros), preexec_fn=limit)
    assert proc.returncode == 2
    assert _one_line(proc).startswith("bpfrewrite: error: out of memory")


_SLOW_CC = """#!/bin/sh
echo $$ > {pidfile}
exec sleep 60
"""


def _pid_alive(pid: int) -> bool:
    """True while pid runs (a zombie awaiting its new parent's wait does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_during_lint_of_c_leaves_no_temp_dir_and_no_compiler(tmp_path, sig) -> None:
    src = tmp_path / "x.c"
    src.write_text("int x;\n")
    pidfile, tmpdir = tmp_path / "cc.pid", tmp_path / "tmp"
    tmpdir.mkdir()
    cc = tmp_path / "slow-cc"
    cc.write_text(_SLOW_CC.format(pidfile=pidfile))
    cc.chmod(0o755)
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen([sys.executable, "-m", "bpfrewrite", "lint", "--cc", str(cc), str(src)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child = None
    try:
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        child = int(pidfile.read_text())
        assert any(tmpdir.iterdir()), "lint should be compiling in a temporary directory"
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        if child is not None and _pid_alive(child):
            os.kill(child, signal.SIGKILL)
            pytest.fail("the compiler child was still running after bpfrewrite exited")
    assert proc.returncode == 128 + sig
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    word = "interrupted" if sig == signal.SIGINT else f"terminated by {signal.Signals(sig).name}"
    assert err.strip() == f"bpfrewrite: {word}"
    assert list(tmpdir.iterdir()) == []


# Runs the CLI in a child whose os.fsync (or tempfile.mkstemp) sends the process a signal: the
# signal arrives while the temporary output file exists, every time.
_SIGNAL_WHILE_WRITING = """
import os, signal, sys, tempfile
where, sig = sys.argv[1], int(sys.argv[2])
if where == "fsync":
    real = os.fsync
    def hooked(fd):
        os.kill(os.getpid(), sig)
        return real(fd)
    os.fsync = hooked
else:
    real = tempfile.mkstemp
    def hooked(*a, **kw):
        made = real(*a, **kw)
        os.kill(os.getpid(), sig)
        return made
    tempfile.mkstemp = hooked
sys.argv = ["bpfrewrite", "patch", sys.argv[3], sys.argv[4]]
from bpfrewrite.cli import main
main()
"""


@pytest.mark.parametrize("where", ["fsync", "mkstemp"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_while_patch_writes_leaves_no_tmp_file(tmp_path, where, sig) -> None:
    out = tmp_path / "out.o"
    proc = subprocess.run([sys.executable, "-c", _SIGNAL_WHILE_WRITING, where, str(int(sig)), str(LOOP), str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 128 + sig, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_signal_while_patch_writes_keeps_the_old_output(tmp_path) -> None:
    out = tmp_path / "out.o"
    out.write_bytes(b"old")
    proc = subprocess.run([sys.executable, "-c", _SIGNAL_WHILE_WRITING, "fsync", str(int(signal.SIGTERM)), str(LOOP),
                           str(out)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.o"] and out.read_bytes() == b"old"


def test_sigterm_during_real_patch_leaves_no_tmp_file(tmp_path) -> None:
    """End to end, racing the writer as a user would: whatever the timing, nothing partial is left."""
    require_tool("clang-19")
    src = tmp_path / "in.o"
    src.write_bytes(LOOP.read_bytes())
    for delay in (0.5, 1.0, 1.5, 2.0):
        out = tmp_path / "out.o"
        out.unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, "-m", "bpfrewrite", "patch", str(src), str(out)], cwd=REPO,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        # -SIGTERM: the signal came before the CLI set its handler up, when nothing was written yet.
        assert proc.returncode in (0, 128 + signal.SIGTERM, -signal.SIGTERM), err
        assert "Traceback" not in err
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left in (["in.o"], ["in.o", "out.o"]), left
