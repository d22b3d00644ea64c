"""The one reviewed table of lint rules: slug -> rule class. Slugs are public API; never reuse one."""
from __future__ import annotations

from passes.rules.base import Rule
from passes.rules.callback_cannot_stop import CallbackCannotStop
from passes.rules.fast_path_keeps_helper import FastPathKeepsHelper
from passes.rules.invalid_suppression import InvalidSuppression
from passes.rules.long_running_helper import LongRunningHelper
from passes.rules.loop_without_exit import LoopWithoutExit
from passes.rules.non_terminable_helper import NonTerminableHelper
from passes.rules.spin_lock_not_terminable import SpinLockNotTerminable
from passes.rules.twin_fails_closed import TwinFailsClosed
from passes.rules.stubbed_value_stored import StubbedValueStored
from passes.rules.unchecked_acquire_result import UncheckedAcquireResult
from passes.rules.unchecked_lock_result import UncheckedLockResult
from passes.rules.unused_suppression import UnusedSuppression

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
