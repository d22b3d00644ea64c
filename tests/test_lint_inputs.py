"""Input handling details: suffixes, the inline-asm scan of textual IR, clang's first error line."""
from __future__ import annotations

import pytest

from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.inputs import first_error, input_kind, ir_has_inline_asm


def test_input_kind():
    assert input_kind("a.bpf.o") == "object"
    assert input_kind("dir/a.bpf.c") == "c"
    assert input_kind("a.ll") == "ir" and input_kind("a.bc") == "ir"
    with pytest.raises(BpfrewriteError, match="unsupported input"):
        input_kind("a.s")


@pytest.mark.parametrize(
    "ir, has",
    [
        ('%r = call i64 asm sideeffect "r0 = 1", "={r0}"()', True),
        ('%r = call i64 asm "nop", ""()', True),
        ('call void asm alignstack inteldialect "x", ""()', True),
        ('module asm "whatever"', True),
        ('@s = constant [12 x i8] c"asm \\22boom\\22"', False),  # inside a string constant
        ('; call i64 asm sideeffect "x"', False),  # inside a comment
        ("%r = call i64 @plain(i64 1)", False),
    ],
)
def test_ir_inline_asm_scan(ir, has):
    assert ir_has_inline_asm(ir) is has


def test_first_error_prefers_the_error_line():
    stderr = "In file included from x.c:1:\nx.c:3:9: error: use of undeclared identifier 'y'\n 3 | y\n1 error generated.\n"
    assert first_error(stderr) == "x.c:3:9: error: use of undeclared identifier 'y'"
    assert first_error("weird\n") == "weird"
    assert first_error("") is None
