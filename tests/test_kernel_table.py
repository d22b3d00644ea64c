"""The helper/kfunc table: complete, self-consistent, and in agreement with the kernel here.

Oracles: uapi linux/bpf.h (read with a regex of its own, not the generator's parser), the running
kernel's BTF (`enum bpf_func_id`, bpf_kfunc-tagged FUNCs and their prototypes), Python's errno
module, and the verifier facts measured in /work/shared/notes/kernel-facts.md.
"""
from __future__ import annotations

import errno
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.isa.instruction import Instruction
from bpfrewrite.kernel import table
from bpfrewrite.kernel.table import Returns, Role
from bpfrewrite.model import Reference, RefKind, Relocation

ROOT = Path(__file__).resolve().parent.parent
BPF_H = Path("/usr/include/linux/bpf.h")
DEFS_H = Path("/usr/include/bpf/bpf_helper_defs.h")
VMLINUX = Path("/sys/kernel/btf/vmlinux")

HELPERS = list(table.helpers())
KFUNCS = list(table.kfuncs())
ALL = HELPERS + KFUNCS


def _uapi_ids() -> dict[int, str]:
    """Helper ids from linux/bpf.h: FN(name) in order, or FN(name, id, ...) in newer headers."""
    text = BPF_H.read_text()
    body = text[text.index("BPF_FUNC_MAPPER(FN") :]
    body = body[: body.index("/* */")]
    ids = {}
    for i, m in enumerate(re.finditer(r"\bFN\((\w+)(?:,\s*(\d+))?", body)):
        ids[int(m[2]) if m[2] else i] = m[1]
    return ids


@pytest.fixture(scope="module")
def btf() -> dict[int, dict]:
    """The running kernel's BTF, by type id (skips where bpftool or vmlinux BTF is missing)."""
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    require_tool(bpftool, str(VMLINUX))
    out = subprocess.run([bpftool, "-j", "btf", "dump", "file", str(VMLINUX)],
                         check=True, capture_output=True, text=True).stdout
    return {t["id"]: t for t in json.loads(out)["types"]}


def _kfunc_protos(btf: dict[int, dict]) -> dict[str, dict]:
    """bpf_kfunc-tagged FUNC name -> its FUNC_PROTO."""
    tagged = {t["type_id"] for t in btf.values()
              if t["kind"] == "DECL_TAG" and t["name"] == "bpf_kfunc"}
    return {btf[i]["name"]: btf[btf[i]["type_id"]] for i in tagged}


def _strip(btf: dict[int, dict], type_id: int) -> dict | None:
    """Follow typedef/const/volatile/restrict/type_tag to the type that matters (None = void)."""
    while type_id:
        t = btf[type_id]
        if t["kind"] not in ("TYPEDEF", "CONST", "VOLATILE", "RESTRICT", "TYPE_TAG"):
            return t
        type_id = t["type_id"]
    return None


# ---- completeness --------------------------------------------------------------------------

def test_every_uapi_helper_id_is_in_the_table_with_its_name():
    ids = _uapi_ids()
    assert len(ids) > 200 and ids[1] == "map_lookup_elem"
    for ident, name in ids.items():
        entry = table.helper(ident)
        assert entry is not None, f"helper {ident} ({name}) missing"
        assert entry.name == f"bpf_{name}" and entry.kind == "helper"


def test_helper_ids_and_names_match_the_running_kernel(btf):
    enum = next(t for t in btf.values() if t["kind"] == "ENUM" and t["name"] == "bpf_func_id")
    kernel = {v["val"]: v["name"].removeprefix("BPF_FUNC_") for v in enum["values"]
              if v["name"] != "__BPF_FUNC_MAX_ID"}
    for ident, name in kernel.items():
        entry = table.helper(ident)
        # The kernel may be newer than the headers; whatever the table has must agree.
        if entry is not None:
            assert entry.name == f"bpf_{name}"
    assert {e.id for e in HELPERS} <= set(kernel), "table has ids this kernel does not know"


def test_ids_and_names_are_unique():
    ids = [e.id for e in HELPERS]
    names = [e.name for e in ALL]
    assert len(ids) == len(set(ids)) and len(names) == len(set(names))
    assert all(e.id is None and e.kind == "kfunc" for e in KFUNCS)


# ---- invariants that keep the fast path verifiable ----------------------------------------

def test_every_stub_has_a_failure_value_that_fits_an_imm32():
    for e in ALL:
        if e.fast_path == "stub":
            assert e.failure_value is not None, e.name
            assert -(2**31) <= e.failure_value < 2**31, e.name


def test_non_null_pointers_are_kept():
    nonnull = [e for e in ALL if e.returns is Returns.PTR_NONNULL]
    assert {"bpf_get_current_task_btf", "bpf_this_cpu_ptr", "bpf_cpumask_acquire"} <= {
        e.name for e in nonnull}
    assert all(e.fast_path == "keep" for e in nonnull)


def test_releases_unlocks_and_iterator_setup_are_kept():
    must_keep = {Role.RELEASE, Role.UNLOCK, Role.ITER_NEW, Role.ITER_DESTROY}
    for e in ALL:
        if e.roles & must_keep:
            assert e.fast_path == "keep", e.name


def test_pointer_stubs_write_null_and_void_stubs_are_only_the_tail_call():
    for e in ALL:
        if e.stubbed and e.returns is Returns.PTR_OR_NULL:
            assert e.failure_value == 0, e.name
        if e.stubbed and e.returns is Returns.VOID:
            assert e.name == "bpf_tail_call"


def test_every_iterator_family_is_complete():
    news = {e.name.removesuffix("_new") for e in KFUNCS if Role.ITER_NEW in e.roles}
    assert "bpf_iter_num" in news
    for fam in news:
        nxt, destroy = table.kfunc(f"{fam}_next"), table.kfunc(f"{fam}_destroy")
        assert nxt is not None and Role.ITER_NEXT in nxt.roles and nxt.stubbed
        assert nxt.returns is Returns.PTR_OR_NULL and nxt.failure_value == 0
        assert destroy is not None and Role.ITER_DESTROY in destroy.roles


def test_reasons_and_sources_are_single_lines():
    for e in ALL:
        assert "\n" not in e.reason and e.reason.endswith("."), e.name
        assert "\n" not in e.source and e.source.strip(), e.name


# ---- spot checks against kernel-facts.md and the kernel source ----------------------------

def test_spot_checks_against_measured_kernel_facts():
    lookup = table.helper(1)
    assert lookup.name == "bpf_map_lookup_elem" and lookup.stubbed and lookup.failure_value == 0
    task_btf = table.helper_by_name("get_current_task_btf")
    assert task_btf.fast_path == "keep" and task_btf.returns is Returns.PTR_NONNULL
    lock = table.kfunc("bpf_res_spin_lock")
    assert lock.stubbed and lock.failure_value == -110 == -errno.ETIMEDOUT
    assert Role.LOCK in lock.roles
    loop = table.helper_by_name("bpf_loop")
    # Kept, its callback forced to return 1: a stub failed at JIT for a call in a global
    # function (docs/fast-path.md; tests/test_fastpath.py loads subprogs.bpf.o's twin).
    assert loop.callback_arg == 2 and loop.fast_path == "keep"
    assert {Role.ITERATE, Role.LONG_RUNNING} <= loop.roles
    reserve = table.helper_by_name("ringbuf_reserve")
    submit = table.helper_by_name("ringbuf_submit")
    assert reserve.stubbed and reserve.failure_value == 0 and Role.ACQUIRE in reserve.roles
    assert submit.fast_path == "keep" and Role.RELEASE in submit.roles
    spin = table.helper(93)
    assert spin.name == "bpf_spin_lock" and spin.returns is Returns.VOID and not spin.stubbed


def test_callback_helpers():
    expect = {"for_each_map_elem": 2, "user_ringbuf_drain": 2, "find_vma": 3,
              "timer_set_callback": 2, "loop": 2}
    for name, arg in expect.items():
        assert table.helper_by_name(name).callback_arg == arg, name
    assert Role.CALLBACK_ONCE in table.helper_by_name("find_vma").roles
    assert Role.ITERATE not in table.helper_by_name("timer_set_callback").roles
    assert Role.TAIL_CALL in table.helper_by_name("tail_call").roles


def test_callback_args_point_at_the_callback_parameter_in_the_c_prototype():
    defs = DEFS_H.read_text()
    for e in HELPERS:
        if e.callback_arg is None:
            continue
        m = re.search(rf"\(\*{e.name}\)\((.*?)\) = \(void \*\) {e.id};", defs)
        assert m, e.name
        params = [p.strip() for p in m[1].split(",")]
        assert params[e.callback_arg - 1].endswith("callback_fn"), (e.name, params)


def test_helper_returns_agree_with_c_prototypes():
    defs = DEFS_H.read_text()
    for m in re.finditer(r"static (.+?)\(\*bpf_(\w+)\)\(.*?\) = \(void \*\) (\d+);", defs):
        entry = table.helper(int(m[3]))
        assert entry is not None and entry.name == f"bpf_{m[2]}"
        ret = m[1].strip()
        if ret.endswith("*"):
            assert entry.returns in (Returns.PTR_OR_NULL, Returns.PTR_NONNULL), entry.name
        elif ret == "void":
            assert entry.returns is Returns.VOID, entry.name
        else:
            # Some are `long` in C but not integers to the verifier (bpf_tail_call and
            # bpf_spin_lock are RET_VOID, bpf_task_pt_regs RET_PTR_TO_BTF_ID): the source must
            # then cite the kernel's ret_type.
            assert entry.returns is Returns.INT or re.search(r"\bRET_(VOID|PTR)", entry.source), \
                entry.name


def test_errno_failure_values_match_the_errno_they_name():
    named = 0
    for e in ALL:
        m = re.search(r"\(-(E[A-Z0-9]+) used\)", e.reason)
        if m:
            named += 1
            assert e.failure_value == -getattr(errno, m[1]), e.name
    assert named > 20
    assert table.helper_by_name("map_delete_elem").failure_value == -errno.ENOENT
    assert table.helper_by_name("ringbuf_output").failure_value == -errno.EAGAIN


def test_every_kfunc_is_a_kfunc_of_this_kernel_with_the_stated_return(btf):
    protos = _kfunc_protos(btf)
    for e in KFUNCS:
        assert e.name in protos, f"{e.name} is not a bpf_kfunc in /sys/kernel/btf/vmlinux"
        ret = _strip(btf, protos[e.name]["ret_type_id"])
        if ret is None:
            assert e.returns is Returns.VOID, e.name
        elif ret["kind"] == "PTR":
            assert e.returns in (Returns.PTR_OR_NULL, Returns.PTR_NONNULL), e.name
        else:
            assert ret["kind"] in ("INT", "ENUM") and e.returns is Returns.INT, e.name
        if e.callback_arg is not None:
            param = protos[e.name]["params"][e.callback_arg - 1]
            target = _strip(btf, param["type_id"])
            assert target["kind"] == "PTR"
            assert _strip(btf, target["type_id"])["kind"] == "FUNC_PROTO", e.name


def test_every_iterator_family_in_the_kernel_is_in_the_table(btf):
    kernel = {n.removesuffix("_new") for n in _kfunc_protos(btf)
              if n.startswith("bpf_iter_") and n.endswith("_new")}
    ours = {e.name.removesuffix("_new") for e in KFUNCS if Role.ITER_NEW in e.roles}
    assert kernel == ours


# ---- loader --------------------------------------------------------------------------------

def _helpers_doc() -> dict:
    return json.loads((ROOT / "bpfrewrite" / "kernel" / "helpers.json").read_text())


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["entries"][1].update(colour="red"), "unknown keys"),
    (lambda d: d["entries"][1].update(roles=["teleport"]), "teleport"),
    (lambda d: d["entries"][1].update(failure_value=None), "needs a failure_value"),
    (lambda d: d["entries"][2].update(id=1), "duplicate helper ids"),
    (lambda d: d["entries"][1].update(returns="maybe"), "maybe"),
    (lambda d: d.update(schema=99), "schema"),
    (lambda d: d["entries"][1].update(failure_value=2**40), "32-bit"),
])
def test_loader_rejects_bad_tables(mutate, message):
    doc = _helpers_doc()
    mutate(doc)
    with pytest.raises(BpfrewriteError, match=message):
        table.parse_table("helpers.json", "helper", json.dumps(doc))


def test_loader_accepts_the_checked_in_tables():
    entries = table.parse_table("helpers.json", "helper", json.dumps(_helpers_doc()))
    assert [e.id for e in entries] == sorted(e.id for e in entries)


# ---- lookups by instruction ----------------------------------------------------------------

def test_table_for_helper_kfunc_and_other_instructions():
    assert table.table_for(Instruction.call_helper(181)).name == "bpf_loop"
    assert table.table_for(Instruction.call_helper(99999)) is None
    kcall = Instruction(0x85, 0, 2, 0, -1)
    assert table.table_for(kcall, "bpf_iter_num_next").name == "bpf_iter_num_next"
    kcall.ref = Reference(RefKind.KFUNC, "bpf_obj_new_impl", Relocation(10, None))
    assert table.table_for(kcall).name == "bpf_obj_new_impl"
    assert table.table_for(Instruction(0x85, 0, 1, 0, 5)) is None  # bpf-to-bpf call
    assert table.table_for(Instruction.mov64_imm(0, 1)) is None
    assert table.table_for(Instruction.exit()) is None


def test_calls_taking_a_callback_are_kept():
    """A stubbed call leaves its callback unvisited; the verifier then fails at JIT when another
    subprogram is live (testdata/find_vma_subprog, timer_callback_global load only if kept)."""
    taking = [e for e in (*table.helpers(), *table.kfuncs()) if e.callback_arg is not None]
    assert {"bpf_loop", "bpf_find_vma", "bpf_timer_set_callback"} <= {e.name for e in taking}
    assert [e.name for e in taking if e.fast_path != "keep"] == []


def test_only_waiting_locks_spin():
    spins = {e.name for e in (*table.helpers(), *table.kfuncs()) if Role.SPINS in e.roles}
    assert spins == {"bpf_spin_lock", "bpf_res_spin_lock", "bpf_res_spin_lock_irqsave"}
    assert Role.LOCK in table.kfunc("bpf_rcu_read_lock").roles  # a section, but it never waits
