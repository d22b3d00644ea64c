"""Fast-path twins: shape, untouched originals, libbpf's linker, llvm-objdump-19 and the kernel verifier."""
from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bpfrewrite.elf.reader import read_object
from bpfrewrite.patching import patch_object
from bpfrewrite.twins import REPORT_SECTION, TWIN_SUFFIX, twin_section_name

REPO = Path(__file__).resolve().parent.parent
# Objects named *_bad* are kept to show what the verifier refuses; the rest must patch and load.
OBJECTS = sorted(p for p in (REPO / "testdata").glob("*.bpf.o") if "_bad" not in p.name)


@pytest.fixture(scope="module")
def patched(tmp_path_factory) -> dict[str, Path]:
    out_dir = tmp_path_factory.mktemp("patched")
    out = {}
    for path in OBJECTS:
        dst = out_dir / path.name
        patch_object(path, dst)
        out[path.name] = dst
    return out


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_twin_has_the_shape_of_its_original_and_originals_are_untouched(path: Path, patched) -> None:
    before = read_object(path)
    after = read_object(patched[path.name])
    for orig in before.functions:
        kept = after.function(orig.name)
        assert [i.encode() for i in kept.insns] == [i.encode() for i in orig.insns], orig.name
        assert kept.symbol.value == orig.symbol.value and kept.symbol.size == orig.symbol.size
        refs_before = [(i.ref.kind, i.ref.name) if i.ref else None for i in orig.insns]
        refs_after = [(i.ref.kind, i.ref.name) if i.ref else None for i in kept.insns]
        assert refs_before == refs_after, orig.name
        lines_before = [(i.line.line, i.line.col) if i.line else None for i in orig.insns]
        assert lines_before == [(i.line.line, i.line.col) if i.line else None for i in kept.insns]
        relocs = [(i.ref.reloc.rtype, i.ref.reloc.symbol.name) if i.ref and i.ref.reloc else None for i in orig.insns]
        assert relocs == [(i.ref.reloc.rtype, i.ref.reloc.symbol.name) if i.ref and i.ref.reloc else None
                          for i in kept.insns], orig.name
        assert [(i.func, i.line, i.core) for i in orig.insns] == [(i.func, i.line, i.core) for i in kept.insns]
    if before.btf is not None:  # BTF only grows: every original type and string is where it was
        grown = after.btf.types[: len(before.btf.types)]
        for old, new in zip(before.btf.types, grown):
            if old.name.lstrip("?") in (".struct_ops", ".struct_ops.link"):  # gains twin maps' VARs
                assert new.datasec_vars[: len(old.datasec_vars)] == old.datasec_vars
                new = dataclasses.replace(new, vlen=old.vlen, datasec_vars=old.datasec_vars)
            assert new == old
        assert after.btf.strings.to_bytes().startswith(before.btf.strings.to_bytes())
    reached = {f.name for p in before.programs for f in p.reachable()}
    for name in reached:
        orig, twin = after.function(name), after.function(name + TWIN_SUFFIX)
        assert twin is not None, f"{name} has no twin"
        assert [i.width for i in twin.insns] == [i.width for i in orig.insns]
        # Program twins live in "?<section>" (libbpf: same type, autoload off); subprogram twins in .text.
        assert twin.section.name == (twin_section_name(orig.section.name) if orig.is_program else orig.section.name)
        assert twin.is_program == orig.is_program and twin.prog_type == orig.prog_type
        assert twin.symbol.bind == orig.symbol.bind
        for t in twin.insns:  # twins call and reference twins, never originals
            if t.ref is not None and t.ref.target is not None:
                assert t.ref.target.name.endswith(TWIN_SUFFIX)
        if orig.btf_func_id is not None:
            assert twin.btf_func_id is not None and after.btf.name(twin.btf_func_id) == twin.name
            assert twin.insns[0].line is not None, "libbpf needs line info at a function's first insn"
    assert after.section(REPORT_SECTION) is not None


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_patched_object_passes_libbpf_linker_and_objdump(path: Path, patched, tmp_path: Path) -> None:
    out = patched[path.name]
    proc = subprocess.run(["bpftool", "gen", "object", str(tmp_path / "l.o"), str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    dump = subprocess.run(["llvm-objdump-19", "-d", str(out)], capture_output=True, text=True)
    assert dump.returncode == 0 and "<unknown>" not in dump.stdout, dump.stderr
    for prog in read_object(path).programs:
        assert f"<{prog.name}{TWIN_SUFFIX}>:" in dump.stdout


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_kernel_verifier_loads_every_original_and_twin(path: Path, patched, kernel) -> None:
    from bpfrewrite.kernel.runner import verify_object

    results = verify_object(patched[path.name])
    names = {r.name for r in results}
    for prog in read_object(path).programs:
        assert prog.name in names and prog.name + TWIN_SUFFIX in names
    rejected = [(r.name, r.message, r.log_tail) for r in results if not r.accepted]
    assert not rejected


def test_patching_is_deterministic(tmp_path: Path) -> None:
    src = REPO / "testdata" / "loop.bpf.o"
    patch_object(src, tmp_path / "a.o")
    patch_object(src, tmp_path / "b.o")
    assert (tmp_path / "a.o").read_bytes() == (tmp_path / "b.o").read_bytes()


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bpfrewrite", *args], capture_output=True, text=True)


def test_cli_refuses_patched_input_and_never_touches_input(tmp_path: Path) -> None:
    src = tmp_path / "in.o"
    shutil.copy(REPO / "testdata" / "loop.bpf.o", src)
    original = src.read_bytes()
    assert _cli("patch", str(src), str(tmp_path / "out.o")).returncode == 0
    assert src.read_bytes() == original
    again = _cli("patch", str(tmp_path / "out.o"), str(tmp_path / "out2.o"))
    assert again.returncode == 2 and "already patched" in again.stderr
    assert not (tmp_path / "out2.o").exists()
    same = _cli("patch", str(src), str(src))
    assert same.returncode == 2 and src.read_bytes() == original
    bad = _cli("patch", "/bin/ls", str(tmp_path / "ls.o"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "ls.o").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.o", "out.o"]


def test_in_place_patch(tmp_path: Path) -> None:
    src = tmp_path / "in.o"
    shutil.copy(REPO / "testdata" / "loop.bpf.o", src)
    assert _cli("patch", "--in-place", str(src)).returncode == 0
    assert read_object(src).function("loop_prog" + TWIN_SUFFIX) is not None


# (original, twin) return values. Originals: measured with bpftool (testdata/README.md). Twins:
# the failure path each source's header comment names for the first call the twin stubs
# (a map lookup stubbed to NULL comes before the lock in res_spin_lock_*, for instance).
EXPECTED_RUNS = {
    "loop.bpf.o": {"loop_prog": (2, 1)},
    "iter_num_long.bpf.o": {"iter_num_long": (0x1100, 0x11EE)},
    "for_each_long.bpf.o": {"for_each_long": (0x2100, 0x21EE)},
    "may_goto_long.bpf.o": {"may_goto_long": (0x3100, 0x31EE), "may_goto_budget": (0x32EE, 0x32EE)},
    "callback_const_ret.bpf.o": {"callback_const_ret": (0x4100, 0x41EE)},
    "callback_computed_ret.bpf.o": {"callback_computed_ret": (0x4200, 0x42EE)},
    "res_spin_lock_checked.bpf.o": {"res_spin_lock_checked": (0x7100, 0x71FF)},
    "res_spin_lock_zext.bpf.o": {"res_spin_lock_zext": (0x7200, 0x72FF)},
    "res_spin_lock_spill.bpf.o": {"res_spin_lock_spill": (0x7300, 0x73FF)},
    "res_spin_lock_alu32.bpf.o": {"res_spin_lock_alu32": (0x7400, 0x74FF)},
    "tail_call.bpf.o": {"tail_entry": (0xB200, 0xB1EE), "tail_target": (0xB200, 0xB200)},
    "obj_new_checked.bpf.o": {"obj_new_checked": (0x8100, 0x81EE)},
    "ringbuf.bpf.o": {"ringbuf_event": (0x9100, 0x91EE)},
    "subprogs.bpf.o": {"subprogs_main": (0xC100, 0xC1EE)},
    "shared_callback.bpf.o": {"shared_callback": (0x6100, 0x61FF)},  # callback shared with a timer
    "global_func_tags.bpf.o": {"global_func_tags": (2, 2)},  # the twin's FUNC needs the decl tags
    "array_lookup_nonnull.bpf.o": {"array_lookup_nonnull": (0x1300, 0x1300)},  # lookup kept
    "two_progs_one_section.bpf.o": {"xdp_first": (0xD140, 0xD140), "xdp_second": (0xD200, 0xD2EE)},
    # may_goto loops with no constant in a register: the twin leaves by its back edges (issue 15).
    "may_goto_nested.bpf.o": {"may_goto_nested": (0x3300, 0x33EE), "may_goto_nested_inner": (0x3400, 0x34EE)},
    "may_goto_latches.bpf.o": {"may_goto_latches": (0x3500, 0x35EE)},
    "may_goto_subprog.bpf.o": {"may_goto_subprog": (0x3600, 0x36EE)},
    "may_goto_callback.bpf.o": {"may_goto_callback": (0x3700, 0x37EE)},
    "may_goto_iter.bpf.o": {"may_goto_iter": (0x3800, 0x38EF)},
}
# Programs that run long enough to time; their twins must be at least 1000x faster.
LONG_RUNNING = {"loop_prog", "iter_num_long", "for_each_long", "may_goto_long", "may_goto_budget", "may_goto_nested",
                "may_goto_nested_inner", "may_goto_latches", "may_goto_subprog", "may_goto_callback", "may_goto_iter"}


@pytest.mark.parametrize("name", sorted(EXPECTED_RUNS), ids=str)
def test_twins_take_the_early_exit_and_originals_still_run_normally(name: str, patched, kernel) -> None:
    from bpfrewrite.kernel.runner import verify_object

    # repeat: the twin's mean over several runs, so its first run's cold caches don't count.
    results = {r.name: r for r in verify_object(patched[name], run=True, repeat=10)}
    for prog, (normal, early) in EXPECTED_RUNS[name].items():
        orig, twin = results[prog], results[prog + TWIN_SUFFIX]
        assert orig.accepted and twin.accepted
        assert orig.retval == normal, f"{prog}: original returned {orig.retval:#x}"
        assert twin.retval == early, f"{prog}{TWIN_SUFFIX}: twin returned {twin.retval:#x}"
        assert twin.twin_of == prog
        if prog in LONG_RUNNING:
            assert orig.duration_ns >= 1000 * twin.duration_ns, (prog, orig.duration_ns, twin.duration_ns)


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_transforms_keep_their_preservation_claims(path: Path) -> None:
    """In debug mode the manager recomputes what each fast-path transform says it preserves."""
    from bpfrewrite.passes.manager import AnalysisManager
    from bpfrewrite.passes.transforms.fastpath import make_twins

    obj = read_object(path)
    am = AnalysisManager(obj, debug=True)
    result = make_twins(obj, am)
    assert len(result.pairs) >= len(obj.programs) // 2  # programs now include their twins
    assert am.timings["fastpath-stub-calls"] >= 0.0


def test_registry_lists_the_fast_path_transforms() -> None:
    from bpfrewrite.passes.manager import registry

    names = registry()
    for name in ("fastpath-stub-calls", "fastpath-may-goto", "fastpath-callback-stop"):
        assert name in names


@pytest.mark.parametrize("out", ["/nonexistent-dir/x.o", "/proc/x.o", "{tmp}"], ids=["no-dir", "read-only", "directory"])
def test_unwritable_output_is_one_line_exit_2(out: str, tmp_path: Path) -> None:
    proc = _cli("patch", str(REPO / "testdata" / "loop.bpf.o"), out.format(tmp=tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_lint_reports_a_patched_object_once_per_original(tmp_path: Path) -> None:
    from bpfrewrite.lint.runner import lint_object

    src = REPO / "testdata" / "loop.bpf.o"
    patch_object(src, tmp_path / "p.o")
    before = [(d.rule, d.line, d.column, d.function) for d in lint_object(read_object(src))]
    after = [(d.rule, d.line, d.column, d.function) for d in lint_object(read_object(tmp_path / "p.o"))]
    assert before and after == before


def test_output_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    import os

    out = tmp_path / "p.o"
    patch_object(REPO / "testdata" / "loop.bpf.o", out)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_untested_pointer_result_is_kept_not_stubbed(tmp_path: Path) -> None:
    """The verifier proves an array lookup with a constant key non-NULL; `r0 = 0` there is rejected."""
    result = patch_object(REPO / "testdata" / "array_lookup_nonnull.bpf.o", tmp_path / "a.o")
    (site,) = [s for s in result.sites if s.callee == "bpf_map_lookup_elem"]
    assert site.action == "keep" and "not tested for NULL" in site.reason
    tested = patch_object(REPO / "testdata" / "res_spin_lock_checked.bpf.o", tmp_path / "b.o")
    assert [s.action for s in tested.sites if s.callee == "bpf_map_lookup_elem"] == ["stub"]


LINT_OBJECTS = OBJECTS + sorted((REPO / "testdata" / "lint").glob("*.o"))


@pytest.mark.parametrize("path", LINT_OBJECTS, ids=lambda p: p.name)
def test_lint_and_patch_agree_on_callbacks_and_kept_calls(path: Path, tmp_path: Path) -> None:
    """callback-cannot-stop and fast-path-keeps-helper report exactly what patch does."""
    from bpfrewrite.passes.manager import AnalysisManager
    from bpfrewrite.lint.registry import RULES

    obj = read_object(path)
    slot_in_function = {}
    for f in obj.functions:
        slots = f.slots()
        for i, slot in enumerate(slots):
            slot_in_function[(f.name, slot)] = slot - slots[0]
    am = AnalysisManager(obj)  # the rules themselves: no suppression comments, no config
    diags = [d for slug in ("callback-cannot-stop", "fast-path-keeps-helper") for d in RULES[slug]().check(obj, am)]
    lint_blocked = {(d.function, slot_in_function[(d.function, d.insn)])
                    for d in diags if d.rule == "callback-cannot-stop"}
    lint_kept = {(d.function, slot_in_function[(d.function, d.insn)])
                 for d in diags if d.rule == "fast-path-keeps-helper"}
    result = patch_object(path, tmp_path / "p.o")
    patch_blocked = {(p.function, p.slot) for p in result.problems if p.message.startswith("callback of")}
    patch_kept = {(s.function, s.slot) for s in result.sites if s.action == "keep" and s.callee}
    assert lint_blocked == patch_blocked
    assert lint_kept == patch_kept
    undecided = {d.function for d in RULES["loop-without-exit"]().check(obj, am)
                 if "cannot make this loop's may_goto leave it" in d.message}
    assert undecided == {p.function for p in result.problems if p.message.startswith("may_goto kept")}


def test_indirect_calls_from_O0_are_refused_by_patch_and_lint(tmp_path: Path) -> None:
    """clang -O0 calls helpers through `callx`; the kernel loads no such program: say so, write nothing."""
    src = ("#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
           "static long cb(__u32 i, void *c) { return 0; }\n"
           'SEC("xdp") int p(struct xdp_md *ctx) { return bpf_loop(1 << 20, cb, 0, 0) ? 2 : 1; }\n'
           'char LICENSE[] SEC("license") = "GPL";\n')
    (tmp_path / "o0.bpf.c").write_text(src)
    lint = _cli("lint", "--cflags=-O0", str(tmp_path / "o0.bpf.c"))
    assert lint.returncode == 2 and "indirect call" in lint.stderr and "o0.bpf.c" in lint.stderr
    plain = _cli("lint", "--cflags=-DUNUSED=1", "--fail-on", "never", str(tmp_path / "o0.bpf.c"))
    assert plain.returncode == 0 and "long-running-helper" in plain.stdout  # extra flags keep -O2
    obj = tmp_path / "o0.o"
    subprocess.run(["clang-19", "-target", "bpf", "-O0", "-g", "-I/usr/include/x86_64-linux-gnu",
                    "-c", str(tmp_path / "o0.bpf.c"), "-o", str(obj)], check=True)
    patch = _cli("patch", str(obj), str(tmp_path / "out.o"))
    assert patch.returncode == 2 and "indirect call" in patch.stderr
    assert not (tmp_path / "out.o").exists()


def test_print_after_and_timings(tmp_path: Path) -> None:
    src = str(REPO / "testdata" / "may_goto_long.bpf.o")
    proc = _cli("patch", src, str(tmp_path / "o.o"), "--print-after", "fastpath-may-goto", "--timings")
    assert proc.returncode == 0, proc.stderr
    assert "; after fastpath-may-goto: may_goto_long__fast" in proc.stderr
    assert "if r0 == 0x31ee goto +0xa" in proc.stderr  # the rewritten may_goto, as printed after the pass
    assert " ms  fastpath-may-goto" in proc.stderr and " ms  dataflow" in proc.stderr
    bad = _cli("patch", src, str(tmp_path / "p.o"), "--print-after", "dataflow")
    assert bad.returncode == 2 and "not a transform" in bad.stderr and not (tmp_path / "p.o").exists()


def test_linked_patched_objects_keep_their_twins(tmp_path: Path, kernel) -> None:
    """libbpf's linker drops the .bpfrewrite string table; the twins are still found by their shape."""
    from bpfrewrite.kernel.runner import verify_object
    from bpfrewrite.twins import read_report, twin_names

    a, b = tmp_path / "a.o", tmp_path / "b.o"
    patch_object(REPO / "testdata" / "loop.bpf.o", a)
    patch_object(REPO / "testdata" / "plain_loop.bpf.o", b)
    linked = tmp_path / "linked.o"
    proc = subprocess.run(["bpftool", "gen", "object", str(linked), str(a), str(b)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    obj = read_object(linked)
    assert read_report(obj) is None  # what the linker does to a string table (linker.c is_ignored_sec)
    assert twin_names(obj) == {"loop_prog__fast", "plain_loop__fast", "mix_step__fast"}
    lint = _cli("lint", "--fail-on", "never", str(linked))
    assert lint.returncode == 0, lint.stderr
    assert all(r.accepted for r in verify_object(linked))
    again = _cli("patch", str(linked), str(tmp_path / "again.o"))
    assert again.returncode == 2 and "already patched" in again.stderr


def test_report_formats_match_the_written_section(tmp_path: Path) -> None:
    import json

    from bpfrewrite.twins import read_report

    out = tmp_path / "l.o"
    proc = _cli("patch", str(REPO / "testdata" / "loop.bpf.o"), str(out), "--report", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    sources = [site.pop("source") for site in shown["sites"]]  # the CLI adds positions; the section has none
    assert shown == read_report(read_object(out))
    assert all(s and s.startswith("testdata/src/loop.bpf.c:") for s in sources)
    text = _cli("patch", str(REPO / "testdata" / "loop.bpf.o"), str(tmp_path / "m.o"), "--report")
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["FUNCTION", "SLOT", "SOURCE", "ACTION", "CALLEE", "VALUE", "REASON"]
    assert any(line.startswith("mix_step__fast") and " return " in line for line in lines)
    assert lines[-1] == "2 twins, 2 sites, 0 problems"


def test_strict_writes_nothing_when_a_twin_has_problems(tmp_path: Path) -> None:
    bad = _cli("patch", "--strict", str(REPO / "testdata" / "shared_callback.bpf.o"), str(tmp_path / "s.o"))
    assert bad.returncode == 1 and "also the callback of bpf_timer_set_callback" in bad.stderr
    assert not (tmp_path / "s.o").exists()
    good = _cli("patch", "--strict", str(REPO / "testdata" / "loop.bpf.o"), str(tmp_path / "l.o"))
    assert good.returncode == 0 and (tmp_path / "l.o").exists()


def test_outputs_that_are_not_regular_files_are_refused_and_links_followed(tmp_path: Path) -> None:
    import os

    src = str(REPO / "testdata" / "loop.bpf.o")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    refused = _cli("patch", src, str(fifo))
    assert refused.returncode == 2 and "not a regular file" in refused.stderr and fifo.is_fifo()
    real = tmp_path / "real.o"
    real.write_bytes(b"old")
    real.chmod(0o600)
    link = tmp_path / "link.o"
    link.symlink_to(real)
    assert _cli("patch", src, str(link)).returncode == 0
    assert link.is_symlink() and real.read_bytes()[:4] == b"\x7fELF"
    assert real.stat().st_mode & 0o777 == 0o600  # an existing file keeps its mode


def test_patch_program_twins_only_the_named_programs(tmp_path: Path) -> None:
    """--program (repeatable) and [tool.bpfrewrite] twin-programs: the rest stay untouched and twin-less."""
    src = REPO / "testdata" / "two_progs_one_section.bpf.o"
    out = tmp_path / "one.o"
    proc = _cli("patch", str(src), str(out), "--program", "xdp_second")
    assert proc.returncode == 0, proc.stderr
    obj = read_object(out)
    before = read_object(src)
    assert obj.function("xdp_first__fast") is None and obj.function("xdp_second__fast") is not None
    # Every function xdp_second reaches (its shared subprogram, its callback) has a twin; nothing else does.
    reached = {f.name for f in before.function("xdp_second").reachable()}
    assert {f.name.removesuffix(TWIN_SUFFIX) for f in obj.functions if f.name.endswith(TWIN_SUFFIX)} == reached
    assert [i.encode() for i in obj.function("xdp_first").insns] == [i.encode() for i in before.function("xdp_first").insns]

    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.bpfrewrite]\ntwin-programs = ["xdp_first"]\n')
    (project / "in.o").write_bytes(src.read_bytes())
    proc = _cli("patch", str(project / "in.o"), str(project / "out.o"))
    assert proc.returncode == 0, proc.stderr
    names = {f.name for f in read_object(project / "out.o").functions}
    assert "xdp_first__fast" in names and "xdp_second__fast" not in names
    proc = _cli("patch", str(project / "in.o"), str(project / "both.o"), "--program", "xdp_first", "--program", "xdp_second")
    names = {f.name for f in read_object(project / "both.o").functions}
    assert proc.returncode == 0 and {"xdp_first__fast", "xdp_second__fast"} <= names  # the command line wins

    bad = _cli("patch", str(src), str(tmp_path / "bad.o"), "--program", "nope")
    assert bad.returncode == 2 and "no program named 'nope' (programs: xdp_first, xdp_second)" in bad.stderr
    assert not (tmp_path / "bad.o").exists()
    (project / "pyproject.toml").write_text('[tool.bpfrewrite]\ntwin-programs = "xdp_first"\n')
    bad = _cli("patch", str(project / "in.o"), str(project / "bad.o"))
    assert bad.returncode == 2 and "twin-programs must be a list of program names" in bad.stderr
