"""Every compiled object in testdata/ except the deliberately broken `*_bad*` ones loads."""
from __future__ import annotations

from pathlib import Path

import pytest

from bpfrewrite.kernel.runner import verify_object

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"
OBJECTS = sorted(p for p in TESTDATA.glob("*.bpf.o") if "_bad" not in p.name)


@pytest.mark.parametrize("obj", OBJECTS, ids=[p.name for p in OBJECTS])
def test_testdata_object_loads(kernel, obj):
    results = verify_object(obj)
    assert results, f"{obj.name} has no programs"
    rejected = [f"{r.name}: {r.message} ({r.line})" for r in results if not r.accepted]
    assert not rejected, f"{obj.name}: rejected programs: {rejected}"
