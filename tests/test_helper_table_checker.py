"""tools/gen_helper_table.py: the checker of the hand-edited helper/kfunc table, and its docs.

The checker passes on the repository's data, and each kind of wrong entry, written into a temp
copy, is reported with exit 1. Kernel source citations are checked against Debian's
linux-source tarball (only the cited files are read from it, once per session).
"""
from __future__ import annotations

import glob
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from conftest import require_tool

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bpfrewrite" / "kernel"
DOCS = ROOT / "docs" / "helper-table.md"


def _load_checker():
    spec = importlib.util.spec_from_file_location("gen_helper_table", ROOT / "tools" / "gen_helper_table.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


gen = _load_checker()


@pytest.fixture(scope="session")
def kernel_src(tmp_path_factory) -> Path:
    """The kernel source files the data cites, read from the linux-source tarball into a tree."""
    tarballs = sorted(glob.glob(gen.KERNEL_SRC_GLOB))
    require_tool(tarballs[-1] if tarballs else gen.KERNEL_SRC_GLOB)
    raw = [e for f in gen.FILES.values() for e in json.loads((DATA / f).read_text())["entries"]]
    wanted = {m for e in raw for m in gen._FILE.findall(e["source"])}
    src = gen.KernelSource(Path(tarballs[-1]), wanted)
    tree = tmp_path_factory.mktemp("linux")
    for rel, text in src.files.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)
    assert len(src.files) >= 10, sorted(src.files)
    return tree


def _check(capsys, *args: str) -> tuple[int, list[str], str]:
    rc = gen.main(list(args))
    out, err = capsys.readouterr()
    return rc, out.splitlines(), err


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "kernel"
    data.mkdir()
    for f in gen.FILES.values():
        shutil.copy(DATA / f, data / f)
    docs = tmp_path / "helper-table.md"
    shutil.copy(DOCS, docs)
    return data, docs


def test_the_repository_data_passes(capsys, kernel_src):
    rc, out, err = _check(capsys, "--kernel-src", str(kernel_src))
    assert (rc, err) == (0, ""), out
    assert out[-1].startswith("0 mismatches; kernel source ")
    checked = int(out[-1].split(": ")[1].split(" citations checked")[0])
    assert checked > 150
    # A new entry cites its kernel proto or flags line (or, for a helper, the default rule).
    assert out[-1].endswith("1 entries cite no proto or BTF_ID_FLAGS line: bpf_unspec")


def _entry(raw: list[dict], name: str) -> dict:
    return next(e for e in raw if e["name"] == name)


def _set(who: str, **facts):
    return lambda raw: _entry(raw, who).update(facts)


def _drop(name: str):
    return lambda raw: raw.remove(_entry(raw, name))


@pytest.mark.parametrize("kind, mutate, expect", [
    ("helper", _set("bpf_map_lookup_elem", returns="int"),
     "helpers.json: bpf_map_lookup_elem: returns int, but the C prototype returns void *"),
    ("helper", _set("bpf_loop", callback_arg=1), "helpers.json: bpf_loop: callback_arg 1 is not"),
    ("helper", _set("bpf_ktime_get_ns", fast_path="stub", failure_value=-22),
     "helpers.json: bpf_ktime_get_ns: marked (default rule) but differs from it: fast_path"),
    ("helper", _set("bpf_map_delete_elem", failure_value=-22),
     "helpers.json: bpf_map_delete_elem: failure_value -22 is none of the errnos its reason names"),
    ("helper", _set("bpf_map_delete_elem", name="bpf_map_remove_elem"),
     "helpers.json: helper 3 is bpf_map_delete_elem in the headers, bpf_map_remove_elem here"),
    ("helper", _drop("bpf_get_prandom_u32"),
     "helpers.json: helper 7 (bpf_get_prandom_u32) has no entry; the default rule gives:"),
    ("helper", _set("bpf_map_update_elem", source="kernel/bpf/helpers.c bpf_map_update_elem_proto "
                    "(RET_PTR_TO_MAP_VALUE_OR_NULL)"),
     "helpers.json: bpf_map_update_elem: cites RET_PTR_TO_MAP_VALUE_OR_NULL, not in"),
    ("helper", _set("bpf_sk_release", source="kernel/bpf/helpers.c bpf_sk_release_proto"),
     "helpers.json: bpf_sk_release: bpf_sk_release_proto not defined in kernel/bpf/helpers.c"),
    ("kfunc", _set("bpf_task_release", source="kernel/bpf/helpers.c BTF_ID_FLAGS(func, "
                   "bpf_task_release, KF_ACQUIRE)"),
     "kfuncs.json: bpf_task_release: cites flags ['KF_ACQUIRE'], kernel/bpf/helpers.c has ['KF_RELEASE']"),
    ("kfunc", _set("bpf_throw", name="bpf_throw_away"),
     "kfuncs.json: bpf_throw_away: not in this kernel's BTF"),
    ("kfunc", _set("bpf_iter_num_next", returns="int"),
     "kfuncs.json: bpf_iter_num_next: returns int, kernel BTF says pointer"),
])
def test_a_wrong_entry_is_reported(capsys, kernel_src, tmp_path, kind, mutate, expect):
    data, docs = _copy(tmp_path)
    file = data / gen.FILES[kind]
    raw = json.loads(file.read_text())["entries"]
    mutate(raw)
    file.write_text(gen.dump(kind, raw))
    before = file.read_bytes()
    rc, out, err = _check(capsys, "--data-dir", str(data), "--docs", str(docs),
                          "--kernel-src", str(kernel_src))
    assert rc == 1 and err == ""
    assert any(line.startswith(expect) for line in out), out
    assert file.read_bytes() == before  # checking writes nothing


def test_layout_and_docs_drift_are_reported_and_repaired(capsys, kernel_src, tmp_path):
    data, docs = _copy(tmp_path)
    doc = json.loads((data / "kfuncs.json").read_text())
    doc["entries"].reverse()
    (data / "kfuncs.json").write_text(json.dumps(doc, indent=2))
    docs.write_text(docs.read_text().replace("| `bpf_throw` |", "| `bpf_throw_up` |"))
    args = ("--data-dir", str(data), "--docs", str(docs), "--kernel-src", str(kernel_src))
    rc, out, _ = _check(capsys, *args)
    assert rc == 1
    assert any(line.startswith("kfuncs.json: not in the canonical layout") for line in out), out
    assert any("generated table is stale" in line for line in out), out
    rc, out, _ = _check(capsys, *args, "--reformat", "--write-docs")
    assert rc == 0, out
    assert (data / "kfuncs.json").read_bytes() == (DATA / "kfuncs.json").read_bytes()
    assert docs.read_bytes() == DOCS.read_bytes()


def test_docs_are_up_to_date_with_the_data(capsys, kernel_src, tmp_path):
    """Regenerating the docs from the repository data changes nothing."""
    _, docs = _copy(tmp_path)
    rc, out, _ = _check(capsys, "--docs", str(docs), "--kernel-src", str(kernel_src), "--write-docs")
    assert rc == 0, out
    assert docs.read_bytes() == DOCS.read_bytes()


def test_docs_name_the_files_a_contributor_edits_first():
    text = DOCS.read_text()
    first = text[: text.index("\n## ")]
    assert "bpfrewrite/kernel/helpers.json" in first and "bpfrewrite/kernel/kfuncs.json" in first
    files = re.findall(r"`([\w/.-]+\.(?:json|py|md))`", text)
    assert files[:2] == ["bpfrewrite/kernel/helpers.json", "bpfrewrite/kernel/kfuncs.json"], files[:3]


def test_every_entry_cites_a_source():
    for file in gen.FILES.values():
        for e in json.loads((DATA / file).read_text())["entries"]:
            assert isinstance(e["source"], str) and e["source"].strip() and "\n" not in e["source"], e


def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path):
    rc, out, err = _check(capsys, "--data-dir", str(tmp_path))
    assert rc == 2 and out == []
    assert err.count("\n") == 1 and err.startswith("gen_helper_table: ") and "helpers.json" in err


def test_header_parser_reads_new_style_mapper_with_explicit_ids():
    text = ("#define ___BPF_FUNC_MAPPER(FN, ctx...)\t\\\n\tFN(unspec, 0, ##ctx)\t\\\n"
            "\tFN(map_lookup_elem, 1, ##ctx)\t\\\n\tFN(loop, 181, ##ctx)\t\\\n\t/* */\n")
    assert gen.parse_func_ids(text) == {0: "unspec", 1: "map_lookup_elem", 181: "loop"}
