"""The pre-commit hooks for real: `pre-commit try-repo <this repo> <hook> --all-files` in a scratch repo.

pre-commit pip-installs this repository into its own environment; the environment is created
with access to the system site-packages (VIRTUALENV_SYSTEM_SITE_PACKAGES) so the dependencies
already installed here are reused instead of downloaded. try-repo only sees tracked files of a
working tree, so the hooks are tried from a scratch git copy of the working tree (tracked and
untracked, .gitignore respected): the test checks the files as they are, committed or not.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool, spin_lock_source

REPO = Path(__file__).resolve().parent.parent

GOOD = """\
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("tc")
int good(struct __sk_buff *skb)
{
	return skb->len > 100;
}
char LICENSE[] SEC("license") = "GPL";
"""

BAD = spin_lock_source("bad")


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory, hook_env) -> Path:
    """A committed git copy of this repository's current working tree."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.decode()
    copy = tmp_path_factory.mktemp("hook-repo") / "bpfrewrite"
    for name in filter(None, listing.split("\0")):
        src = REPO / name
        if src.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, copy / name)
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True, env=hook_env)
    subprocess.run(["git", "add", "-A"], cwd=copy, check=True, env=hook_env)
    subprocess.run(["git", "commit", "-q", "-m", "snapshot"], cwd=copy, check=True, env=hook_env)
    return copy


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory) -> dict:
    require_tool("pre-commit", "git")
    env = dict(os.environ)
    env["PRE_COMMIT_HOME"] = str(tmp_path_factory.mktemp("pre-commit-home"))
    env["VIRTUALENV_SYSTEM_SITE_PACKAGES"] = "1"
    env["NO_COLOR"] = "1"
    env.setdefault("GIT_AUTHOR_NAME", "t")
    env.setdefault("GIT_AUTHOR_EMAIL", "t@example.invalid")
    env.setdefault("GIT_COMMITTER_NAME", "t")
    env.setdefault("GIT_COMMITTER_EMAIL", "t@example.invalid")
    return env


def _project(root: Path, files: dict[str, str | bytes]) -> Path:
    root.mkdir()
    _git(root, "init", "-q")
    for name, content in files.items():
        path = root / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    _git(root, "add", ".")
    return root


def _try_repo(repo: Path, project: Path, hook: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["pre-commit", "try-repo", str(repo), hook, "--all-files", "--color", "never"],
        cwd=project, env=env, capture_output=True, text=True, timeout=900,
    )


def _compile(src: str, out: Path) -> bytes:
    c = out.with_suffix(".c")
    c.write_text(src)
    subprocess.run(
        ["clang-19", "-target", "bpf", "-O2", "-g", "-I/usr/include/x86_64-linux-gnu", "-c", str(c), "-o", str(out)],
        check=True, capture_output=True,
    )
    return out.read_bytes()


def test_c_hook_fails_on_bad_and_passes_on_good(tmp_path, hook_repo, hook_env):
    good = _project(tmp_path / "good", {"good.bpf.c": GOOD, "README": "not a BPF file\n"})
    proc = _try_repo(hook_repo, good, "bpfrewrite-lint-c", hook_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout

    bad = _project(tmp_path / "bad", {"good.bpf.c": GOOD, "bad.bpf.c": BAD})
    proc = _try_repo(hook_repo, bad, "bpfrewrite-lint-c", hook_env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Failed" in proc.stdout
    assert "bad.bpf.c:12:2: warning: bpf_spin_lock" in proc.stdout
    assert "good.bpf.c:" not in proc.stdout.replace("bad.bpf.c", "")


def test_obj_hook(tmp_path, hook_repo, hook_env):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    good_o = _compile(GOOD, scratch / "good.bpf.o")
    bad_o = _compile(BAD, scratch / "bad.bpf.o")
    ok = _project(tmp_path / "ok", {"good.bpf.o": good_o})
    assert _try_repo(hook_repo, ok, "bpfrewrite-lint-obj", hook_env).returncode == 0
    bad = _project(tmp_path / "bad", {"good.bpf.o": good_o, "bad.bpf.o": bad_o})
    proc = _try_repo(hook_repo, bad, "bpfrewrite-lint-obj", hook_env)
    assert proc.returncode == 1 and "spin-lock-not-terminable" in proc.stdout
