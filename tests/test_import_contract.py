"""The import contract of pyproject.toml ([tool.importlinter]) holds, covers every module, and bites.

Layers, each importing only from those below: object model < passes < lint < rendering < application;
no import cycle between the modules of a package; the output families of bpfrewrite.render are
independent of each other. `lint-imports` (import-linter) checks all three.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

from conftest import require_tool

REPO = Path(__file__).resolve().parent.parent
ROOTS = ("bpfrewrite",)


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run lint-imports on the checkout at root (its own packages, not an installed copy)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(["lint-imports", "--no-cache"], cwd=root, env=env, capture_output=True, text=True)


def _layer_entries() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return [m.strip() for line in layers["layers"] for part in line.split("|") for m in part.split(":")]


def test_contract_is_kept():
    require_tool("lint-imports")
    proc = _lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 kept, 0 broken" in proc.stdout


def test_every_module_is_in_a_layer():
    """A module no layer names would escape the contract: each one is in a layer or is a package above one."""
    entries = _layer_entries()
    modules = set()
    for root in ROOTS:
        for path in (REPO / root).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            modules.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    unplaced = sorted(
        m for m in modules
        if not any(m == e or m.startswith(e + ".") for e in entries)  # in a layer
        and not any(e.startswith(m + ".") for e in entries)  # a package that holds layers
    )
    assert unplaced == []


def test_contract_catches_an_upward_import_a_cycle_and_a_family_using_another(tmp_path):
    require_tool("lint-imports")
    for name in (*ROOTS, "pyproject.toml"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, tmp_path / name)
    model = tmp_path / "bpfrewrite" / "model.py"
    model.write_text(model.read_text() + "\n\ndef _upward():\n    import bpfrewrite.passes.manager  # noqa: F401\n")
    types = tmp_path / "bpfrewrite" / "btf" / "types.py"  # maps.py imports types.py: the old cycle
    types.write_text(types.read_text() + "\n\ndef _cycle():\n    import bpfrewrite.btf.maps  # noqa: F401\n")
    cfg = tmp_path / "bpfrewrite" / "render" / "cfg.py"  # one output family borrowing from another
    cfg.write_text(cfg.read_text() + "\n\ndef _borrow():\n    import bpfrewrite.render.verify  # noqa: F401\n")
    proc = _lint_imports(tmp_path)
    assert proc.returncode != 0
    assert "bpfrewrite.model -> bpfrewrite.passes.manager" in proc.stdout
    assert "No cycles are allowed in bpfrewrite.btf" in proc.stdout
    assert "bpfrewrite.render.cfg -> bpfrewrite.render.verify" in proc.stdout
