"""Calls the helper/kfunc table does not cover: kept in the twin, reported once per object with
what the running kernel's BTF says about each (read with the project's BTF reader, once)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import unavailable

from bpfrewrite.elf.reader import read_object
from bpfrewrite.kernel import table
from bpfrewrite.kernel.vmlinux import VMLINUX_BTF, kernel_btf

SRC = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;
extern int bpf_no_such_kfunc_here(int x) __ksym __weak;
SEC("xdp") int two_calls(struct xdp_md *ctx)
{
	void *a = bpf_cast_to_kern_ctx(ctx);
	void *b = bpf_cast_to_kern_ctx(ctx);
	return a == b ? XDP_PASS : XDP_DROP;
}
SEC("xdp") int missing(struct xdp_md *ctx)
{
	if (bpf_no_such_kfunc_here)
		return bpf_no_such_kfunc_here(1);
	return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
"""

HIDDEN = ("bpf_cast_to_kern_ctx", "bpf_no_such_kfunc_here")


@pytest.fixture
def untabled(monkeypatch):
    """The table as if it did not know the kfuncs used here (it may learn them one day)."""
    real = table.kfunc
    monkeypatch.setattr(table, "kfunc", lambda name: None if name in HIDDEN else real(name))


def test_one_problem_per_object_naming_each_uncovered_call(compile_bpf, tmp_path, untabled) -> None:
    from bpfrewrite.passes.transforms.fastpath import make_twins

    if not VMLINUX_BTF.exists():
        unavailable(f"{VMLINUX_BTF} missing: no kernel BTF to describe kfuncs with")
    obj = read_object(compile_bpf(tmp_path, SRC, "uncovered"))
    result = make_twins(obj)
    problems = [p for p in result.problems if "does not cover" in p.message]
    assert len(problems) == 1 and problems[0].function == "" and problems[0].slot is None
    message = problems[0].message
    assert "bpf_cast_to_kern_ctx (2 sites; a kfunc of this kernel, returns pointer)" in message
    assert "bpf_no_such_kfunc_here (1 site; not in this kernel's BTF)" in message
    kept = [s for s in result.sites if s.callee in HIDDEN]
    assert len(kept) == 3 and all(s.action == "keep" for s in kept)


def test_patch_prints_the_object_line_once_and_the_output_loads(kernel, compile_bpf, tmp_path) -> None:
    """Through the CLI, with the table as shipped: whatever it does not know is named once."""
    from bpfrewrite.kernel.runner import verify_object

    src = compile_bpf(tmp_path, SRC.replace("bpf_no_such_kfunc_here", "bpf_no_such_kfunc_here2"), "cli")
    out = tmp_path / "out.o"
    proc = subprocess.run([sys.executable, "-m", "bpfrewrite", "patch", str(src), str(out)], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "does not cover" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: calls the helper/kfunc table does not cover")
    assert "bpf_no_such_kfunc_here2 (1 site; not in this kernel's BTF)" in lines[0]
    # Load only the program whose kfunc exists, and its twin (the other one's extern is weak and absent).
    by_name = {r.name: r for r in verify_object(out, prog="two_calls")}
    assert by_name["two_calls"].accepted
    twin = {r.name: r for r in verify_object(out, prog="two_calls__fast")}
    assert twin["two_calls__fast"].accepted, twin["two_calls__fast"].message


def test_kernel_btf_is_read_once() -> None:
    assert kernel_btf() is kernel_btf()


def test_unreadable_kernel_btf_is_said_not_raised(tmp_path) -> None:
    missing = kernel_btf(tmp_path / "nope")
    assert missing.funcs is None and "kernel BTF not read" in missing.describe("x")
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x9f\xeb\x01\x00garbage")
    assert "kernel BTF not read" in kernel_btf(bad).describe("x")


def test_return_kinds_from_a_small_btf(compile_bpf, tmp_path) -> None:
    """void / int / pointer through typedefs and qualifiers, checked on BTF clang wrote."""
    src = r"""
typedef int myint;
typedef const myint cint;
void v(void) {}
cint i(void) { return 1; }
char *p(void) { return 0; }
"""
    path = compile_bpf(tmp_path, src + '\nchar LICENSE[] __attribute__((section("license"))) = "GPL";\n', "kinds")
    section = read_object(path).section(".BTF")
    btf_file = tmp_path / "kinds.btf"
    btf_file.write_bytes(section.data)
    funcs = kernel_btf(btf_file).funcs
    assert {n: f.returns for n, f in funcs.items()} == {"v": "void", "i": "int", "p": "pointer"}
    assert not any(f.is_kfunc for f in funcs.values())
