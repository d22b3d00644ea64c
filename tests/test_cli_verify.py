"""`bpfrewrite verify`: exit codes, text and JSON output, one-line errors for bad input."""
from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys

import pytest
from conftest import BPF_HEADERS, LICENSE, c_object, require_tool, returning

from bpfrewrite import cli
from bpfrewrite.render.layout import format_ns
from bpfrewrite.render.verify import speed_ratio
from bpfrewrite.kernel.runner import ProgResult

HEADER = BPF_HEADERS

GOOD = c_object(
    returning("xdp", "slow", "2"),
    returning("kprobe/do_nanosleep", "probe", "0", "void *ctx"),
    returning("?xdp", "slow__fast", "1"),  # a twin's shape: P__fast in "?" + P's section (bpfrewrite.twins)
)

BAD = HEADER + """
SEC("xdp")
__attribute__((naked)) int uninit(void)
{
	asm volatile ("r0 = r2; exit;"); /* BAD */
}

SEC("tc")
int ok(struct __sk_buff *skb)
{
	return 0;
}
""" + LICENSE

REQUIRED_KEYS = {"name", "section", "accepted", "verified_insns"}
OPTIONAL_KEYS = {"message", "file", "line", "retval", "retval_name", "duration_ns", "twin_of", "total_states", "peak_states",
                 "max_states_per_insn", "verification_us"}
STATS_KEYS = {"total_states", "peak_states", "max_states_per_insn", "verification_us"}


def run_cli(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    """Run cli.main() in-process; return (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["bpfrewrite", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def run_subprocess(*args: str) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, "-c", "from bpfrewrite.cli import main; main()", *map(str, args)],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def good_obj(tmp_path, compile_bpf):
    return compile_bpf(tmp_path, GOOD, "good")


@pytest.fixture
def bad_obj(tmp_path, compile_bpf):
    return compile_bpf(tmp_path, BAD, "bad")


def test_all_accepted_exits_0_and_shows_twin_after_original(kernel, good_obj, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "verify", good_obj, "--run", "--repeat", "20")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["PROGRAM", "SECTION", "VERDICT", "INSNS", "STATES", "PEAK", "VERIFY", "RETVAL",
                                "TIME/RUN"]
    names = [line.split()[0] for line in lines[1:4]]
    # The twin is listed right under its original, even though the object has `probe` between them.
    assert names == ["slow", "slow__fast", "probe"]
    # `return 2`: two instructions, no branch so no state stored; the verification time, then the return value.
    # The verification time's unit follows the machine's load (us alone, ms on a busy machine).
    assert lines[1].split()[:6] == ["slow", "xdp", "ACCEPTED", "2", "0", "0"]
    assert lines[1].split()[7] in ("us", "ms") and lines[1].split()[8] == "2"
    assert lines[2].split()[:6] == ["slow__fast", "xdp", "ACCEPTED", "2", "0", "0"] and lines[2].split()[8] == "1"
    assert "(twin of slow, " in lines[2] and ("x faster" in lines[2] or "x slower" in lines[2])
    assert "test run not supported for kprobe" in out
    assert lines[-2] == "3 programs: 3 accepted, 0 rejected"
    assert re.fullmatch(r"twin adds 2 processed insns \(100% of their originals'\), 0 states \(-\), "
                        r"\d+ us of verification \((\d+%|-)\)", lines[-1]), lines[-1]


def test_rejected_exits_1_with_message_and_line(kernel, bad_obj, capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "verify", bad_obj)
    assert code == 1 and err == ""
    bad_line = next(i + 1 for i, line in enumerate(BAD.splitlines()) if "/* BAD */" in line)
    assert "REJECTED" in out.splitlines()[1]
    assert "error: R2 !read_ok" in out
    assert f"at bad.bpf.c:{bad_line}" in out
    assert "verifier log (tail):" in out
    assert out.splitlines()[-1] == "2 programs: 1 accepted, 1 rejected"


def test_json_shape(kernel, good_obj, bad_obj, capsys, monkeypatch):
    code, out, _ = run_cli(capsys, monkeypatch, "verify", good_obj, "--run", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["version", "programs", "twin_cost"] and doc["version"] == 2
    assert doc["twin_cost"]["twins"] == 1 and doc["twin_cost"]["insns"] == doc["twin_cost"]["original_insns"] == 2
    progs = {p["name"]: p for p in doc["programs"]}
    assert set(progs) == {"slow", "slow__fast", "probe"}
    for p in progs.values():
        assert REQUIRED_KEYS <= set(p) <= REQUIRED_KEYS | OPTIONAL_KEYS
        assert all(p[k] is not None for k in OPTIONAL_KEYS & set(p))  # absent, never null
    assert progs["slow"]["retval"] == 2 and isinstance(progs["slow"]["duration_ns"], int)
    assert progs["slow__fast"]["twin_of"] == "slow"
    assert "twin_of" not in progs["slow"]
    assert progs["probe"]["message"] == "test run not supported for kprobe"
    assert "retval" not in progs["probe"] and "line" not in progs["probe"] and "file" not in progs["probe"]

    code, out, _ = run_cli(capsys, monkeypatch, "verify", bad_obj, "--format", "json")
    assert code == 1
    progs = {p["name"]: p for p in json.loads(out)["programs"]}
    assert progs["uninit"]["accepted"] is False
    assert progs["uninit"]["verified_insns"] is None
    assert progs["uninit"]["message"] == "R2 !read_ok"
    # As lint's JSON has them: the file, and the line as an integer.
    bad_line = next(i + 1 for i, line in enumerate(BAD.splitlines()) if "/* BAD */" in line)
    assert (progs["uninit"]["file"], progs["uninit"]["line"]) == ("bad.bpf.c", bad_line)
    stats = {k: progs["ok"].pop(k) for k in STATS_KEYS}
    assert progs["ok"] == {"name": "ok", "section": "tc", "accepted": True, "verified_insns": 2}
    assert stats["total_states"] == stats["peak_states"] == stats["max_states_per_insn"] == 0  # no branch, no state
    assert isinstance(stats["verification_us"], int)
    # A rejected program has no bpf_prog_info, but the verifier still printed its statistics.
    assert progs["uninit"]["total_states"] >= 0 and isinstance(progs["uninit"]["verification_us"], int)


def _random_bytes(tmp_path):
    path = tmp_path / "random.o"
    path.write_bytes(random.Random(1).randbytes(4096))
    return path


def _x86_object(tmp_path):
    src = tmp_path / "host.c"
    src.write_text("int f(void) { return 0; }\n")
    subprocess.run(["clang-19", "-c", str(src), "-o", str(tmp_path / "host.o")], check=True)
    return tmp_path / "host.o"


def _elf_magic_only(tmp_path):
    path = tmp_path / "short.o"
    path.write_bytes(b"\x7fELF")
    return path


@pytest.mark.parametrize(
    "make_path, expected",
    [
        (lambda tmp: tmp / "missing.o", "no such file"),
        (lambda tmp: tmp, "is a directory"),
        (lambda tmp: "/bin/ls", "not a BPF object"),
        (_random_bytes, "not an ELF file"),
        (_elf_magic_only, "truncated ELF header"),
        (_x86_object, "not a BPF object"),
    ],
    ids=["missing", "directory", "bin-ls", "random-bytes", "elf-magic-only", "x86-object"],
)
def test_bad_input_is_one_line_exit_2(tmp_path, make_path, expected):
    if make_path is _x86_object:
        require_tool("clang-19")
    proc = run_subprocess("verify", make_path(tmp_path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("bpfrewrite: error: ")
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--prog", "nope"], "no program named 'nope'"),
        (["--format", "xml"], "unknown --format 'xml'"),
        (["--run", "--data", "/nonexistent/packet"], "cannot read --data file"),
        (["--repeat", "3"], "only make sense with --run"),
        (["--run", "--repeat", "0"], "--repeat must be at least 1"),
    ],
    ids=["unknown-prog", "bad-format", "missing-data", "repeat-without-run", "repeat-zero"],
)
def test_bad_options_are_one_line_exit_2(kernel, good_obj, capsys, monkeypatch, extra, expected):
    code, out, err = run_cli(capsys, monkeypatch, "verify", good_obj, *extra)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and expected in err


def test_without_privileges_is_one_line_exit_2(kernel, good_obj):
    require_tool("capsh")
    capsh = shutil.which("capsh")
    code = "from bpfrewrite.cli import main; main()"
    # Drop the capabilities bpf() checks (CAP_BPF, CAP_SYS_ADMIN, ...) from this root process.
    proc = subprocess.run(
        [capsh, "--drop=cap_bpf,cap_sys_admin,cap_perfmon,cap_net_admin", "--",
         "-c", f'exec "{sys.executable}" -c "{code}" verify "{good_obj}"'],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == (
        "bpfrewrite: error: loading BPF programs needs root or CAP_BPF+CAP_PERFMON\n"
    )


def test_format_ns():
    assert [format_ns(n) for n in (None, 52, 999, 1000, 10_400_000, 2 * 10**9)] == [
        "-", "52 ns", "999 ns", "1.0 us", "10.4 ms", "2.0 s",
    ]  # fmt: skip


def test_speed_ratio():
    def timed(ns):
        return ProgResult(name="p", section="xdp", accepted=True, duration_ns=ns)

    assert speed_ratio(timed(10_400_000), timed(52)) == "200000.0x faster"
    assert speed_ratio(timed(100), timed(200)) == "2.0x slower"
    assert speed_ratio(timed(None), timed(52)) is None


def test_csv_and_compare(kernel, good_obj, tmp_path, capsys, monkeypatch):
    """--format csv has a row per program with the verifier's figures; --compare sets two CSVs side by side."""
    import csv
    import io

    code, out, err = run_cli(capsys, monkeypatch, "verify", good_obj, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["program"] for r in rows] == ["slow", "slow__fast", "probe"]
    slow = rows[0]
    assert (slow["file"], slow["section"], slow["verdict"], slow["verified_insns"], slow["total_states"],
            slow["peak_states"], slow["twin_of"], slow["retval"]) == ("good.bpf.o", "xdp", "ACCEPTED", "2", "0", "0", "", "")
    assert slow["verification_us"].isdigit() and rows[1]["twin_of"] == "slow"
    a = tmp_path / "a.csv"
    a.write_text(out)
    b = tmp_path / "b.csv"  # as if a later build processed more: 2 -> 5 insns for slow, probe gone
    b.write_text(out.replace("slow,xdp,,ACCEPTED,2,", "slow,xdp,,ACCEPTED,5,").replace(rows[2]["file"] + ",probe,", "x.o,gone,"))
    code, out, err = run_cli(capsys, monkeypatch, "verify", "--compare", a, b)
    assert code == 0, err
    table = [line.split() for line in out.splitlines()]
    assert table[0][:5] == ["PROGRAM", "VERDICT", "(A)", "VERDICT", "(B)"]
    assert table[1][:8] == ["slow", "ACCEPTED", "ACCEPTED", "2", "5", "+3", "(+150.00%)", "0"]
    assert table[3][:3] == ["probe", "ACCEPTED", "-"] and table[4][:3] == ["gone", "-", "ACCEPTED"]

    bad = tmp_path / "bad.csv"
    bad.write_text("name,insns\nx,1\n")
    proc = run_subprocess("verify", "--compare", a, bad)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"bpfrewrite: error: {bad}: not a CSV from verify --format csv (no column program, verdict, verified_insns, total_states, peak_states, verification_us)"
    proc = run_subprocess("verify", good_obj, "--compare", a, b)
    assert proc.returncode == 2 and "--compare takes two CSV files and no object" in proc.stderr
    proc = run_subprocess("verify")
    assert proc.returncode == 2 and "give a BPF object to verify" in proc.stderr
