"""Turn what a user names on the command line (.o, .c, .ll, .bc) into a BPF object file.

`.o` files are used as they are; `.c` sources are compiled with clang into a temporary directory;
LLVM IR (`.ll` text, `.bc` bitcode) is compiled in-process with llvmlite for target bpfel.
llvmlite is imported only here and only for IR inputs.
"""
from __future__ import annotations

import os
import platform
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.fileio import check_input, read_input

OBJECT_SUFFIXES = (".o",)
C_SUFFIXES = (".c",)
IR_SUFFIXES = (".ll", ".bc")
SUFFIXES = OBJECT_SUFFIXES + C_SUFFIXES + IR_SUFFIXES

DEFAULT_CC = "clang-19"
# Always passed: BPF target and BTF line info (the linter reports positions from .BTF.ext).
_REQUIRED_CFLAGS = ("-target", "bpf", "-g")


@dataclass(frozen=True)
class CompileOptions:
    """How to compile C inputs: the compiler and extra flags (split like a shell would)."""

    cc: str = DEFAULT_CC
    cflags: str | None = None  # None: default_cflags()


def default_cflags() -> list[str]:
    """-O2, the x86 target arch for bpf_tracing.h, and Debian's multiarch include dir if present."""
    flags = ["-O2", "-D__TARGET_ARCH_x86"]
    multiarch = Path(f"/usr/include/{platform.machine()}-linux-gnu")
    if multiarch.is_dir():  # linux/bpf.h includes asm/types.h, which lives there on Debian
        flags.append(f"-I{multiarch}")
    return flags


def input_kind(path: str | os.PathLike) -> str:
    """"object", "c" or "ir" for a path by its suffix; a user error for anything else."""
    suffix = Path(path).suffix
    if suffix in OBJECT_SUFFIXES:
        return "object"
    if suffix in C_SUFFIXES:
        return "c"
    if suffix in IR_SUFFIXES:
        return "ir"
    raise BpfrewriteError(f"{path}: unsupported input (expected one of {', '.join(SUFFIXES)})")


def prepare(path: str | os.PathLike, workdir: str | os.PathLike, options: CompileOptions = CompileOptions()) -> Path:
    """The object file for an input: the path itself for .o, else a compiled object in workdir."""
    path = Path(path)
    if path.exists():  # a directory or FIFO is named as what it is, before its suffix is judged
        check_input(path, "a file")
    kind = input_kind(path)
    check_input(path, "a file")  # never handed on unchecked: a FIFO would block clang too
    if kind == "object":
        return path
    out = Path(workdir) / (path.name + ".o")
    if kind == "c":
        compile_c(path, out, options)
    else:
        compile_ir(path, out)
    return out


def compile_c(src: Path, out: Path, options: CompileOptions = CompileOptions()) -> None:
    """Compile a BPF C source to out with clang; a compile error is a one-line user error."""
    if shutil.which(options.cc) is None:
        raise BpfrewriteError(f"compiler {options.cc!r} not found (set --cc or [tool.bpfrewrite] cc)")
    try:
        # The user's flags come after the defaults: they add to them, and a later -O wins in clang.
        extra = default_cflags() + (shlex.split(options.cflags) if options.cflags is not None else [])
    except ValueError as exc:
        raise BpfrewriteError(f"cannot parse cflags {options.cflags!r}: {exc}") from None
    cwd = os.getcwd()
    # The prefix map makes BTF file names relative to the working directory, as the user typed them.
    cmd = [options.cc, *_REQUIRED_CFLAGS, *extra, f"-fdebug-prefix-map={cwd}=.", "-c", str(src), "-o", str(out)]
    returncode, stderr = _run_compiler(cmd)
    if returncode != 0:
        raise BpfrewriteError(f"{src}: compile failed: {first_error(stderr) or f'{options.cc} exited {returncode}'}")


def _run_compiler(cmd: list[str]) -> tuple[int, str]:
    """Run cmd to completion; on any exception (a signal, Ctrl-C) kill and reap it first.

    subprocess.run kills its child only once inside communicate(): a signal arriving while Popen
    is still starting it would leave the compiler running, so the start is shielded.
    """
    from bpfrewrite.fileio import signals_deferred

    proc = None
    try:
        with signals_deferred():
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _out, err = proc.communicate()
        return proc.returncode, err
    except BaseException:
        if proc is not None:
            proc.kill()
            proc.wait()
        raise


def first_error(stderr: str) -> str | None:
    """clang's first `error:` line (it names file, line and column), else its first non-empty line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "error:" in line:
            return line
    return lines[0] if lines else None


# Inline asm in textual IR: `asm [sideeffect|alignstack|inteldialect|unwind]* "..."` operands
# and `module asm "..."` lines. String constants (c"...") and comments are removed first so
# their contents cannot match.
_IR_STRING = re.compile(r'c"[^"]*"')
_IR_COMMENT = re.compile(r";[^\n]*")
_IR_ASM = re.compile(r'\basm\s+(?:(?:sideeffect|alignstack|inteldialect|unwind)\s+)*"|^\s*module\s+asm\b', re.M)


def ir_has_inline_asm(text: str) -> bool:
    """True when textual LLVM IR contains inline or module-level assembly."""
    stripped = _IR_COMMENT.sub("", _IR_STRING.sub('c""', text))
    return _IR_ASM.search(stripped) is not None


def _module_has_inline_asm(module) -> bool:
    if any(line.lstrip().startswith("module asm") for line in str(module).splitlines()):
        return True
    for func in module.functions:
        for block in func.blocks:
            for insn in block.instructions:
                if any(op.value_kind.name == "inline_asm" for op in insn.operands):
                    return True
    return False


def compile_ir(src: Path, out: Path) -> None:
    """Compile LLVM IR (.ll or .bc) to a bpfel object with llvmlite; inline asm is refused up front."""
    # LLVM aborts the whole process on some inline asm it cannot assemble for BPF, so IR with
    # asm never reaches the code generator.
    data = read_input(src, "an LLVM IR file")
    if src.suffix == ".ll":
        text = data.decode("utf-8", errors="replace")
        if ir_has_inline_asm(text):
            raise BpfrewriteError(f"{src}: LLVM IR with inline assembly is not supported; compile it with clang instead")
    import llvmlite.binding as llvm  # only IR inputs pay for loading LLVM

    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    try:
        module = llvm.parse_assembly(text) if src.suffix == ".ll" else llvm.parse_bitcode(data)
        module.verify()
    except RuntimeError as exc:
        detail = " ".join(str(exc).replace("<string>", str(src)).split())
        raise BpfrewriteError(f"{src}: invalid LLVM IR: {detail}") from None
    if _module_has_inline_asm(module):
        raise BpfrewriteError(f"{src}: LLVM IR with inline assembly is not supported; compile it with clang instead")
    target = llvm.Target.from_triple("bpfel")
    machine = target.create_target_machine(opt=2)
    module.triple = "bpfel"
    module.data_layout = str(machine.target_data)
    for func in module.functions:
        if not func.is_declaration:
            func.add_function_attribute("nounwind")  # else the object gains an .eh_frame
    try:
        obj = machine.emit_object(module)
    except RuntimeError as exc:
        raise BpfrewriteError(f"{src}: LLVM could not compile the IR for BPF: {' '.join(str(exc).split())}") from None
    out.write_bytes(obj)


# ----- build integration: directories, paths in flags, compile_commands.json -----------------

_PATH_FLAGS = ("-I", "-isystem", "-iquote", "-idirafter", "-include", "--sysroot", "-isysroot")


def expand_inputs(paths: list[str]) -> list[str]:
    """paths with each directory replaced by the *.bpf.c and *.bpf.o files under it (sorted;
    hidden directories skipped); a directory with none is a user error."""
    out: list[str] = []
    for p in paths:
        if not os.path.isdir(p):
            out.append(p)
            continue
        root = Path(p)
        found = sorted(
            str(f) for f in root.rglob("*")
            if f.name.endswith((".bpf.c", ".bpf.o")) and f.is_file()
            and not any(part.startswith(".") for part in f.relative_to(root).parts[:-1])
        )
        if not found:
            raise BpfrewriteError(f"{p}: no *.bpf.c or *.bpf.o files in this directory")
        out.extend(found)
    return out


def absolute_flag_paths(flags: list[str], base: Path) -> list[str]:
    """flags with the relative paths of -I, -isystem, -include, ... made absolute against base."""
    out: list[str] = []
    expect_path = False
    for flag in flags:
        if expect_path:
            out.append(flag if os.path.isabs(flag) else str(base / flag))
            expect_path = False
            continue
        if flag in _PATH_FLAGS:
            out.append(flag)
            expect_path = True
            continue
        for prefix in ("-I", "-isystem", "-iquote", "-idirafter", "--sysroot="):
            if flag.startswith(prefix) and len(flag) > len(prefix):
                path = flag[len(prefix):]
                flag = prefix + (path if os.path.isabs(path) else str(base / path))
                break
        out.append(flag)
    return out


def resolve_cflags(cflags: str, base: Path, where: str) -> str:
    """cflags (a shell-quoted string) with relative include paths made absolute against base."""
    try:
        return shlex.join(absolute_flag_paths(shlex.split(cflags), base))
    except ValueError as exc:
        raise BpfrewriteError(f"{where}: cannot parse cflags {cflags!r}: {exc}") from None


# Flags of a compile command that are about its own output, not about how the code compiles.
_DROP_WITH_VALUE = frozenset({"-o", "-MF", "-MT", "-MQ"})
_DROP = frozenset({"-c", "-MD", "-MMD", "-MP", "-M", "-MM"})


def compile_database(path: Path) -> dict[str, str]:
    """Source file (resolved) -> its flags (shell-quoted, include paths absolute) from a
    compile_commands.json, as clang-tidy -p reads it."""
    import json

    where = str(path)
    try:
        entries = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise BpfrewriteError(f"{where}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise BpfrewriteError(f"{where}: not a JSON compilation database ({exc})") from None
    if not isinstance(entries, list):
        raise BpfrewriteError(f"{where}: not a JSON compilation database (expected a list of entries)")
    out: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not {"directory", "file"} <= set(entry):
            raise BpfrewriteError(f"{where}: an entry lacks directory or file")
        directory = Path(entry["directory"])
        try:
            args = list(entry["arguments"]) if "arguments" in entry else shlex.split(entry.get("command", ""))
        except ValueError as exc:
            raise BpfrewriteError(f"{where}: cannot parse the command for {entry['file']}: {exc}") from None
        source = (directory / entry["file"]).resolve()
        flags, skip = [], False
        for arg in args[1:]:  # args[0] is the compiler; ours (--cc) compiles
            if skip:
                skip = False
                continue
            if arg in _DROP_WITH_VALUE:
                skip = True
                continue
            if arg in _DROP or arg.startswith(("-o", "-MF")) or (directory / arg).resolve() == source:
                continue
            flags.append(arg)
        out[str(source)] = shlex.join(absolute_flag_paths(flags, directory))
    return out
