"""Objects with no entry program: BTF-only objects and code without symbols are copied unchanged with
one line saying why (exit 0, so a build that patches every object keeps going); a library whose only
code is global functions gets twins of them, and separately patched objects still link and load."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import require_tool

from bpfrewrite.elf.reader import read_object

REPO = Path(__file__).resolve().parent.parent

BTF_ONLY = "struct event { int pid; long ts; };\nstruct event ev_template __attribute__((section(\".data.tmpl\")));\n"
LIB = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, int); __type(value, long); } lib_map SEC(".maps");
__noinline int lib_count(int k)
{
	long *v = bpf_map_lookup_elem(&lib_map, &k);
	if (!v)
		return 0;
	__sync_fetch_and_add(v, 1);
	return (int)*v;
}
char LICENSE[] SEC("license") = "GPL";
"""
PROG = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
extern int lib_count(int k);
SEC("xdp") int use_lib(struct xdp_md *ctx)
{
	return lib_count(0) > 100 ? XDP_DROP : XDP_PASS;
}
"""


def _patch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpfrewrite", "patch", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_btf_only_object_is_copied_with_one_note(compile_bpf, tmp_path) -> None:
    src = compile_bpf(tmp_path, BTF_ONLY, "btfonly")
    assert not read_object(src).functions and read_object(src).btf is not None
    for extra in ((), ("--strict",)):
        out = tmp_path / "out.o"
        out.unlink(missing_ok=True)
        proc = _patch(*extra, str(src), str(out))
        assert proc.returncode == 0, proc.stderr
        assert out.read_bytes() == src.read_bytes()
        assert proc.stderr == (f"note: {src}: no programs and no global functions (no code): nothing to twin; "
                               f"wrote an unchanged copy to {out}\n")


def test_btf_only_object_in_place_is_left_alone(compile_bpf, tmp_path) -> None:
    src = compile_bpf(tmp_path, BTF_ONLY, "btfonly")
    before, mtime = src.read_bytes(), src.stat().st_mtime_ns
    proc = _patch("--in-place", str(src))
    assert proc.returncode == 0 and "left unchanged" in proc.stderr
    assert src.read_bytes() == before and src.stat().st_mtime_ns == mtime


def test_code_without_function_symbols_is_named_and_copied(tmp_path) -> None:
    require_tool("llvm-objcopy-19")
    src = tmp_path / "nosym.o"
    subprocess.run(["llvm-objcopy-19", "--strip-symbol=loop_prog", str(REPO / "testdata" / "loop.bpf.o"), str(src)],
                   check=True)
    out = tmp_path / "out.o"
    proc = _patch(str(src), str(out))
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == ["warning: section 'xdp' holds 21 instructions that no function symbol covers: "
                                        "libbpf finds programs by their symbols, so no twin can be made (rebuild it "
                                        "with a current clang)"]
    assert out.read_bytes() == src.read_bytes()
    strict = _patch("--strict", str(src), str(tmp_path / "strict.o"))
    assert strict.returncode == 1 and not (tmp_path / "strict.o").exists()


def test_library_gets_twins_of_its_global_functions_and_still_links(kernel, compile_bpf, tmp_path) -> None:
    """lib.o (global lib_count only) and prog.o (calls it as an extern) patched separately, then linked."""
    from bpfrewrite.kernel.runner import verify_object

    require_tool("bpftool")
    lib = compile_bpf(tmp_path, LIB, "lib")
    prog = compile_bpf(tmp_path, PROG + 'char LICENSE[] SEC("license") = "GPL";\n', "prog")
    lib_out, prog_out = tmp_path / "lib.out.o", tmp_path / "prog.out.o"
    proc = _patch(str(lib), str(lib_out))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    twin = read_object(lib_out).function("lib_count__fast")
    assert twin is not None and twin.symbol.is_global and twin.section.name == ".text"
    proc = _patch(str(prog), str(prog_out))
    assert proc.returncode == 0, proc.stderr
    assert "lib_count (1 site; a BPF function of another object, resolved when objects are linked)" in proc.stderr
    for name, objects in {"both-patched": (prog_out, lib_out), "lib-unpatched": (prog_out, lib),
                          "prog-unpatched": (prog, lib_out)}.items():
        linked = tmp_path / f"{name}.o"
        link = subprocess.run(["bpftool", "gen", "object", str(linked), *map(str, objects)], capture_output=True,
                              text=True)
        assert link.returncode == 0, (name, link.stderr)
        results = verify_object(linked)
        assert results and all(r.accepted for r in results), (name, [(r.name, r.message) for r in results])
        want = {"use_lib", "use_lib__fast"} if objects[0] == prog_out else {"use_lib"}
        assert {r.name for r in results} == want, name
