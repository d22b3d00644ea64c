"""Run the selected rules over one input and return its diagnostics, ready to render."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass

from bpfrewrite.config import LintConfig
from bpfrewrite.diagnostics.diagnostic import Diagnostic, display_path, merge_same_site
from bpfrewrite.diagnostics.suppression import ABOUT_COMMENTS, drop_suppressed
from bpfrewrite.errors import BpfrewriteError
from bpfrewrite.lint.registry import RULES, make_rule, selected
from bpfrewrite.passes.rule import run_rules


@dataclass(frozen=True)
class LintResult:
    """One input's outcome: its diagnostics, or the one-line error that stopped it."""

    path: str
    diagnostics: tuple[Diagnostic, ...] = ()
    error: str | None = None
    insns: int = 0  # instructions examined (for throughput figures)


def lint_object(obj, config: LintConfig = LintConfig()) -> list[Diagnostic]:
    """The diagnostics of the selected rules on a parsed object: overridden, unsuppressed, sorted."""
    from bpfrewrite.passes.manager import AnalysisManager

    rules = [make_rule(slug, config) for slug in selected(config, list(RULES))]
    diags = run_rules(rules, obj, AnalysisManager(obj))
    diags = [d.with_severity(config.severity[d.rule]) if d.rule in config.severity else d for d in diags]
    return merge_same_site(drop_suppressed(diags), ABOUT_COMMENTS)


def lint_path(path: str, config: LintConfig = LintConfig()) -> LintResult:
    """Prepare (compile if needed), read and lint one input; user errors become result.error."""
    from bpfrewrite.elf.reader import read_object
    from bpfrewrite.inputs import CompileOptions, prepare

    options = CompileOptions(cc=config.cc or CompileOptions.cc, cflags=config.cflags)
    try:
        with tempfile.TemporaryDirectory(prefix="bpfrewrite-lint-") as workdir:
            obj = read_object(prepare(path, workdir, options))
            diags = lint_object(obj, config)
    except BpfrewriteError as exc:
        message = str(exc)  # every message names the input, as the reader's do
        return LintResult(path, error=message if message.startswith(str(path)) else f"{path}: {message}")
    name = display_path(path)
    count = sum(f.count for f in obj.functions)
    return LintResult(path, tuple(d.with_object(name) for d in diags), insns=count)
