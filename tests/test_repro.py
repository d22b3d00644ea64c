"""Issue 9's reproducers (testdata/repro/): exit 0 with an output that loads whenever the input
loads, or exit 2 with one line; never a traceback. Also stripped objects and 70,000 sections."""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_tool

from bpfrewrite.elf.reader import read_object

REPO = Path(__file__).resolve().parent.parent
REPRO = REPO / "testdata" / "repro"

# file -> (exit code, a fragment of the one error line, or whether the input loads)
EXPECTED = {
    "addrsig_bad_symidx.o": (0, True),
    "btfext_func_typeid.o": (2, "which is not a BTF FUNC"),
    "loop_0270.o": (2, "which is not a BTF FUNC"),
    "for_each_long_0239.o": (2, "which is not a BTF FUNC"),
    "global_data_0271.o": (0, False),
    "tail_call_0193.o": (0, True),
    "dup_btf_section.o": (2, "two sections named '.BTF'"),
    "dup_symtab_internal_error.o": (2, "two symbol tables"),
    "strtab_symname_nonident.o": (0, True),
    "verify_nonutf8_progname.o": (0, False),
}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpfrewrite", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def _loads(path: Path) -> bool:
    """True when libbpf opens path and the kernel accepts every program in it."""
    from bpfrewrite.errors import BpfrewriteError
    from bpfrewrite.kernel.runner import verify_object

    try:
        results = verify_object(path)
    except BpfrewriteError:
        return False
    return bool(results) and all(r.accepted for r in results)


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bpfrewrite: error:"), proc.stderr
    return lines[0]


def test_every_reproducer_is_listed() -> None:
    assert sorted(p.name for p in REPRO.glob("*.o")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reproducer_patches_or_is_refused_in_one_line(kernel, tmp_path, name) -> None:
    src, out = REPRO / name, tmp_path / "out.o"
    before = src.read_bytes()
    code, what = EXPECTED[name]
    proc = _cli("patch", str(src), str(out))
    assert src.read_bytes() == before
    assert proc.returncode == code, proc.stderr
    assert not list(tmp_path.glob(".*.tmp"))
    if code == 2:
        assert what in _one_error_line(proc)
        assert not out.exists()
        return
    assert "Traceback" not in proc.stderr
    assert _loads(src) is what  # the expectation is about this input, not a guess
    if what:
        assert _loads(out), f"{name}: the input loads but the patched output does not"


def test_twin_btf_func_names_are_identifiers_when_a_symbol_name_is_not(tmp_path) -> None:
    from bpfrewrite.btf.types import BtfKind

    out = tmp_path / "out.o"
    assert _cli("patch", str(REPRO / "strtab_symname_nonident.o"), str(out)).returncode == 0
    obj = read_object(out)
    odd = [f.name for f in obj.functions if not f.name.replace("__fast", "").isidentifier()]
    assert odd, "the reproducer should still have a symbol name that is not an identifier"
    names = [t.name for t in obj.btf.types if t.kind == BtfKind.FUNC]
    assert any(n.endswith("__fast") for n in names)
    assert all(n.isidentifier() for n in names), names


def test_verify_with_a_non_utf8_program_name_has_no_traceback() -> None:
    proc = _cli("verify", str(REPRO / "verify_nonutf8_progname.o"))
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    assert "_prog" in proc.stdout


def test_non_utf8_symbol_names_keep_their_bytes(tmp_path) -> None:
    out = tmp_path / "out.o"
    assert _cli("patch", str(REPRO / "verify_nonutf8_progname.o"), str(out)).returncode == 0
    raw = out.read_bytes()
    assert b"loo\x86_prog\0" in raw and b"loo\x86_prog__fast\0" in raw


@pytest.mark.parametrize("how", ["-g", "--strip-debug"])
@pytest.mark.parametrize("base", ["tail_call", "subprogs", "global_func_tags"])
def test_stripped_objects_patch_and_load(kernel, tmp_path, how, base) -> None:
    require_tool("llvm-strip-19")
    src, out = tmp_path / f"{base}.o", tmp_path / "out.o"
    subprocess.run(["llvm-strip-19", how, str(REPO / "testdata" / f"{base}.bpf.o"), "-o", str(src)], check=True)
    assert not any(s.name.startswith(".debug") for s in read_object(src).sections)
    proc = _cli("patch", str(src), str(out))
    assert proc.returncode == 0, proc.stderr
    assert _loads(src) and _loads(out)


def _many_sections(tmp_path: Path, code: str) -> Path:
    """An object of `code` (assembly) then 70,000 one-byte data sections: ELF extended numbering."""
    require_tool("clang-19")
    asm = tmp_path / "many.s"
    parts = [code]
    parts += [f'\t.section .data.s{i},"aw",@progbits\n\t.byte 1\n' for i in range(70000)]
    parts.append('\t.section license,"aw",@progbits\n\t.asciz "GPL"\n')
    asm.write_text("".join(parts))
    src = tmp_path / "many.o"
    subprocess.run(["clang-19", "-target", "bpf", "-c", str(asm), "-o", str(src)], check=True)
    return src


def test_library_with_70000_sections_patches(tmp_path) -> None:
    """A global function in .text: its twin lands in .text, and the output keeps extended numbering
    (e_shnum 0 and the real count in section 0's sh_size)."""
    src = _many_sections(tmp_path, '\t.text\n\t.globl lib\n\t.type lib,@function\nlib:\n\tr0 = 0\n\texit\n'
                                   '.Lend:\n\t.size lib, .Lend-lib\n')
    out = tmp_path / "many.out.o"
    proc = _cli("patch", str(src), str(out))
    assert proc.returncode == 0, proc.stderr
    raw = out.read_bytes()
    (shoff,) = struct.unpack_from("<Q", raw, 0x28)
    shnum, shstrndx = struct.unpack_from("<HH", raw, 0x3C)
    sec0_size, sec0_link = struct.unpack_from("<QI", raw, shoff + 0x20)
    assert shnum == 0 and sec0_size == len(read_object(src).sections) + 1  # + the .bpfrewrite record
    assert shstrndx < 0xFF00 or (shstrndx == 0xFFFF and sec0_link >= 0xFF00)
    patched = read_object(out)
    assert {f.name for f in patched.functions} == {"lib", "lib__fast"}
    hdr = subprocess.run(["llvm-readelf-19", "-h", str(out)], capture_output=True, text=True).stdout
    assert f"({sec0_size})" in hdr  # an independent reader agrees on the count


def test_program_with_70000_sections_is_refused_in_one_line(tmp_path) -> None:
    """A program's twin goes to a new section "?xdp", numbered past 65,279: its symbols would need
    SHT_SYMTAB_SHNDX. (The input does not load either: libbpf runs out of memory on 70,000 maps.)"""
    src = _many_sections(tmp_path, '\t.section xdp,"ax",@progbits\n\t.globl prog\n\t.type prog,@function\nprog:\n'
                                   '\tr0 = 0\n\texit\n.Lend:\n\t.size prog, .Lend-prog\n')
    out = tmp_path / "many.out.o"
    proc = _cli("patch", str(src), str(out))
    assert proc.returncode == 2
    assert "need SHT_SYMTAB_SHNDX, which bpfrewrite does not write" in _one_error_line(proc)
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))
