"""JSON and SARIF outputs: end positions, help, docs URLs, and the SARIF log valid against the
2.1.0 schema. tests/data/sarif-schema-2.1.0.json is the OASIS schema as published in
oasis-tcs/sarif-spec (sarif-2.1/schema/sarif-schema-2.1.0.json, commit e0583813964e)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest

from bpfrewrite.diagnostics.diagnostic import docs_url

REPO = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
INPUTS = ["testdata/lint/res_lock_unlocked_access.bpf.o", "testdata/spin_lock.bpf.o", "testdata/lint/suppress_typo.bpf.o",
          "testdata/lint/failure_value_stored.bpf.o"]


def lint(monkeypatch, capsys, *args):
    from bpfrewrite.cli import main

    monkeypatch.chdir(REPO)
    monkeypatch.setattr(sys, "argv", ["bpfrewrite", "lint", "--show-infos", "--fail-on", "never", *args])
    with pytest.raises(SystemExit):
        main()
    return capsys.readouterr().out


def test_sarif_is_valid_against_the_2_1_0_schema(monkeypatch, capsys):
    log = json.loads(lint(monkeypatch, capsys, "--format", "sarif", *INPUTS))
    jsonschema.validate(log, SCHEMA)
    run = log["runs"][0]
    assert run["results"]
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["helpUri"] == docs_url(rule["id"])
        assert rule["help"]["markdown"].startswith("## Why it matters")
        for text in (rule["shortDescription"]["text"], rule["fullDescription"]["text"]):
            assert "\n" not in text
        assert all("\n" not in para for para in rule["help"]["text"].split("\n\n"))
    # The schema is not vacuous here: a result without a message is refused.
    broken = json.loads(json.dumps(log))
    del broken["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


def test_json_carries_end_position_help_and_url(monkeypatch, capsys):
    doc = json.loads(lint(monkeypatch, capsys, "--format", "json", "--select", "unchecked-lock-result", INPUTS[0]))
    (d,) = doc["diagnostics"]
    src = (REPO / d["file"]).read_text().splitlines()[d["line"] - 1]
    assert src[d["column"] - 1 : d["end_column"] - 1] == "++"  # the token the caret marks
    assert d["end_line"] == d["line"]
    assert d["help"] and d["url"] == docs_url("unchecked-lock-result")
