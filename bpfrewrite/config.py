"""Lint settings: `[tool.bpfrewrite]` of the nearest pyproject.toml, overridden by the command line."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from bpfrewrite.diagnostics.diagnostic import Severity
from bpfrewrite.errors import BpfrewriteError

FAIL_ON = ("error", "warning", "info", "never")
# loop-without-exit stays quiet on a counted loop whose iterations x body instructions is below this
# (about 10 µs of work at ~1 ns per instruction): bcc's libbpf-tools parser loops of 6-64 iterations
# over tens of instructions stay under it, a 5000-iteration lookup loop does not.
LOOP_COST_THRESHOLD = 10_000


@dataclass(frozen=True)
class LintConfig:
    """Which rules run, at which severity, what fails the run, and how C inputs are compiled."""

    select: tuple[str, ...] | None = None  # None: every rule
    ignore: tuple[str, ...] = ()
    severity: dict[str, Severity] = field(default_factory=dict)
    fail_on: str = "warning"
    cc: str | None = None
    cflags: str | None = None
    twin_programs: tuple[str, ...] | None = None  # patch: programs that get a twin (None: every one)
    source: str | None = None  # the pyproject.toml the settings came from, for messages
    loop_cost_threshold: int = LOOP_COST_THRESHOLD
    show_infos: bool = False  # info diagnostics are counted, not printed, unless asked for
    extend_select: tuple[str, ...] = ()  # added to the selection (rules that are off by default)
    target_kernel: tuple[int, int] | None = None  # None: the running kernel, else the newest the table knows

    @property
    def target(self) -> tuple[int, int]:
        """The kernel version advice and version-dependent rules follow."""
        from bpfrewrite.kernel.versions import default_target

        return self.target_kernel or default_target()

    def fails(self, severity: Severity) -> bool:
        """True when a diagnostic of this severity makes the run fail."""
        if self.fail_on == "never":
            return False
        return severity >= Severity.parse(self.fail_on)


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml in start's directory or above it."""
    here = start.resolve()
    if not here.is_dir():
        here = here.parent
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def distrust(path: Path) -> str | None:
    """Why a found config file may not be obeyed, or None when it may (git's safe.directory rule).

    A config can name the compiler to run and flags that write files, so it counts only when the
    invoking user or root owns it and the directory it lives in, and other users cannot write either
    (an other-writable directory must be sticky, as /tmp is: others cannot replace the file). Group
    write is allowed, as git allows it: with Debian's user-private groups and umask 002 every file a
    user makes is group-writable by a group of one.
    """
    import os
    import stat

    uid = os.geteuid()
    trusted = (uid, 0)

    def owner(st: os.stat_result) -> str:
        return "you" if st.st_uid == uid else "root" if st.st_uid == 0 else f"uid {st.st_uid}"

    try:
        link, st, parent = os.lstat(path), os.stat(path), os.stat(path.parent)
    except OSError as exc:
        return f"cannot check who owns it ({exc.strerror})"
    if stat.S_ISLNK(link.st_mode) and link.st_uid not in trusted:
        return f"it is a symlink owned by {owner(link)}, not by you or root"
    if st.st_uid not in trusted:
        return f"it is owned by {owner(st)}, not by you or root"
    if st.st_mode & stat.S_IWOTH:
        return "it is writable by others"
    if parent.st_uid not in trusted:
        return f"its directory is owned by {owner(parent)}, not by you or root"
    if parent.st_mode & stat.S_IWOTH and not parent.st_mode & stat.S_ISVTX:
        return "its directory is writable by others (and not sticky)"
    return None


def _slug_list(value: object, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BpfrewriteError(f"{where}: {key} must be a list of rule slugs")
    return tuple(v.strip() for v in value if v.strip())


def parse_severity_overrides(pairs: dict[str, object] | list[str], where: str) -> dict[str, Severity]:
    """slug -> Severity from a TOML table or from `slug=level` strings."""
    if isinstance(pairs, list):
        table: dict[str, object] = {}
        for item in pairs:
            slug, sep, level = item.partition("=")
            if not sep or not slug.strip():
                raise BpfrewriteError(f"{where}: expected slug=level, got {item!r}")
            table[slug.strip()] = level
        pairs = table
    out = {}
    for slug, level in pairs.items():
        if not isinstance(level, str):
            raise BpfrewriteError(f"{where}: severity of {slug} must be error, warning or info")
        out[slug] = Severity.parse(level)
    return out


_KEYS = frozenset({"select", "ignore", "severity", "fail-on", "fail_on", "cc", "cflags", "twin-programs", "twin_programs"})
_KEYS |= {"loop-cost-threshold", "show-infos", "extend-select", "target-kernel"}  # lint output, thresholds, opt-in rules


def load_pyproject(path: Path) -> LintConfig:
    """The settings in path's [tool.bpfrewrite] table (defaults when it has none)."""
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BpfrewriteError(f"{path}: cannot read configuration ({exc})") from None
    table = doc.get("tool", {}).get("bpfrewrite", {})
    where = f"{path} [tool.bpfrewrite]"
    if not isinstance(table, dict):
        raise BpfrewriteError(f"{where}: must be a table")
    # A misspelt key would silently change nothing (`selct = [...]` lints with every rule).
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise BpfrewriteError(f"{where}: unknown key {', '.join(unknown)}; known keys: {', '.join(sorted(_KEYS))}")
    config = LintConfig(source=str(path))
    if "select" in table:
        config = replace(config, select=_slug_list(table["select"], "select", where))
    if "ignore" in table:
        config = replace(config, ignore=_slug_list(table["ignore"], "ignore", where))
    if "severity" in table:
        if not isinstance(table["severity"], dict):
            raise BpfrewriteError(f"{where}: severity must be a table of slug = \"level\"")
        config = replace(config, severity=parse_severity_overrides(table["severity"], where))
    fail_on = table.get("fail-on", table.get("fail_on"))
    if fail_on is not None:
        config = replace(config, fail_on=check_fail_on(fail_on, f"{where} fail-on"))
    twin_programs = table.get("twin-programs", table.get("twin_programs"))
    if twin_programs is not None:
        if not isinstance(twin_programs, list) or not all(isinstance(v, str) and v for v in twin_programs):
            raise BpfrewriteError(f"{where}: twin-programs must be a list of program names")
        config = replace(config, twin_programs=tuple(twin_programs))
    if "target-kernel" in table:
        from bpfrewrite.kernel.versions import parse_version

        config = replace(config, target_kernel=parse_version(table["target-kernel"], f"{where} target-kernel"))
    if "extend-select" in table:
        config = replace(config, extend_select=_slug_list(table["extend-select"], "extend-select", where))
    if "loop-cost-threshold" in table:
        config = replace(config, loop_cost_threshold=check_threshold(table["loop-cost-threshold"],
                                                                     f"{where} loop-cost-threshold"))
    if "show-infos" in table:
        if not isinstance(table["show-infos"], bool):
            raise BpfrewriteError(f"{where}: show-infos must be true or false")
        config = replace(config, show_infos=table["show-infos"])
    for key in ("cc", "cflags"):
        if key in table:
            if not isinstance(table[key], str):
                raise BpfrewriteError(f"{where}: {key} must be a string")
            config = replace(config, **{key: table[key]})
    if config.cflags:  # paths in them are the project's: relative to this file, not to the cwd
        from bpfrewrite.inputs import resolve_cflags

        config = replace(config, cflags=resolve_cflags(config.cflags, path.resolve().parent, where))
    return config


def check_fail_on(value: object, where: str = "--fail-on") -> str:
    """value if it is a valid fail-on level."""
    if value not in FAIL_ON:
        raise BpfrewriteError(f"{where} must be one of {', '.join(FAIL_ON)}, got {value!r}")
    return str(value)


def check_threshold(value: object, where: str = "--loop-cost-threshold") -> int:
    """value if it is a non-negative integer."""
    if type(value) is not int or value < 0:
        raise BpfrewriteError(f"{where} must be a non-negative integer, got {value!r}")
    return value


def validate(config: LintConfig, known: set[str]) -> None:
    """Refuse slugs no rule has, naming where they came from."""
    named = list(config.select or ()) + list(config.ignore) + list(config.severity) + list(config.extend_select)
    unknown = sorted({s for s in named if s not in known})
    if unknown:
        where = f" (from {config.source})" if config.source else ""
        raise BpfrewriteError(f"unknown rule {', '.join(unknown)}{where}; known rules: {', '.join(sorted(known))}")

