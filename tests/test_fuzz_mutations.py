"""Fuzzing with structured mutations (tests/elf_mutations.py): duplicated section headers, symbol
fields, string table bytes, .llvm_addrsig bytes and .BTF.ext record ids.

1. Every command's library path raises only BpfrewriteError, and a patched object always reads
   back (no "internal error").
2. The promise of issue 9: when the mutated input loads (libbpf + the kernel verifier), the
   patched output loads too. Kernel loads are few (this machine has 2 cores): each runs in a
   child process (`bpfrewrite verify`), so a libbpf crash on a mutant cannot take pytest down.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from elf_mutations import KINDS, mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpfrewrite.elf.reader import parse_object
from bpfrewrite.elf.writer import serialize
from bpfrewrite.errors import BpfrewriteError

REPO = Path(__file__).resolve().parent.parent
BASES = [REPO / "testdata" / f"{n}.bpf.o" for n in
         ("loop", "tail_call", "subprogs", "global_data", "global_func_tags", "for_each_long", "core_kprobe")]
VALUES = st.one_of(st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xFF, 0xFFFF, 0xFFFFFFFF]), st.integers(0, (1 << 32) - 1))
MUTATIONS = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 1 << 16), VALUES), min_size=1, max_size=3)


def _mutant(which: int, mutations) -> bytes:
    data = BASES[which % len(BASES)].read_bytes()
    for kind, pick, value in mutations:
        data = mutate(data, kind, pick, value)
    return data


def test_each_mutation_kind_changes_every_base_object() -> None:
    """The mutations apply (else the properties below would test unchanged objects)."""
    for base in BASES:
        data = base.read_bytes()
        changed = {kind for kind in KINDS if mutate(data, kind, 3, 0x41) != data}
        assert changed == set(KINDS), (base.name, set(KINDS) - changed)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(BASES) - 1), mutations=MUTATIONS)
def test_structured_mutants_raise_only_user_errors_and_patch_reads_back(which, mutations) -> None:
    from bpfrewrite.lint.runner import lint_object
    from bpfrewrite.passes.transforms.fastpath import make_twins

    data = _mutant(which, mutations)
    try:
        lint_object(parse_object(data, "mutant.o"))
        obj = parse_object(data, "mutant.o")
        make_twins(obj)
        out = serialize(obj)
    except BpfrewriteError:
        return
    parse_object(out, "patched.o")  # a BpfrewriteError here is the patch command's "internal error"


def _loads(path: Path) -> bool:
    proc = subprocess.run([sys.executable, "-m", "bpfrewrite", "verify", str(path)], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode == 0


@pytest.mark.usefixtures("kernel")
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, len(BASES) - 2), mutations=MUTATIONS)  # not core_kprobe: kprobes need a live symbol
def test_patched_mutant_loads_whenever_the_mutant_loads(tmp_path, which, mutations) -> None:
    src, out = tmp_path / "mutant.o", tmp_path / "mutant.out.o"
    src.write_bytes(_mutant(which, mutations))
    out.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-m", "bpfrewrite", "patch", str(src), str(out)], capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    if proc.returncode != 0:
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        return
    if _loads(src):
        assert _loads(out), f"the mutant loads, its patched output does not: {mutations}"
