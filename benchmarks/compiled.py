"""Generated C compiled once: objects cached under the temp dir, keyed by compiler, flags and source.

Each cached object has its instruction count beside it (NAME.insns): reading 100,000
instructions back takes seconds. Renames are atomic, so a concurrent run sees a whole object and
count, or none.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CLANG = os.environ.get("CLANG", "clang-19")
CACHE_DIR = Path(tempfile.gettempdir()) / "bpfrewrite-bench-objects"


def count_instructions(path: str | os.PathLike) -> int:
    """Instructions read_object finds in the object's executable sections (ld_imm64 counts once)."""
    from bpfrewrite.elf.reader import read_object

    return sum(len(sec.insns) for sec in read_object(path).exec_sections())


def compile_command(cflags: list[str], src: str, out: str, workdir: str) -> list[str]:
    """clang-19's command line for a generated source (the prefix map keeps workdir out of DWARF)."""
    return [CLANG, *cflags, f"-fdebug-prefix-map={workdir}=.", "-c", src, "-o", out]


def _compiler_id(who: str) -> str:
    try:
        out = subprocess.run([CLANG, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"{who}: cannot run {CLANG} ({exc}); install clang-19")
    return out.stdout.splitlines()[0] if out.stdout else CLANG


def cached_object(who: str, name: str, source: str, cflags: list[str], keep_source: bool = False) -> tuple[Path, int]:
    """(object, instruction count) of source compiled with cflags, cached as NAME-KEY.bpf.o.

    who names the benchmark in errors; keep_source leaves the C source beside the object (.c).
    """
    key = hashlib.sha256("\0".join([_compiler_id(who), *cflags, source]).encode()).hexdigest()[:20]
    obj = CACHE_DIR / f"{name}-{key}.bpf.o"
    count_file = obj.with_suffix(".insns")
    if obj.exists() and count_file.exists():
        return obj, int(count_file.read_text())
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as work:
        src = Path(work) / f"{name}.bpf.c"
        src.write_text(source)
        tmp = Path(work) / f"{name}.bpf.o"
        proc = subprocess.run(compile_command(cflags, src.name, tmp.name, work), cwd=work, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["no message"]
            sys.exit(f"{who}: {CLANG} failed: {tail[0]}")
        count = count_instructions(tmp)
        count_tmp = Path(work) / "count"
        count_tmp.write_text(f"{count}\n")
        if keep_source:
            shutil.copyfile(src, obj.with_suffix(".c"))
        os.replace(tmp, obj)
        os.replace(count_tmp, count_file)
    return obj, count
