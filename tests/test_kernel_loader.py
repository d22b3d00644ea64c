"""bpfrewrite.kernel: libbpf bindings and the loader, checked against the real verifier."""
from __future__ import annotations

import ctypes
import os
import random
import subprocess

import pytest
from conftest import BPF_HEADERS, LICENSE, c_object, require_tool, returning

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.kernel import libbpf
from bpfrewrite.kernel.runner import check_bpf_elf, verify_object

TESTDATA = __import__("pathlib").Path(__file__).resolve().parent.parent / "testdata"

HEADER = BPF_HEADERS
SKB = "struct __sk_buff *skb"

GOOD = c_object(returning("xdp", "ret3", "3"))

# `oob` reads past its 4-byte map value; `fine` sits beside it so we can see it is still reported.
MIXED = HEADER + """
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} vals SEC(".maps");

SEC("xdp")
int oob(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u32 *v = bpf_map_lookup_elem(&vals, &key);

	if (!v)
		return 0;
	return v[1]; /* BAD: past the value */
}

SEC("tc")
int fine(struct __sk_buff *skb)
{
	return 7;
}
""" + LICENSE

UNINIT = HEADER + """
SEC("xdp")
__attribute__((naked)) int uninit(void)
{
	asm volatile ("r0 = r2; exit;"); /* BAD: r2 never written */
}
""" + LICENSE

RUNNABLE = c_object(
    returning("xdp", "xdp_len", "ctx->data_end - ctx->data"),
    returning("tc", "tc_seven", "7", SKB),
    returning("socket", "sock_nine", "9", SKB),
    returning("raw_tp/sys_enter", "rawtp_five", "5", "void *ctx"),
    returning("kprobe/do_nanosleep", "kp", "0", "void *ctx"),
)

# A twin's shape without a .bpfrewrite record (as after libbpf's linker): P__fast in "?" + P's
# section. mimic__fast has the name but not the section: a program of the user's, not a twin.
TWINS = c_object(
    returning("xdp", "orig", "1"),
    returning("?xdp", "orig__fast", "1"),
    returning("?xdp", "lonely__fast", "1"),
    returning("xdp", "mimic", "1"),
    returning("xdp", "mimic__fast", "1"),
)

# libbpf fills jump_table's slot 0 with tail_target while loading, so the two must load together.
TAIL_CALL = HEADER + """
int tail_target(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__array(values, int (struct __sk_buff *));
} jump_table SEC(".maps") = {
	.values = { [0] = (void *)&tail_target },
};

SEC("tc")
int tail_entry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jump_table, 0);
	return 1;
}

SEC("tc")
int tail_target(struct __sk_buff *skb)
{
	return 42;
}
""" + LICENSE

FENTRY = c_object(returning("fentry/do_nanosleep", "on_nanosleep", "0", "void *ctx"))

MISSING_KFUNC = HEADER + """
extern void bpf_no_such_kfunc_here(void) __ksym;

SEC("xdp")
int calls_missing(struct xdp_md *ctx)
{
	bpf_no_such_kfunc_here();
	return 1;
}
""" + LICENSE


def line_of(source: str, marker: str) -> int:
    """1-based line number of the only line of `source` containing `marker`."""
    hits = [i + 1 for i, text in enumerate(source.splitlines()) if marker in text]
    assert len(hits) == 1, hits
    return hits[0]


def by_name(results):
    return {r.name: r for r in results}


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


# --- struct layouts, checked against the C headers by clang ---------------------------------------

def _static_asserts(struct: str, ctype: type[ctypes.Structure], skip: set[str]) -> list[str]:
    lines = [f"_Static_assert(sizeof(struct {struct}) == {ctypes.sizeof(ctype)}, \"size\");"]
    for field, *_ in ctype._fields_:
        if field in skip:
            continue
        offset = getattr(ctype, field).offset
        lines.append(
            f"_Static_assert(offsetof(struct {struct}, {field}) == {offset}, \"{field}\");"
        )
    return lines


def test_struct_layouts_match_headers(tmp_path):
    require_tool("clang-19")
    checks = _static_asserts("bpf_test_run_opts", libbpf.TestRunOpts, set())
    # gpl_compatible is a bitfield (no offsetof); the fields around it pin its place.
    checks += _static_asserts("bpf_prog_info", libbpf.ProgInfo, {"gpl_compatible", "_pad"})
    src = tmp_path / "layout.c"
    src.write_text(
        "#include <stddef.h>\n#include <bpf/bpf.h>\n#include <linux/bpf.h>\n" + "\n".join(checks)
    )
    proc = subprocess.run(
        ["clang-19", "-fsyntax-only", str(src)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


# --- input checks (no kernel needed) -------------------------------------------------------------

def _elf_header(ei_class=2, ei_data=1, e_type=1, e_machine=247) -> bytes:
    order = "little" if ei_data == 1 else "big"
    ident = b"\x7fELF" + bytes([ei_class, ei_data, 1]) + bytes(9)
    return ident + e_type.to_bytes(2, order) + e_machine.to_bytes(2, order) + bytes(44)


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "no such file"),
        (b"", "empty file"),
        (random.Random(0).randbytes(256), "not an ELF file"),
        (_elf_header(e_machine=62), "not a BPF object"),
        ((TESTDATA / "eb" / "loop.bpf.o").read_bytes(), r"big-endian \(bpfeb\) object; this little-endian machine cannot load"),
        (_elf_header(ei_class=1), "64-bit"),
        (_elf_header(e_type=2), "not a relocatable"),
    ],
    ids=["missing", "empty", "random", "x86", "big-endian", "elf32", "exec"],
)
def test_check_bpf_elf_rejects_bad_input(tmp_path, content, expected):
    path = tmp_path / "x.o"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BpfrewriteError, match=expected):
        check_bpf_elf(path)


def test_check_bpf_elf_rejects_directory(tmp_path):
    with pytest.raises(BpfrewriteError, match="is a directory"):
        check_bpf_elf(tmp_path)


def test_check_bpf_elf_reads_the_whole_object(tmp_path):
    path = tmp_path / "x.o"
    path.write_bytes(_elf_header())  # a valid BPF header with nothing behind it
    with pytest.raises(BpfrewriteError, match="no symbol table|malformed|truncated"):
        check_bpf_elf(path)
    check_bpf_elf(TESTDATA / "loop.bpf.o")


def test_missing_library_is_a_user_error(monkeypatch):
    def no_such_library(*args, **kwargs):
        raise OSError("cannot open shared object file")

    libbpf.library.cache_clear()
    monkeypatch.setattr(libbpf.ctypes, "CDLL", no_such_library)
    try:
        with pytest.raises(BpfrewriteError, match=r"libbpf\.so\.1 not found: apt-get install"):
            libbpf.library()
    finally:
        monkeypatch.undo()
        libbpf.library.cache_clear()
    assert libbpf.library() is not None


def test_repeat_must_be_positive(tmp_path):
    path = tmp_path / "x.o"
    path.write_bytes(_elf_header())
    with pytest.raises(BpfrewriteError, match="--repeat"):
        verify_object(path, run=True, repeat=0)


# --- loading through the kernel ------------------------------------------------------------------

def test_accepts_good_program(kernel, tmp_path, compile_bpf):
    [result] = verify_object(compile_bpf(tmp_path, GOOD, "good"))
    assert (result.name, result.section, result.accepted) == ("ret3", "xdp", True)
    # `return 3` is `r0 = 3; exit`: two straight-line instructions, each verified once.
    assert result.verified_insns == 2
    assert result.message is None and result.line is None and result.file is None and result.log_tail is None
    assert result.retval is None and result.duration_ns is None  # not run unless asked


def test_rejects_out_of_bounds_map_read_with_message_and_line(kernel, tmp_path, compile_bpf):
    results = by_name(verify_object(compile_bpf(tmp_path, MIXED, "mixed")))
    bad = results["oob"]
    assert not bad.accepted
    assert bad.verified_insns is None
    assert "invalid access to map value" in bad.message
    assert (bad.file, bad.line) == ("mixed.bpf.c", line_of(MIXED, "BAD:"))
    assert bad.where == f"mixed.bpf.c:{line_of(MIXED, 'BAD:')}"
    assert "invalid access to map value" in bad.log_tail
    # One rejected program must not hide the other one.
    assert results["fine"].accepted and results["fine"].verified_insns == 2


def test_rejects_uninitialised_register(kernel, tmp_path, compile_bpf):
    [result] = verify_object(compile_bpf(tmp_path, UNINIT, "uninit"))
    assert not result.accepted
    assert result.message == "R2 !read_ok"
    assert (result.file, result.line) == ("uninit.bpf.c", line_of(UNINIT, "BAD:"))


def test_prog_selects_one_program(kernel, tmp_path, compile_bpf):
    obj = compile_bpf(tmp_path, MIXED, "mixed")
    assert [r.name for r in verify_object(obj, prog="fine")] == ["fine"]
    with pytest.raises(BpfrewriteError, match="no program named 'nope'.*oob, fine"):
        verify_object(obj, prog="nope")


def test_test_run_returns_each_programs_value(kernel, tmp_path, compile_bpf):
    results = by_name(verify_object(compile_bpf(tmp_path, RUNNABLE, "runnable"), run=True))
    assert all(r.accepted for r in results.values())
    assert results["xdp_len"].retval == 64  # the default input is a 64-byte packet
    assert results["tc_seven"].retval == 7
    assert results["sock_nine"].retval == 9
    assert results["rawtp_five"].retval == 5
    for name in ("xdp_len", "tc_seven", "sock_nine"):
        assert results[name].duration_ns is not None and results[name].message is None
    # raw_tp test runs refuse repeat, so the kernel reports no duration for them.
    assert results["rawtp_five"].duration_ns is None
    assert results["kp"].retval is None
    assert results["kp"].message == "test run not supported for kprobe"


def test_test_run_passes_data_and_repeat(kernel, tmp_path, compile_bpf):
    obj = compile_bpf(tmp_path, RUNNABLE, "runnable")
    [result] = verify_object(obj, prog="xdp_len", run=True, data=bytes(range(100)), repeat=50)
    assert result.retval == 100
    with pytest.raises(BpfrewriteError, match="at least 14"):
        verify_object(obj, prog="xdp_len", run=True, data=bytes(13))


def test_twins_are_paired_with_their_original(kernel, tmp_path, compile_bpf):
    results = by_name(verify_object(compile_bpf(tmp_path, TWINS, "twins")))
    assert results["orig__fast"].twin_of == "orig"
    assert results["orig"].twin_of is None
    assert results["lonely__fast"].twin_of is None  # no `lonely` in the object
    assert results["mimic__fast"].twin_of is None  # a name is not enough: bpfrewrite.twins decides
    assert all(r.accepted for r in results.values())


def test_libbpf_failure_is_reported_per_program(kernel, tmp_path, compile_bpf):
    [result] = verify_object(compile_bpf(tmp_path, MISSING_KFUNC, "kfunc"))
    assert not result.accepted
    assert result.message.startswith("libbpf: ")
    assert "bpf_no_such_kfunc_here" in result.message


def test_libbpf_noise_stays_off_stderr_and_fds_are_closed(kernel, tmp_path, compile_bpf, capfd):
    obj = compile_bpf(tmp_path, MIXED, "mixed")
    capfd.readouterr()
    before = open_fds()
    verify_object(obj, run=True)
    verify_object(obj, run=True)
    assert open_fds() == before  # programs, maps and BTF all closed, even after a rejection
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_tail_call_entry_loads_with_its_target(kernel, tmp_path, compile_bpf):
    results = by_name(verify_object(compile_bpf(tmp_path, TAIL_CALL, "tail"), run=True))
    assert results["tail_entry"].accepted and results["tail_target"].accepted
    # The slot is filled while the object is open, so the tail call happens: 42, not 1.
    assert results["tail_entry"].retval == 42
    # --prog reports one program, but still loads the target the jump table needs.
    [entry] = verify_object(tmp_path / "tail.bpf.o", prog="tail_entry", run=True)
    assert (entry.name, entry.accepted, entry.retval) == ("tail_entry", True, 42)


def test_kernel_refusal_while_privileged_is_a_verdict_not_a_permission_error(
    kernel, tmp_path, compile_bpf
):
    # Some kernels refuse trampolines (fentry) with EPERM and an empty log even to root: that
    # must not be reported as missing privileges, which the `kernel` fixture showed we have.
    [result] = verify_object(compile_bpf(tmp_path, FENTRY, "fentry"))
    if not result.accepted:
        assert result.message.startswith("the kernel refused it before verification: ")
