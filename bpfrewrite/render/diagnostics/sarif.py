"""SARIF 2.1.0 output: one run, the rules' descriptions in tool.driver.rules, one result per diagnostic."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity, docs_url, end_column
from bpfrewrite.passes.rule import Rule

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


@dataclass(frozen=True)
class RuleDescription:
    """What SARIF says about a rule: its slug, texts from its docstring, and default severity."""

    id: str
    short: str
    full: str
    help: str
    severity: Severity
    help_uri: str | None = None
    help_markdown: str | None = None


def rule_description(rule: type[Rule], severity: Severity) -> RuleDescription:
    """What SARIF says about rule, from its docstring, at the severity the run gives it."""
    sections = rule.sections()
    advice = ("Why it matters", "How to fix")
    return RuleDescription(
        id=rule.slug,
        short=rule.summary(),
        full=" ".join(_unwrap(_plain(sections.get("What it does", rule.summary()))).split("\n\n")),
        help=_unwrap(_plain("\n\n".join(f"{k}: {sections[k]}" for k in advice if k in sections))),
        severity=severity,
        help_uri=docs_url(rule.slug),
        help_markdown="\n\n".join(f"## {k}\n\n{sections[k]}" for k in advice if k in sections),
    )


def _unwrap(text: str) -> str:
    """text with the line breaks inside each paragraph removed (paragraphs stay apart, by a blank
    line); SARIF viewers wrap text themselves."""
    paragraphs = [" ".join(line.strip() for line in p.splitlines() if line.strip()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


def _plain(markdown: str) -> str:
    """Markdown text flattened for SARIF's plain-text fields (code fences and backticks removed)."""
    lines = [line for line in markdown.splitlines() if not line.startswith("```")]
    return re.sub(r"`([^`]*)`", r"\1", "\n".join(lines)).strip()


def level(severity: Severity) -> str:
    """The SARIF level of a severity (info is SARIF's "note")."""
    return _LEVEL[severity]


def _rule(desc: RuleDescription) -> dict:
    out = {
        "id": desc.id,
        "name": desc.id,
        "shortDescription": {"text": desc.short},
        "fullDescription": {"text": desc.full},
        "help": {"text": desc.help, **({"markdown": desc.help_markdown} if desc.help_markdown else {})},
        "defaultConfiguration": {"level": level(desc.severity)},
    }
    if desc.help_uri:
        out["helpUri"] = desc.help_uri
    return out


def _result(diag: Diagnostic, index: dict[str, int]) -> dict:
    if diag.file and diag.line:
        region = {"startLine": diag.line}
        if diag.column:
            region["startColumn"] = diag.column
            region["endColumn"] = end_column(diag)
        physical = {"artifactLocation": {"uri": diag.file}, "region": region}
    else:
        # No line info: point at the object itself; the logical location still names the function.
        physical = {"artifactLocation": {"uri": diag.object}}
    location = {
        "physicalLocation": physical,
        "logicalLocations": [
            {"name": diag.function, "fullyQualifiedName": f"{diag.section}/{diag.function}", "kind": "function"}
        ],
    }
    out = {
        "ruleId": diag.rule,
        "level": level(diag.severity),
        "message": {"text": diag.message},
        "locations": [location],
        "properties": {"object": diag.object, "section": diag.section, "insn": diag.insn},
    }
    if diag.rule in index:
        out["ruleIndex"] = index[diag.rule]
    return out


def render(diags: list[Diagnostic], rules: list[RuleDescription], version: str = "0") -> str:
    """A SARIF 2.1.0 log with one run; rules lists every rule that ran (sorted by id)."""
    ordered = sorted(rules, key=lambda r: r.id)
    index = {r.id: i for i, r in enumerate(ordered)}
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "bpfrewrite",
                        "version": version,
                        "rules": [_rule(r) for r in ordered],
                    }
                },
                "results": [_result(d, index) for d in diags],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
