"""A pyproject.toml found above a lint input is obeyed only when it is safe (git's safe.directory rule):
owned by the invoking user or root, and neither it nor its directory writable by others. Its `cc`
runs a program and its `cflags` can write files, so an untrusted one is ignored with one warning line.
(The repro this replaces: /work/shared/repro/config_exec.sh.)"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_tool, unavailable

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534


def _project(tmp_path: Path) -> tuple[Path, Path, Path]:
    """shared/{pyproject.toml, cc.sh} and shared/proj/loop.bpf.c; cc.sh leaves a marker when it runs."""
    require_tool("clang-19")
    shared = tmp_path / "shared"
    (shared / "proj").mkdir(parents=True)
    shutil.copy(REPO / "testdata" / "src" / "loop.bpf.c", shared / "proj")
    marker = shared / "RAN_cc"
    cc = shared / "cc.sh"
    cc.write_text(f"#!/bin/sh\nid -u > {marker}\nexec clang-19 \"$@\"\n")
    cc.chmod(0o755)
    config = shared / "pyproject.toml"
    config.write_text(f'[tool.bpfrewrite]\ncc = "{cc}"\ncflags = "-I{REPO}/testdata/include -MD -MF {shared}/DEPFILE"\n')
    config.chmod(0o644)
    return shared, config, marker


def _lint(shared: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpfrewrite", "lint", "--fail-on", "never", *extra,
                           str(shared / "proj" / "loop.bpf.c")], capture_output=True, text=True, cwd=REPO)


def _chown(path: Path, uid: int) -> None:
    try:
        os.chown(path, uid, uid)
    except PermissionError:
        unavailable("changing a file's owner needs root")


def test_own_config_is_obeyed(tmp_path) -> None:
    shared, _config, marker = _project(tmp_path)
    proc = _lint(shared)
    assert proc.returncode == 0, proc.stderr
    assert "ignoring" not in proc.stderr
    assert marker.exists() and (shared / "DEPFILE").exists()  # the control: a trusted config does run cc


def _symlink_owned_by_nobody(shared: Path, config: Path) -> None:
    real = shared / "real.toml"
    config.rename(real)
    config.symlink_to(real)
    try:
        os.lchown(config, NOBODY, NOBODY)
    except PermissionError:
        unavailable("changing a file's owner needs root")


# case -> (what makes the project's config untrusted, the reason the warning gives)
UNTRUSTED = {
    "file-owned-by-nobody": (lambda shared, config: _chown(config, NOBODY), "owned by uid 65534"),
    "file-mode-0666": (lambda shared, config: config.chmod(0o666), "writable by others"),
    "dir-owned-by-nobody": (lambda shared, config: _chown(shared, NOBODY), "its directory is owned by uid 65534"),
    "dir-mode-0777": (lambda shared, config: shared.chmod(0o777), "its directory is writable"),
    "symlink-owned-by-nobody": (_symlink_owned_by_nobody, "symlink owned by uid 65534"),
}


@pytest.mark.parametrize("case", list(UNTRUSTED))
def test_untrusted_config_runs_and_writes_nothing(tmp_path, case) -> None:
    shared, config, marker = _project(tmp_path)
    untrust, why = UNTRUSTED[case]
    untrust(shared, config)
    if os.geteuid() != 0 and "nobody" in case:
        unavailable("needs root")
    proc = _lint(shared)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists(), "the untrusted config's cc ran"
    assert not (shared / "DEPFILE").exists(), "the untrusted config's cflags wrote a file"
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and f"ignoring {config}" in warnings[0] and why in warnings[0], proc.stderr


def test_group_writable_config_is_obeyed(tmp_path) -> None:
    """umask 002 (Debian's user-private groups) makes every file group-writable: git trusts it, so do we."""
    shared, config, marker = _project(tmp_path)
    config.chmod(0o664)
    shared.chmod(0o775)
    proc = _lint(shared)
    assert "ignoring" not in proc.stderr and marker.exists(), proc.stderr


def test_sticky_world_writable_directory_is_fine_for_a_root_owned_config(tmp_path) -> None:
    shared, _config, marker = _project(tmp_path)
    shared.chmod(0o1777)  # like /tmp: others may add files but not replace this one
    proc = _lint(shared)
    assert "ignoring" not in proc.stderr and marker.exists(), proc.stderr


def test_explicit_config_is_used_even_if_another_user_owns_it(tmp_path) -> None:
    shared, config, marker = _project(tmp_path)
    _chown(config, NOBODY)
    proc = _lint(shared, "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert "ignoring" not in proc.stderr and marker.exists()


def test_patch_ignores_an_untrusted_config_too(tmp_path) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.bpfrewrite]\ntwin-programs = ["no_such_program"]\n')
    config.chmod(0o644)
    src = tmp_path / "loop.bpf.o"
    shutil.copy(REPO / "testdata" / "loop.bpf.o", src)
    run = [sys.executable, "-m", "bpfrewrite", "patch", str(src), str(tmp_path / "out.o")]
    trusted = subprocess.run(run, capture_output=True, text=True, cwd=REPO)
    assert trusted.returncode == 2 and "no_such_program" in trusted.stderr  # the control: the config is read
    _chown(config, NOBODY)
    proc = subprocess.run(run, capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == f"bpfrewrite: warning: ignoring {config}: it is owned by uid 65534, not by you or root (pass --config to use it)"
