#!/usr/bin/env python3
"""Generate bpfrewrite/kernel/versions.json: the kernel version each helper and kfunc appeared in.

Inputs:
  helpers  bcc's docs/kernel-versions.md ("Helpers" table: `BPF_FUNC_name()` | version | | commit),
           a public, maintained list; pass its path with --bcc-doc and its commit with --bcc-commit.
  kfuncs   KFUNC_SINCE below, curated, each with its source.

Only names the knowledge table (helpers.json, kfuncs.json) has are written; an entry of the table
that neither input dates gets `since: null`. Output is deterministic; `--check` fails when the
checked-in file is stale (it needs the same bcc document).

Usage: python3 tools/gen_kernel_versions.py --bcc-doc PATH --bcc-commit SHA [--check]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bpfrewrite" / "kernel" / "versions.json"
SCHEMA = 1

# kfunc -> (since, source). Dates from the testdata headers' notes, each checked when written.
_KFUNCS_H = "testdata/include/kfuncs.h (prototypes checked against kernel 6.18 BTF)"
KFUNC_SINCE = {
    "bpf_res_spin_lock": ("6.15", f"{_KFUNCS_H}: resilient queued spin lock, kernel 6.15+"),
    "bpf_res_spin_unlock": ("6.15", f"{_KFUNCS_H}: resilient queued spin lock, kernel 6.15+"),
    "bpf_res_spin_lock_irqsave": ("6.15", "kernel/bpf/rqspinlock.c: added with bpf_res_spin_lock (6.15)"),
    "bpf_res_spin_unlock_irqrestore": ("6.15", "kernel/bpf/rqspinlock.c: added with bpf_res_spin_lock (6.15)"),
    "bpf_iter_num_new": ("6.4", f"{_KFUNCS_H}: open-coded numeric iterator, kernel 6.4+"),
    "bpf_iter_num_next": ("6.4", f"{_KFUNCS_H}: open-coded numeric iterator, kernel 6.4+"),
    "bpf_iter_num_destroy": ("6.4", f"{_KFUNCS_H}: open-coded numeric iterator, kernel 6.4+"),
    "bpf_obj_new_impl": ("6.2", f"{_KFUNCS_H}: local kptr allocation, kernel 6.2+"),
    "bpf_obj_drop_impl": ("6.2", f"{_KFUNCS_H}: local kptr allocation, kernel 6.2+"),
    "bpf_refcount_acquire_impl": ("6.4", f"{_KFUNCS_H}: refcount 6.4+"),
}

_ROW = re.compile(r"^`BPF_FUNC_(\w+)\(\)`\s*\|\s*([0-9]+\.[0-9]+)\s*\|[^|]*\|\s*\[`([0-9a-f]+)`\]")


def bcc_helpers(text: str) -> dict[str, tuple[str, str]]:
    """bpf_name -> (version, kernel commit) from the Helpers table of bcc's kernel-versions.md."""
    start = text.index("## Helpers")
    end = text.index("\n## ", start + 1)
    out = {}
    for line in text[start:end].splitlines():
        m = _ROW.match(line.strip())
        if m:
            out[f"bpf_{m[1]}"] = (m[2], m[3])
    return out


def build(doc: str, bcc_commit: str) -> dict:
    """The versions document."""
    names = []
    for file in ("helpers.json", "kfuncs.json"):
        names += [e["name"] for e in json.loads((ROOT / "bpfrewrite" / "kernel" / file).read_text())["entries"]]
    dated = bcc_helpers(doc)
    entries = []
    for name in sorted(names):
        if name in KFUNC_SINCE:
            since, source = KFUNC_SINCE[name]
        elif name in dated:
            since, commit = dated[name]
            source = f"bcc docs/kernel-versions.md@{bcc_commit[:12]}: linux commit {commit}"
        else:
            since, source = None, "not dated by bcc's list or the curated kfuncs"
        entries.append({"name": name, "since": since, "source": source})
    return {"schema": SCHEMA, "kind": "since", "generated_by": "tools/gen_kernel_versions.py",
            "inputs": [f"iovisor/bcc docs/kernel-versions.md@{bcc_commit}", "KFUNC_SINCE (curated)"],
            "entries": entries}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bcc-doc", type=Path, required=True)
    ap.add_argument("--bcc-commit", required=True)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = json.dumps(build(args.bcc_doc.read_text(), args.bcc_commit), indent=1) + "\n"
    if args.check:
        if OUT.read_text() != text:
            print(f"{OUT} is stale: run {sys.argv[0]} without --check", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
