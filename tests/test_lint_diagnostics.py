"""Diagnostics: ordering, suppression comments, and each renderer's format (checked by hand-made records)."""
from __future__ import annotations

import io
import json

import pytest

from bpfrewrite.render.diagnostics import github, json_format, sarif, text
from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity, display_path, sort_diagnostics
from bpfrewrite.diagnostics.suppression import ALL, drop_suppressed, ignored_rules, is_suppressed


def diag(rule="r-one", sev=Severity.WARNING, file="a.bpf.c", line=3, column=5, source="\tx = call(y);", **kw):
    return Diagnostic(
        rule=rule, severity=sev, message=kw.pop("message", "bad thing"), object="a.bpf.o", section="tc",
        function="prog", insn=kw.pop("insn", 7), file=file, line=line, column=column, source=source, **kw,
    )


def test_sort_is_by_file_line_column_rule():
    ds = [
        diag(file="b.c", line=1),
        diag(file="a.c", line=9, column=1),
        diag(file="a.c", line=2, column=8, rule="z"),
        diag(file="a.c", line=2, column=8, rule="a"),
        diag(file="a.c", line=2, column=3),
    ]
    got = [(d.file, d.line, d.column, d.rule) for d in sort_diagnostics(ds)]
    assert got == [("a.c", 2, 3, "r-one"), ("a.c", 2, 8, "a"), ("a.c", 2, 8, "z"), ("a.c", 9, 1, "r-one"), ("b.c", 1, 5, "r-one")]


def test_sort_drops_exact_duplicates():
    assert len(sort_diagnostics([diag(), diag()])) == 1


def test_severity_order_and_parse():
    assert Severity.ERROR > Severity.WARNING > Severity.INFO
    assert Severity.parse("Warning") is Severity.WARNING
    from bpfrewrite.errors import BpfrewriteError

    with pytest.raises(BpfrewriteError, match="unknown severity"):
        Severity.parse("fatal")


def test_display_path_strips_dot_slash():
    assert display_path("./testdata/src/x.c") == "testdata/src/x.c"
    assert display_path("/nonexistent/elsewhere/x.c") == "/nonexistent/elsewhere/x.c"


@pytest.mark.parametrize(
    "line, expected",
    [
        ("\tbpf_spin_lock(&l); // bpfrewrite: ignore[spin-lock-not-terminable]", {"spin-lock-not-terminable"}),
        ("x; /* bpfrewrite: ignore[a, b] */", {"a", "b"}),
        ("x; // bpfrewrite:ignore[a,b]", {"a", "b"}),
        ("x; // bpfrewrite: ignore", ALL),
        ("x; // bpfrewrite ignore[a]", set()),  # no colon: not a suppression
        ("x; // ignore[a]", set()),
        (None, set()),
    ],
)
def test_ignored_rules(line, expected):
    assert ignored_rules(line) == frozenset(expected)


def test_suppression_matches_only_named_rule():
    line = "\tcall(); // bpfrewrite: ignore[r-one]"
    assert is_suppressed(diag(rule="r-one", source=line))
    assert not is_suppressed(diag(rule="r-two", source=line))
    assert is_suppressed(diag(rule="r-two", source="call(); // bpfrewrite: ignore"))
    assert drop_suppressed([diag(rule="r-one", source=line), diag(rule="r-two", source=line)]) == [
        diag(rule="r-two", source=line)
    ]


def test_text_format_like_clang():
    out = text.render([diag(column=6, help="do this")], io.StringIO())
    lines = out.splitlines()
    assert lines[0] == "a.bpf.c:3:6: warning: bad thing [r-one]"
    assert lines[1] == "\tx = call(y);"
    # column 6 (1-based, a tab counts once) of "\tx = call(y);" is the 'c' of call; the tab is
    # kept in the caret line so the caret lines up however the terminal renders tabs.
    assert lines[2] == "\t    ^"
    assert lines[1][len(lines[2]) - 1] == "c"
    assert lines[3] == "help: do this"
    assert lines[4] == "1 warning generated."


def test_text_without_line_info_names_object_section_insn():
    out = text.render([diag(file=None, line=None, column=None, source=None, sev=Severity.ERROR)], io.StringIO())
    assert out.splitlines()[0] == "a.bpf.o:tc+7: error: bad thing [r-one]"
    assert out.splitlines()[1] == "1 error generated."


def test_text_colour_only_on_tty_without_no_color(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\033[" in text.render([diag()], Tty())
    assert "\033[" not in text.render([diag()], io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" not in text.render([diag()], Tty())


def test_json_schema():
    doc = json.loads(json_format.render([diag(), diag(file=None, line=None, column=None)]))
    assert doc["version"] == 1
    first, second = doc["diagnostics"]
    assert set(first) == {"rule", "severity", "message", "file", "line", "column", "end_line", "end_column", "help",
                          "url", "object", "section", "function", "insn"}
    from bpfrewrite.diagnostics.diagnostic import docs_url, end_column

    assert first["end_line"] == 3 and first["end_column"] == end_column(diag()) and first["url"] == docs_url("r-one")
    assert first["severity"] == "warning" and first["line"] == 3 and first["column"] == 5 and first["insn"] == 7
    assert second["file"] is None and second["line"] is None


def test_sarif_structure():
    rules = [sarif.RuleDescription("r-one", "Short.", "Full.", "Help.", Severity.WARNING)]
    doc = json.loads(sarif.render([diag(), diag(sev=Severity.INFO, file=None, line=None)], rules, "1.2"))
    assert doc["version"] == "2.1.0" and "sarif-2.1.0" in doc["$schema"]
    (run,) = doc["runs"]
    (rule,) = run["tool"]["driver"]["rules"]
    assert rule["id"] == "r-one"
    assert rule["shortDescription"]["text"] == "Short."
    assert rule["fullDescription"]["text"] == "Full."
    assert rule["help"]["text"] == "Help."
    assert rule["defaultConfiguration"]["level"] == "warning"
    res, res2 = run["results"]
    assert res["ruleId"] == "r-one" and res["level"] == "warning" and res["message"]["text"] == "bad thing"
    phys = res["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "a.bpf.c"
    from bpfrewrite.diagnostics.diagnostic import end_column

    assert phys["region"] == {"startLine": 3, "startColumn": 5, "endColumn": end_column(diag())}
    assert res["ruleIndex"] == 0
    assert res2["level"] == "note"  # SARIF has no "info"
    assert res2["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "a.bpf.o"}}


def test_github_format_and_escaping():
    out = github.render([diag(message="50% done, a:b\nnext")])
    assert out == "::warning file=a.bpf.c,line=3,col=5,title=r-one::50%25 done, a:b%0Anext\n"
    assert github.render([diag(sev=Severity.INFO)]).startswith("::notice ")
    assert github.render([diag(sev=Severity.ERROR, file="x,y.c")]).startswith("::error file=x%2Cy.c,")


@pytest.mark.parametrize("source, column, token", [
    ("\tx = call(y);", 6, "call"), ("\th->slots[idx]++;", 15, "++"), ("\treturn x;", 2, "return"), ("\t(x)", 2, "("),
])
def test_end_column_spans_the_token(source, column, token):
    from bpfrewrite.diagnostics.diagnostic import end_column

    end = end_column(diag(source=source, column=column))
    assert source[column - 1 : end - 1] == token
