"""Each lint rule on C fixtures that must and must not trigger it (slug, line and column).

Expected positions are computed from the C sources, not copied from the linter's output: the
line is where `anchor` occurs in the source, the column (1-based, a tab counts once, as clang
counts) is where `caret` starts within that line.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from bpfrewrite.elf.reader import read_object
from bpfrewrite.config import LintConfig
from bpfrewrite.lint.registry import RULES, make_rule
from bpfrewrite.lint.runner import lint_object

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"
LINT = TESTDATA / "lint"


def source_of(obj: Path) -> Path:
    """The C source an object under testdata/ (or testdata/lint/) was built from."""
    return obj.parent / "src" / (obj.name[: -len(".o")] + ".c")


def position(src: Path, anchor: str, caret: str | None = None) -> tuple[int, int]:
    """(line, column) of caret (default: anchor) on the only source line holding anchor."""
    lines = src.read_text().splitlines()
    code = lambda text: not text.lstrip().startswith(("*", "/*", "//"))  # noqa: E731 (skip comments)
    hits = [n for n, text in enumerate(lines, 1) if anchor in text and code(text)]
    assert len(hits) == 1, f"{anchor!r} occurs on lines {hits} of {src}"
    text = lines[hits[0] - 1]
    return hits[0], text.index(caret or anchor, text.index(anchor)) + 1


def run(obj: Path, slug: str):
    return lint_object(read_object(obj), LintConfig(select=(slug,)))


# (rule, object, anchor text on the reported line, caret text, words the message must contain)
TRIGGERS = [
    ("spin-lock-not-terminable", TESTDATA / "spin_lock.bpf.o", "bpf_spin_lock(&c->lock)", None, ["bpf_spin_lock"]),
    ("unchecked-lock-result", TESTDATA / "res_spin_lock_bad_unchecked.bpf.o", "bpf_res_spin_lock(&c->lock)", None,
     ["bpf_res_spin_lock", "not tested"]),
    ("unchecked-acquire-result", TESTDATA / "obj_new_bad_unchecked.bpf.o", "n = bpf_obj_new(", "bpf_obj_new",
     ["bpf_obj_new_impl"]),
    ("unchecked-acquire-result", LINT / "ringbuf_unchecked.bpf.o", "e = bpf_ringbuf_reserve(", "bpf_ringbuf_reserve",
     ["bpf_ringbuf_reserve"]),
    ("long-running-helper", LINT / "loop_const_bound.bpf.o", "bpf_loop(100, count_step", "bpf_loop",
     ["bpf_loop", "count_step", "up to 100 times"]),
    ("long-running-helper", TESTDATA / "for_each_long.bpf.o", "n = bpf_for_each_map_elem(", "bpf_for_each_map_elem",
     ["visit_elem", "big_array", "131072"]),
    ("long-running-helper", TESTDATA / "loop.bpf.o", "done = bpf_loop(", "bpf_loop", ["mix_step", "set at run time"]),
    ("non-terminable-helper", LINT / "copy_from_user.bpf.o", "ret = bpf_copy_from_user(", "bpf_copy_from_user",
     ["bpf_copy_from_user"]),
    ("unchecked-lock-result", TESTDATA / "res_spin_lock_bad_unchecked.bpf.o", "c->count++;", "++",
     ["bpf_res_spin_lock", "accessed before"]),
    ("unchecked-lock-result", LINT / "res_lock_unlocked_access.bpf.o", "h->slots[idx]++;\t/* written", "++",
     ["bpf_res_spin_lock", "accessed before"]),
    ("loop-without-exit", LINT / "loop_parser_bounds.bpf.o", "for (i = 0; i < *n && i < 4000; i++)", "for",
     ["up to 4000 times", "instructions"]),
    ("loop-without-exit", LINT / "loop_parser_bounds.bpf.o", "for (i = *n & 15; i > 0; i--)", "for",
     ["unknown number of times"]),
    ("callback-cannot-stop", LINT / "callback_leaks_r0.bpf.o", "long v = (*slot >> 3) & 1;", "& 1",
     ["store_and_return", "bpf_loop"]),
    ("fast-path-keeps-helper", TESTDATA / "ringbuf.bpf.o", "bpf_ringbuf_submit(e, 0)", None, ["bpf_ringbuf_submit"]),
    ("fast-path-keeps-helper", TESTDATA / "ringbuf.bpf.o", "bpf_ringbuf_discard(e, 0)", None, ["bpf_ringbuf_discard"]),
    ("twin-fails-closed", LINT / "xdp_fails_closed.bpf.o", "if (!cfg)", "!cfg",
     ["fail_closed", "0 (XDP_ABORTED)", "2 (XDP_PASS)", "fails closed"]),
    ("stubbed-value-stored", LINT / "failure_value_stored.bpf.o", "last_update_err = bpf_map_update_elem(", "=",
     ["bpf_map_update_elem", "-7", "global data (last_update_err)"]),
    ("stubbed-value-stored", LINT / "failure_value_stored.bpf.o", "e->stackid = bpf_get_stackid(", "=",
     ["bpf_get_stackid", "-22", "bpf_ringbuf_reserve"]),
    ("invalid-suppression", LINT / "suppress_typo.bpf.o", "// bpfrewrite: ignore[spin-lock-not-terminabel]",
     "bpfrewrite:", ["spin-lock-not-terminabel"]),
    ("unused-suppression", LINT / "suppressed.bpf.o", "bpf_spin_unlock(&c->lock); // bpfrewrite: ignore[loop-without-exit]",
     "bpfrewrite:", ["loop-without-exit"]),
    ("unused-suppression", LINT / "suppressed.bpf.o", "// bpfrewrite: ignore[fast-path-keeps-helper, loop-without-exit]",
     "bpfrewrite:", ["loop-without-exit"]),
]

# (rule, object): the rule must report nothing.
QUIET = [
    ("spin-lock-not-terminable", TESTDATA / "res_spin_lock_checked.bpf.o"),
    ("spin-lock-not-terminable", LINT / "suppressed.bpf.o"),
    ("unchecked-lock-result", TESTDATA / "res_spin_lock_checked.bpf.o"),
    ("unchecked-lock-result", TESTDATA / "res_spin_lock_zext.bpf.o"),
    ("unchecked-lock-result", TESTDATA / "res_spin_lock_spill.bpf.o"),
    ("unchecked-lock-result", TESTDATA / "res_spin_lock_alu32.bpf.o"),
    ("unchecked-lock-result", TESTDATA / "spin_lock.bpf.o"),  # void lock: the other rule's business
    ("unchecked-acquire-result", TESTDATA / "obj_new_checked.bpf.o"),
    ("unchecked-acquire-result", TESTDATA / "ringbuf.bpf.o"),
    ("unchecked-acquire-result", TESTDATA / "sk_lookup.bpf.o"),
    ("long-running-helper", TESTDATA / "plain_loop.bpf.o"),
    ("long-running-helper", TESTDATA / "may_goto_long.bpf.o"),
    ("non-terminable-helper", TESTDATA / "loop.bpf.o"),  # iterating: long-running-helper reports it
    ("non-terminable-helper", TESTDATA / "ringbuf.bpf.o"),
    ("loop-without-exit", LINT / "loop_lookup_break.bpf.o"),
    ("loop-without-exit", TESTDATA / "may_goto_long.bpf.o"),
    ("loop-without-exit", TESTDATA / "iter_num_long.bpf.o"),
    ("loop-without-exit", TESTDATA / "loop.bpf.o"),
    ("callback-cannot-stop", TESTDATA / "callback_const_ret.bpf.o"),
    ("callback-cannot-stop", TESTDATA / "callback_computed_ret.bpf.o"),  # `r0 = 1` / `r0 = 0` only feed exit
    ("callback-cannot-stop", TESTDATA / "loop.bpf.o"),
    ("callback-cannot-stop", LINT / "callback_ret1_reused.bpf.o"),  # `r0 = 1` also stored: already 1
    ("loop-without-exit", TESTDATA / "plain_loop.bpf.o"),  # 100 x 9 instructions: under the threshold
    ("fast-path-keeps-helper", LINT / "loop_lookup_break.bpf.o"),  # the lookup is stubbed
    ("twin-fails-closed", TESTDATA / "loop.bpf.o"),  # bpf_loop's result is unknown: the twin may pass
    ("twin-fails-closed", TESTDATA / "global_func_tags.bpf.o"),  # nothing stubbed: same verdict
    ("invalid-suppression", LINT / "suppressed.bpf.o"),
    ("stubbed-value-stored", TESTDATA / "ringbuf.bpf.o"),
    ("stubbed-value-stored", TESTDATA / "loop.bpf.o"),
    ("unused-suppression", LINT / "suppress_typo.bpf.o"),  # the typo is invalid-suppression's; the other is used
]


@pytest.mark.parametrize("slug, obj, anchor, caret, words", TRIGGERS, ids=lambda v: getattr(v, "name", None))
def test_rule_triggers(slug, obj, anchor, caret, words):
    line, column = position(source_of(obj), anchor, caret)
    diags = run(obj, slug)
    at = [d for d in diags if (d.line, d.column) == (line, column)]
    assert at, f"no {slug} at {line}:{column}; got {[(d.line, d.column, d.message) for d in diags]}"
    (d,) = at
    assert d.rule == slug
    assert d.severity == RULES[slug].severity
    assert d.file == str(source_of(obj).relative_to(REPO)) or d.file.endswith(source_of(obj).name)
    for word in words:
        assert word in d.message


@pytest.mark.parametrize("slug, obj", QUIET, ids=lambda v: getattr(v, "name", None))
def test_rule_stays_quiet(slug, obj):
    assert run(obj, slug) == []


def test_trigger_counts_are_exact():
    """Each triggering fixture reports exactly the expected findings for its rule, nothing more."""
    expected: dict[tuple[str, Path], int] = {}
    for slug, obj, *_ in TRIGGERS:
        expected[(slug, obj)] = expected.get((slug, obj), 0) + 1
    for (slug, obj), count in expected.items():
        assert len(run(obj, slug)) == count, (slug, obj.name)


def test_every_rule_has_fixtures_both_ways():
    triggered = {t[0] for t in TRIGGERS}
    quiet = {q[0] for q in QUIET}
    assert triggered == set(RULES) and quiet == set(RULES)


def test_suppression_on_real_object():
    """clang stores the whole source line in BTF line info, so trailing comments are visible."""
    obj = LINT / "suppressed.bpf.o"
    src = source_of(obj)
    diags = lint_object(read_object(obj))
    got = {(d.rule, d.line) for d in diags}
    slug_line, _ = position(src, "bpf_spin_lock(&c->lock); // bpfrewrite: ignore[spin-lock-not-terminable]")
    other_line, _ = position(src, "ignore[loop-without-exit]\n".strip())
    bare_line, _ = position(src, "bpf_spin_lock(&c->lock); /* bpfrewrite: ignore */")
    both_line, _ = position(src, "ignore[fast-path-keeps-helper, loop-without-exit]")
    # Suppressed by slug: only that rule goes; the info about the same call stays.
    assert ("spin-lock-not-terminable", slug_line) not in got
    assert ("fast-path-keeps-helper", slug_line) in got
    # A comment naming another rule suppresses nothing here.
    assert ("fast-path-keeps-helper", other_line) in got
    # A bare ignore silences every rule on its line; a list silences each rule it names.
    assert not any(line == bare_line for _, line in got)
    assert not any(line == both_line for _, line in got)
    # The rules themselves do report those lines; the runner drops them (the fixture is not vacuous).
    from bpfrewrite.passes.manager import AnalysisManager

    model = read_object(obj)
    raw = {(d.rule, d.line) for slug in RULES for d in make_rule(slug).check(model, AnalysisManager(model))}
    assert {("spin-lock-not-terminable", slug_line), ("spin-lock-not-terminable", bare_line),
            ("fast-path-keeps-helper", bare_line), ("fast-path-keeps-helper", both_line)} <= raw


def test_fast_path_keeps_helper_quotes_the_table():
    from bpfrewrite.kernel.table import helper_by_name

    diags = run(TESTDATA / "ringbuf.bpf.o", "fast-path-keeps-helper")
    entry = helper_by_name("bpf_ringbuf_submit")
    assert entry is not None and entry.fast_path == "keep"
    from bpfrewrite.passes.rules.fast_path_keeps_helper import short_reason

    assert any(short_reason(entry.reason) in d.message for d in diags)
    assert short_reason(entry.reason) and short_reason(entry.reason).lower() in entry.reason.lower()


def test_fast_path_keeps_helper_messages_are_one_sentence_without_measurement_notes():
    for obj in (TESTDATA / "loop.bpf.o", TESTDATA / "find_vma.bpf.o", TESTDATA / "ringbuf.bpf.o"):
        for d in run(obj, "fast-path-keeps-helper"):
            assert "Kept:" not in d.message and "measured" not in d.message, d.message
            assert ". " not in d.message, d.message


def test_a_typo_in_a_suppression_silences_nothing_and_is_reported():
    obj = LINT / "suppress_typo.bpf.o"
    line, _ = position(source_of(obj), "ignore[spin-lock-not-terminabel]")
    got = {(d.rule, d.line) for d in lint_object(read_object(obj))}
    assert {("spin-lock-not-terminable", line), ("invalid-suppression", line)} <= got
    unlock, _ = position(source_of(obj), "ignore[fast-path-keeps-helper]")
    assert not any(l == unlock for _, l in got)  # the correctly spelt comment still works


def test_unused_suppression_is_off_by_default_and_keeps_other_findings():
    obj = LINT / "suppressed.bpf.o"
    default = lint_object(read_object(obj))
    assert not any(d.rule == "unused-suppression" for d in default)
    both = lint_object(read_object(obj), LintConfig(extend_select=("unused-suppression",)))
    assert {d for d in both if d.rule != "unused-suppression"} == set(default)
    assert sum(d.rule == "unused-suppression" for d in both) == 2


def test_a_bare_ignore_that_silences_nothing_is_reported(tmp_path, compile_bpf):
    src = (
        '#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\n__u64 out;\n'
        'SEC("tc") int bare(struct __sk_buff *skb)\n{\n\tout = skb->len; /* bpfrewrite: ignore */\n\treturn 0;\n}\n'
        'char LICENSE[] SEC("license") = "GPL";\n'
    )
    obj = compile_bpf(tmp_path, src, "bare")
    (d,) = lint_object(read_object(obj), LintConfig(extend_select=("unused-suppression",)))
    assert (d.rule, d.line, d.column) == ("unused-suppression", 6, src.splitlines()[5].index("bpfrewrite:") + 1)
    assert "every rule" in d.message
