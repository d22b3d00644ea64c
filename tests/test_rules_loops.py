"""loop-without-exit and stubbed calls: a call counts as a way out only if its failure leaves the loop.

Expected positions come from the C source text (the line holding the anchor, the column where
the caret starts, a tab counting once), never from the linter's output.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import BPF_CFLAGS, require_tool

from bpfrewrite.elf.reader import read_object
from bpfrewrite.passes.analysis.fastpath_plan import FastPathPlan
from bpfrewrite.passes.manager import AnalysisManager
from bpfrewrite.config import LintConfig
from bpfrewrite.lint.runner import lint_object
from tests.test_rules import position, source_of

REPO = Path(__file__).resolve().parent.parent
LINT = REPO / "testdata" / "lint"
SLUG = "loop-without-exit"

SNIPPETS = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} table SEC(".maps");
__u64 out;

SEC("tc") int skip_on_null(void *ctx) {
	__u64 sum = 0;
	__u32 key = 3;
#pragma clang loop unroll(disable)
	for (int i = 0; i < 5000; i++) {
		__u64 *v = bpf_map_lookup_elem(&table, &key);
		if (v)
			sum += *v;
	}
	out = sum;
	return 0;
}

SEC("tc") int break_on_hit(void *ctx) {
	__u64 found = 0;
	__u32 key = 5; /* not the counter: a counter whose address escapes lives on the stack */
#pragma clang loop unroll(disable)
	for (__u32 k = 0; k < 3000; k++) {
		__u64 *v = bpf_map_lookup_elem(&table, &key);
		if (v) {
			found = *v;
			break;
		}
	}
	out = found;
	return 0;
}

SEC("tc") int return_on_null(void *ctx) {
	__u64 sum = 0;
#pragma clang loop unroll(disable)
	for (__u32 k = 0; k < 4000; k++) {
		__u64 *v = bpf_map_lookup_elem(&table, &k);
		if (!v)
			return 1;
		sum += *v;
	}
	out = sum;
	return 0;
}

SEC("tc") int nested_inner_break(void *ctx) {
	__u64 sum = 0;
#pragma clang loop unroll(disable)
	for (int j = 0; j < 700; j++) {
#pragma clang loop unroll(disable)
		for (__u32 k = 0; k < 64; k++) {
			__u64 *v = bpf_map_lookup_elem(&table, &k);
			if (!v)
				break;
			sum += *v ^ j;
		}
	}
	out = sum;
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture(scope="module", params=["-mcpu=v1", "-mcpu=v3"])
def snippets(request, tmp_path_factory):
    require_tool("clang-19")
    directory = tmp_path_factory.mktemp("loops")
    src = directory / "loops.bpf.c"
    src.write_text(SNIPPETS)
    subprocess.run(["clang-19", *BPF_CFLAGS, request.param, "-c", src.name, "-o", "loops.bpf.o"],
                   cwd=directory, check=True, capture_output=True)
    return read_object(directory / "loops.bpf.o"), src


def _lines_of(prog: str) -> set[int]:
    """Source lines of prog's function in SNIPPETS (from its SEC line to the closing brace)."""
    text = SNIPPETS.splitlines()
    start = next(n for n, t in enumerate(text, 1) if f" {prog}(" in t)
    end = next(n for n, t in enumerate(text[start:], start + 1) if t == "}")
    return set(range(start, end + 1))


def test_fixture_lookup_in_loop_triggers():
    """The twin stubs the lookup to NULL, the NULL branch stays in the loop: 5000 iterations remain."""
    obj = LINT / "loop_lookup_sum.bpf.o"
    line, column = position(source_of(obj), "for (i = 0; i < 5000; i++)", "for")
    diags = lint_object(read_object(obj), LintConfig(select=(SLUG,)))
    assert [(d.rule, d.line, d.column) for d in diags] == [(SLUG, line, column)]
    assert "up to 5000 times" in diags[0].message
    assert "bpf_map_lookup_elem" in diags[0].message  # names the stub that does not help


def test_fixture_lookup_is_stubbed_in_both_fixtures():
    """Both fixtures differ only in where the NULL branch goes: the plan stubs the lookup in each."""
    for name in ("loop_lookup_sum", "loop_lookup_break"):
        obj = read_object(LINT / f"{name}.bpf.o")
        plan = AnalysisManager(obj).get(FastPathPlan, obj.function(name))
        assert [(c.callee, c.action, c.value) for c in plan.calls] == [("bpf_map_lookup_elem", "stub", 0)]


def test_fixture_break_on_failed_lookup_is_quiet():
    assert lint_object(read_object(LINT / "loop_lookup_break.bpf.o"), LintConfig(select=(SLUG,))) == []


@pytest.mark.parametrize("prog, anchor, count", [
    ("skip_on_null", "for (int i = 0; i < 5000; i++)", 5000),
    # the NULL branch goes on looking: the stub makes the twin run every iteration
    ("break_on_hit", "for (__u32 k = 0; k < 3000; k++)", 3000),
    # the inner loop leaves on NULL, but the outer loop does not: only the outer one is reported
    ("nested_inner_break", "for (int j = 0; j < 700; j++)", 700),
])
def test_stub_whose_failure_stays_in_the_loop(snippets, prog, anchor, count):
    obj, src = snippets
    line, column = position(src, anchor, "for")
    diags = [d for d in lint_object(obj, LintConfig(select=(SLUG,))) if d.line in _lines_of(prog)]
    assert [(d.rule, d.line, d.column) for d in diags] == [(SLUG, line, column)]
    assert f"up to {count} times" in diags[0].message


def test_stub_whose_failure_returns_is_a_way_out(snippets):
    obj, _ = snippets
    diags = lint_object(obj, LintConfig(select=(SLUG,)))
    assert not [d for d in diags if d.line in _lines_of("return_on_null")]
    assert len(diags) == 3  # the three loops of test_stub_whose_failure_stays_in_the_loop
