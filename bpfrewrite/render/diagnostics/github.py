"""GitHub Actions workflow commands: `::warning file=F,line=L,col=C,title=slug::message`."""
from __future__ import annotations

from bpfrewrite.diagnostics.diagnostic import Diagnostic, Severity

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _escape_data(text: str) -> str:
    # The runner's escaping (actions/toolkit command.ts): data escapes %, CR, LF.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    # Property values additionally escape the separators ':' and ','.
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_one(diag: Diagnostic) -> str:
    """One workflow command line for diag."""
    props = []
    if diag.file and diag.line:
        props.append(f"file={_escape_property(diag.file)}")
        props.append(f"line={diag.line}")
        if diag.column:
            props.append(f"col={diag.column}")
        message = diag.message
    else:
        props.append(f"file={_escape_property(diag.object)}")
        message = f"{diag.section}+{diag.insn}: {diag.message}"
    props.append(f"title={_escape_property(diag.rule)}")
    return f"::{_COMMAND[diag.severity]} {','.join(props)}::{_escape_data(message)}"


def render(diags: list[Diagnostic]) -> str:
    """All diagnostics, one command per line."""
    return "".join(render_one(d) + "\n" for d in diags)
