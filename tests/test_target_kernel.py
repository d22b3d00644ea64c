"""--target-kernel: the versions table, the default target, and rules whose advice follows it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bpfrewrite.elf.reader import read_object
from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.kernel import versions
from bpfrewrite.kernel.table import helpers, kfuncs
from bpfrewrite.passes.analysis.calls import checked_locks
from bpfrewrite.config import LintConfig, load_pyproject
from bpfrewrite.lint.runner import lint_object

REPO = Path(__file__).resolve().parent.parent
VERSIONS = REPO / "bpfrewrite" / "kernel" / "versions.json"


def test_every_table_entry_has_a_dated_or_undated_record_with_a_source():
    doc = json.loads(VERSIONS.read_text())
    names = {e["name"] for e in doc["entries"]}
    assert names == {e.name for e in (*helpers(), *kfuncs())}
    assert all(e["source"].strip() for e in doc["entries"])
    dated = [e for e in doc["entries"] if e["since"] is not None]
    assert len(dated) > len(doc["entries"]) // 2
    assert all(versions.parse_version(e["since"]) for e in dated)
    # Helper ids grow with kernel versions: a helper's date is never older than a lower id's oldest.
    by_id = sorted((e.id, versions.since(e.name)) for e in helpers() if versions.since(e.name))
    assert by_id[0][1] <= by_id[-1][1]


def test_default_target_is_the_running_kernel_else_the_newest_known(monkeypatch):
    monkeypatch.setattr(versions.platform, "release", lambda: "6.18.0-1-amd64")
    assert versions.default_target() == (6, 18)
    monkeypatch.setattr(versions.platform, "release", lambda: "unknown")
    assert versions.default_target() == versions.newest_known()
    with pytest.raises(BpfrewriteError, match="kernel version"):
        versions.parse_version("six")


def test_target_kernel_config_key(tmp_path):
    conf = tmp_path / "pyproject.toml"
    conf.write_text('[tool.bpfrewrite]\ntarget-kernel = "6.12"\n')
    assert load_pyproject(conf).target == (6, 12)
    conf.write_text('[tool.bpfrewrite]\ntarget-kernel = "latest"\n')
    with pytest.raises(BpfrewriteError, match="target-kernel"):
        load_pyproject(conf)


def test_spin_lock_advice_follows_the_target():
    lock_since = min(versions.since(n) for n in checked_locks())
    before = (lock_since[0], lock_since[1] - 1)
    obj = read_object(REPO / "testdata" / "spin_lock.bpf.o")
    new = lint_object(obj, LintConfig(select=("spin-lock-not-terminable",), target_kernel=lock_since))
    old = lint_object(obj, LintConfig(select=("spin-lock-not-terminable",), target_kernel=before))
    assert checked_locks(lock_since) and not checked_locks(before)
    assert all(n in new[0].message for n in checked_locks(lock_since)[:2])
    assert not any(n in old[0].message for n in checked_locks())
    assert versions.text(lock_since) in old[0].help and versions.text(before) in old[0].help


def test_loop_advice_follows_the_target():
    obj = read_object(REPO / "testdata" / "lint" / "loop_parser_bounds.bpf.o")
    iter_since = versions.since("bpf_iter_num_new")
    old = lint_object(obj, LintConfig(select=("loop-without-exit",), target_kernel=(iter_since[0], iter_since[1] - 1)))
    new = lint_object(obj, LintConfig(select=("loop-without-exit",), target_kernel=iter_since))
    assert old and all("open-coded iterator" not in d.message and "callback" in d.message for d in old)
    assert new and all("open-coded iterator" in d.message for d in new)
