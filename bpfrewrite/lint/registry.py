"""The one reviewed table of lint rules: slug -> rule class. Slugs are public API; never reuse one."""
from __future__ import annotations

from bpfrewrite.config import LintConfig
from bpfrewrite.passes.rule import Rule
from bpfrewrite.passes.rules.callback_cannot_stop import CallbackCannotStop
from bpfrewrite.passes.rules.fast_path_keeps_helper import FastPathKeepsHelper
from bpfrewrite.passes.rules.invalid_suppression import InvalidSuppression
from bpfrewrite.passes.rules.long_running_helper import LongRunningHelper
from bpfrewrite.passes.rules.loop_without_exit import LoopWithoutExit
from bpfrewrite.passes.rules.non_terminable_helper import NonTerminableHelper
from bpfrewrite.passes.rules.spin_lock_not_terminable import SpinLockNotTerminable
from bpfrewrite.passes.rules.twin_fails_closed import TwinFailsClosed
from bpfrewrite.passes.rules.stubbed_value_stored import StubbedValueStored
from bpfrewrite.passes.rules.unchecked_acquire_result import UncheckedAcquireResult
from bpfrewrite.passes.rules.unchecked_lock_result import UncheckedLockResult
from bpfrewrite.passes.rules.unused_suppression import UnusedSuppression

RULES: dict[str, type[Rule]] = {
    "spin-lock-not-terminable": SpinLockNotTerminable,
    "unchecked-lock-result": UncheckedLockResult,
    "unchecked-acquire-result": UncheckedAcquireResult,
    "long-running-helper": LongRunningHelper,
    "non-terminable-helper": NonTerminableHelper,
    "loop-without-exit": LoopWithoutExit,
    "callback-cannot-stop": CallbackCannotStop,
    "fast-path-keeps-helper": FastPathKeepsHelper,
    "twin-fails-closed": TwinFailsClosed,
    "stubbed-value-stored": StubbedValueStored,
    "invalid-suppression": InvalidSuppression,
    "unused-suppression": UnusedSuppression,
}


def make_rule(slug: str, config: LintConfig | None = None) -> Rule:
    """The rule of slug, built for a run: with config and the table of every rule."""
    return RULES[slug](config, RULES)


def selected(config: LintConfig, known: list[str]) -> list[str]:
    """The slugs that run, in registry order."""
    on_by_default = {s for s in known if s not in RULES or RULES[s].default_enabled}
    chosen = (set(config.select) if config.select is not None else on_by_default) | set(config.extend_select)
    return [s for s in known if s in chosen and s not in config.ignore]
