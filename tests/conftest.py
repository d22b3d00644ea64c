"""Shared fixtures: can this process load BPF (`kernel`), and compiling BPF C (`compile_bpf`).

Tests that need a tool or privilege this machine lacks are skipped with the reason, unless
BPFREWRITE_REQUIRE_KERNEL=1 (CI sets it in .ci/run): then they fail, so CI cannot pass by skipping.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests check what an input does, not how fast: on a shared 2-core machine Hypothesis's
# default 200 ms deadline fails them at random (seen: test_isa under load).
settings.register_profile("bpfrewrite", deadline=None)
settings.load_profile("bpfrewrite")

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"
CLANG = "clang-19"
BPF_CFLAGS = (
    "-target", "bpf", "-O2", "-g", "-D__TARGET_ARCH_x86",
    "-I/usr/include/x86_64-linux-gnu", f"-I{TESTDATA / 'include'}",
)  # fmt: skip


BPF_HEADERS = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
LICENSE = 'char LICENSE[] SEC("license") = "GPL";\n'
XDP_CTX = "struct xdp_md *ctx"


def returning(section: str, name: str, value: str, param: str = XDP_CTX) -> str:
    """C of a program `name` in `section` that only returns `value` (a C expression of its `param`)."""
    return f'\nSEC("{section}")\nint {name}({param})\n{{\n\treturn {value};\n}}\n'


def c_object(*functions: str) -> str:
    """C source of an object: the BPF headers, the functions, a GPL license."""
    return BPF_HEADERS + "".join(functions) + LICENSE


def spin_lock_source(name: str = "prog", includes: str = BPF_HEADERS) -> str:
    """C source of a tc program `name` that takes a bpf_spin_lock at line 12 (with the default includes).

    Lint reports it (spin-lock-not-terminable, at 12:2); projects in the CLI, pre-commit and
    build-integration tests use it as the file that must be reported.
    """
    return includes + """\
struct v { struct bpf_spin_lock lock; __u64 n; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct v); } m SEC(".maps");
SEC("tc")
int %s(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct v *p = bpf_map_lookup_elem(&m, &k);
	if (!p)
		return 0;
	bpf_spin_lock(&p->lock);
	p->n++;
	bpf_spin_unlock(&p->lock);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
""" % name


def unavailable(reason: str) -> None:
    """Skip the current test for `reason`, or fail it when the environment requires the kernel."""
    if os.environ.get("BPFREWRITE_REQUIRE_KERNEL") == "1":
        pytest.fail(f"{reason} (BPFREWRITE_REQUIRE_KERNEL=1)", pytrace=False)
    pytest.skip(reason)


def require_tool(*tools: str) -> None:
    """Skip unless every tool (a command, or an absolute path) exists; fail instead under CI.

    `make test` installs them all (linux-source included); BPFREWRITE_REQUIRE_TOOLS=1 (set by .ci/run) makes a missing
    one a failure, so an install step that silently failed cannot turn oracles into skips.
    """
    missing = [t for t in tools if not (Path(t).exists() if t.startswith("/") else shutil.which(t))]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed (make test installs it)"
    if os.environ.get("BPFREWRITE_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{reason}; BPFREWRITE_REQUIRE_TOOLS=1", pytrace=False)
    pytest.skip(reason)


@lru_cache(maxsize=1)
def _kernel_unavailable_reason() -> str | None:
    from bpfrewrite.kernel.libbpf import probe_load

    return probe_load()


@pytest.fixture(scope="session")
def kernel() -> None:
    """Require a kernel that lets this process load BPF programs (checked once per session)."""
    reason = _kernel_unavailable_reason()
    if reason is not None:
        unavailable(f"cannot load BPF programs here: {reason}")


def _compile_bpf(directory: Path, source: str, name: str) -> Path:
    """Compile C `source` to `directory/<name>.bpf.o` with clang-19 and the project's BPF flags."""
    if shutil.which(CLANG) is None:
        unavailable(f"{CLANG} not installed")
    src = directory / f"{name}.bpf.c"
    obj = directory / f"{name}.bpf.o"
    src.write_text(source)
    # Compile from inside `directory` so the object's line info names just "<name>.bpf.c".
    proc = subprocess.run(
        [CLANG, *BPF_CFLAGS, "-c", src.name, "-o", obj.name],
        cwd=directory,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.fail(f"{CLANG} failed on {src.name}:\n{proc.stderr}", pytrace=False)
    return obj


@pytest.fixture
def compile_bpf() -> Callable[[Path, str, str], Path]:
    """compile_bpf(tmp_path, source, name) -> Path of the compiled <name>.bpf.o."""
    return _compile_bpf
