"""Patch an object file: read, add fast-path twins, write atomically after checking the result."""
from __future__ import annotations

import os

from bpfrewrite.errors import BpfrewriteError


def patch_object(src: str | os.PathLike, dst: str | os.PathLike, strict: bool = False,
                 print_after: tuple[str, ...] = (), printer=None, am_out: list | None = None,
                 programs: tuple[str, ...] | None = None):
    """Write src with twins (of every program, or of those named) to dst; with strict, write nothing on problems.

    print_after/printer are handed to the pass manager; am_out, when given, receives the
    AnalysisManager used (its `timings` say where the time went).
    """
    from bpfrewrite.elf.reader import parse_object, read_object
    from bpfrewrite.elf.writer import serialize, write_object
    from bpfrewrite.passes.manager import AnalysisManager, Transform, registry
    from bpfrewrite.passes.transforms.fastpath import NothingToTwin, PatchResult, Problem, make_twins

    transforms = sorted(n for n, c in registry().items() if issubclass(c, Transform))
    for name in print_after:
        if name not in transforms:
            raise BpfrewriteError(f"--print-after {name!r}: not a transform (known: {', '.join(transforms)})")
    obj = read_object(src)
    am = AnalysisManager(obj)
    if am_out is not None:
        am_out.append(am)
    try:
        result = make_twins(obj, am, print_after=print_after, printer=printer, programs=programs)
    except NothingToTwin as exc:
        # A build that patches every object it makes must not fail on a BTF-only or library
        # object: the output is an unchanged copy, and one line says why it has no twins.
        result = PatchResult(problems=[Problem("", None, str(exc))] if exc.problem else [], note=str(exc))
        if not (strict and result.problems):
            _copy_unchanged(src, dst)
        return result
    except BpfrewriteError as exc:  # every message names the input, as the reader's do
        message = str(exc)
        raise BpfrewriteError(message if message.startswith(str(src)) else f"{src}: {message}") from None
    if strict and result.problems:
        return result
    try:
        data = serialize(obj)
    except BpfrewriteError as exc:  # e.g. no section symbol to relocate .BTF.ext against
        raise BpfrewriteError(f"{src}: cannot write the patched object: {exc}") from None
    try:  # the output must read back as a valid object before it replaces anything
        parse_object(data, str(dst))
    except BpfrewriteError as exc:
        raise BpfrewriteError(f"internal error: the patched object does not read back ({exc})") from None
    write_object(obj, dst, data=data)
    result.sources = site_sources(obj, result)
    return result


def _copy_unchanged(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    from bpfrewrite.fileio import read_input, write_atomically

    if os.path.exists(dst) and os.path.samefile(src, dst):  # --in-place: nothing to change
        return
    write_atomically(dst, read_input(src, "a BPF object file"))


def site_sources(obj, result) -> dict[tuple[str, int], str]:
    """(twin, slot) -> `file:line:col` of each site's instruction in its original, as lint prints it."""
    from bpfrewrite.source import function_positions
    from bpfrewrite.passes.transforms.fastpath import position_text

    by_name = {f.name: f for f in obj.functions}
    out: dict[tuple[str, int], str] = {}
    wanted: dict[str, set[int]] = {}
    for s in result.sites:
        wanted.setdefault(s.function, set()).add(s.slot)
    for name, slots_wanted in wanted.items():
        func = by_name.get(name)
        if func is None:
            continue
        slots = func.slots()
        positions = function_positions(obj, func)
        for index, slot in enumerate(slots):
            if slot - slots[0] in slots_wanted:
                text = position_text(positions[index])
                if text:
                    out[(name, slot - slots[0])] = text
    return {(s.twin, s.slot): out[(s.function, s.slot)] for s in result.sites if (s.function, s.slot) in out}
