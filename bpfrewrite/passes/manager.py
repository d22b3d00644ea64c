"""The pass manager: analyses computed on demand and cached, transforms that say what they preserve.

Modelled on LLVM's new pass manager. An `Analysis` is a class with `run(am, unit)`; its unit is a
Function (scope "function") or the whole Object (scope "object"). `AnalysisManager.get` computes a
result once and caches it per (analysis, unit). A `Transform` declares `preserves`; after it changes
a function the manager drops every cached result it did not preserve. In debug mode the manager
also checks the claims: a preserved result is recomputed and compared, and a cached result whose
function changed without an invalidation is refused (the classic stale-analysis bug).

Every analysis, transform and rule declares in `requires` the analyses it asks `am.get` for
(classes or registered names). In debug mode the manager tracks which pass is running (analyses
inside `_compute`, transforms inside `PassManager.run`, rules inside `am.running(rule)`) and
refuses a `get` the running pass did not declare, so the declarations cannot drift from the code.
"""
from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable, ClassVar, Iterable

from bpfrewrite import budget
from bpfrewrite.model import Function, Object


class PassError(AssertionError):
    """A pass broke the manager's contract (a bug in the pass, not a user error)."""


class Analysis:
    """Base class of analyses: a pure computation over a function or the whole object."""

    name: ClassVar[str] = ""
    scope: ClassVar[str] = "function"  # "function" or "object"
    requires: ClassVar[frozenset] = frozenset()  # analyses run() asks am.get for (classes or names)

    @classmethod
    def run(cls, am: "AnalysisManager", unit: Any) -> Any:
        """Compute the result for unit (a Function, or the Object for object-scope analyses)."""
        raise NotImplementedError

    @classmethod
    def fingerprint(cls, result: Any) -> Any:
        """A comparable summary of result, used to check a transform's preservation claims."""
        return result


class Transform:
    """Base class of transforms: change one function, say which analyses survive the change."""

    name: ClassVar[str] = ""
    preserves: ClassVar[frozenset] = frozenset()
    requires: ClassVar[frozenset] = frozenset()  # analyses run() asks am.get for (classes or names)

    def run(self, am: "AnalysisManager", func: Function) -> bool:
        """Transform func in place (asking am for analyses); return True when something changed."""
        raise NotImplementedError


# ----- the registry -----------------------------------------------------------------------------

_REGISTRY: dict[str, type] = {}

# Modules whose import registers passes; listed here so `registry()` sees every pass without
# depending on import order elsewhere. Missing modules (not written yet) are skipped.
BUILTIN_MODULES = (
    "bpfrewrite.passes.analysis.cfg",
    "bpfrewrite.passes.analysis.dataflow",
    "bpfrewrite.passes.analysis.liveness",
    "bpfrewrite.passes.analysis.loops",
    "bpfrewrite.passes.analysis.callgraph",
    "bpfrewrite.passes.analysis.fastpath_plan",
    "bpfrewrite.passes.analysis.return_values",
    "bpfrewrite.passes.transforms",
    "bpfrewrite.passes.analysis.calls",
    "bpfrewrite.passes.analysis.positions",
)


def register(cls: type) -> type:
    """Class decorator: add an Analysis or Transform to the registry under its unique `name`."""
    name = getattr(cls, "name", "")
    if not name:
        raise PassError(f"{cls.__qualname__} has no name")
    other = _REGISTRY.get(name)
    if other is not None and other is not cls:
        if (other.__module__, other.__qualname__) != (cls.__module__, cls.__qualname__):
            raise PassError(f"pass name {name!r} is used by both {other.__qualname__} and {cls.__qualname__}")
    _REGISTRY[name] = cls
    return cls


def registry() -> dict[str, type]:
    """Every registered analysis and transform by name (imports the built-in pass modules first)."""
    import importlib

    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise
    return dict(sorted(_REGISTRY.items()))


def lookup(name: str) -> type:
    """The registered pass called name; BpfrewriteError naming the known passes when absent."""
    table = registry()
    if name not in table:
        from bpfrewrite.errors import BpfrewriteError

        raise BpfrewriteError(f"unknown pass {name!r} (known: {', '.join(table)})")
    return table[name]


def required_names(pass_or_rule: Any) -> frozenset[str]:
    """The names of the analyses an analysis, transform or rule declares in `requires`."""
    return frozenset(r if isinstance(r, str) else r.name for r in getattr(pass_or_rule, "requires", ()))


def pass_label(pass_or_rule: Any) -> str:
    """How messages name an analysis, transform (its name) or rule (its slug)."""
    return getattr(pass_or_rule, "name", "") or getattr(pass_or_rule, "slug", "") or type(pass_or_rule).__qualname__


# ----- the analysis manager ---------------------------------------------------------------------


def _debug_default() -> bool:
    return os.environ.get("BPFREWRITE_DEBUG_PASSES", "") not in ("", "0")


def function_fingerprint(func: Function) -> tuple:
    """The raw content of func's instructions (what every analysis depends on)."""
    return (func.count,) + tuple(
        (id(i), i.code, i.dst, i.src, i.off, i.imm, i.imm2, id(i.ref), id(i.target)) for i in func.insns
    )


class AnalysisManager:
    """Computes analyses on demand and caches them per (analysis, function) or per object."""

    def __init__(self, obj: Object, debug: bool | None = None):
        self.obj = obj
        self.debug = _debug_default() if debug is None else debug
        # unit (a Function, or the Object) -> analysis -> result: invalidating one function
        # touches only its own entries, so a transform over every function stays linear.
        self._cache: dict[Any, dict[type, Any]] = defaultdict(dict)
        self._stamp: dict[Any, tuple] = {}  # debug: function -> fingerprint when first analysed
        self.timings: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)  # computations (not cache hits) per analysis
        self._running: list[Any] = []  # the passes and rules now running, innermost last
        self.asked: dict[str, set[str]] = defaultdict(set)  # debug: pass label -> analyses it got

    @contextmanager
    def running(self, pass_or_rule: Any) -> Iterator[None]:
        """Mark pass_or_rule as running while the block runs: in debug mode its gets are checked."""
        self._running.append(pass_or_rule)
        try:
            yield
        finally:
            self._running.pop()

    def get(self, analysis: type, unit: Any = None) -> Any:
        """The result of analysis for unit (a Function; the object for object-scope analyses)."""
        if analysis.scope == "object":
            unit = self.obj
        elif not isinstance(unit, Function):
            raise TypeError(f"{analysis.name} needs a Function, got {type(unit).__name__}")
        if self.debug:
            self._check_declared(analysis)
            if unit is not self.obj:
                self._check_fresh(unit)
        results = self._cache[unit]
        try:
            return results[analysis]
        except KeyError:
            pass
        result = results[analysis] = self._compute(analysis, unit)
        return result

    def cached(self, analysis: type, unit: Any = None) -> Any | None:
        """The cached result, or None when it is not computed (never computes)."""
        results = self._cache.get(self.obj if analysis.scope == "object" else unit, {})
        return results.get(analysis)

    def _compute(self, analysis: type, unit: Any) -> Any:
        what = f"the {analysis.name} analysis of " + ("the object" if unit is self.obj else f"function {unit.name!r}")
        budget.check(what)
        t0 = time.perf_counter()
        with self.running(analysis):
            result = analysis.run(self, unit)
        budget.check(what)
        self.timings[analysis.name] += time.perf_counter() - t0
        self.counts[analysis.name] += 1
        if self.debug and unit is not self.obj and unit not in self._stamp:
            self._stamp[unit] = function_fingerprint(unit)
        return result

    def _check_declared(self, analysis: type) -> None:
        # Asked from outside any pass (a driver, a test): nothing to check against.
        if not self._running:
            return
        asker = self._running[-1]
        self.asked[pass_label(asker)].add(analysis.name)
        if analysis.name not in required_names(asker):
            raise PassError(
                f"{pass_label(asker)} asked for analysis {analysis.name!r} without declaring it "
                f"(add it to {getattr(asker, '__qualname__', type(asker).__qualname__)}.requires)"
            )

    def _check_fresh(self, func: Function) -> None:
        stamp = self._stamp.get(func)
        if stamp is not None and stamp != function_fingerprint(func):
            stale = sorted(a.name for a in self._cache.get(func, ()))
            if stale:
                raise PassError(
                    f"function {func.name!r} changed but cached analyses {stale} were not invalidated"
                )
            self._stamp[func] = function_fingerprint(func)

    def invalidate(self, func: Function | None = None, preserved: Iterable[type] = ()) -> None:
        """Drop results for func (all functions when None) not in preserved; object results too."""
        keep = set(preserved)
        if self.debug and keep:
            self._verify_preserved(func, keep)
        for unit in self._units(func):
            results = self._cache.get(unit)
            if results:
                for analysis in [a for a in results if a not in keep]:
                    del results[analysis]
        # Results that survived describe the function as it is now.
        for unit in list(self._stamp) if func is None else [func]:
            if unit not in self._stamp:
                continue
            if self._cache.get(unit):
                self._stamp[unit] = function_fingerprint(unit)
            else:
                del self._stamp[unit]

    def _units(self, func: Function | None) -> list[Any]:
        """The cache units an invalidation of func (every function when None) reaches."""
        return list(self._cache) if func is None else [func, self.obj]

    def _verify_preserved(self, func: Function | None, keep: set[type]) -> None:
        checks = [(unit, a, old) for unit in self._units(func)
                  for a, old in self._cache.get(unit, {}).items() if a in keep]
        for unit, analysis, old in checks:
            new = analysis.run(self._fresh(), unit)
            if analysis.fingerprint(old) != analysis.fingerprint(new):
                where = "the object" if unit is self.obj else f"function {unit.name!r}"
                raise PassError(f"{analysis.name} of {where} was declared preserved but changed")

    def _fresh(self) -> "AnalysisManager":
        # Recomputation for verification must not read the (possibly stale) cache.
        return AnalysisManager(self.obj, debug=False)


# ----- running transforms -----------------------------------------------------------------------


class PassManager:
    """Runs transforms over functions, invalidating what each one did not preserve."""

    def __init__(
        self,
        am: AnalysisManager,
        print_after: Iterable[str] = (),
        printer: Callable[[str, Function], None] | None = None,
    ):
        self.am = am
        self.print_after = set(print_after)
        self.printer = printer

    def run(self, transform: Transform, funcs: Iterable[Function]) -> bool:
        """Run transform on each function; return True when any function changed."""
        changed_any = False
        for func in list(funcs):
            t0 = time.perf_counter()
            with self.am.running(transform):
                changed = bool(transform.run(self.am, func))
            budget.check(f"the {transform.name} transform of function {func.name!r}")
            self.am.timings[transform.name] += time.perf_counter() - t0
            if changed:
                changed_any = True
                self.am.invalidate(func, preserved=transform.preserves)
            if transform.name in self.print_after and self.printer is not None:
                self.printer(transform.name, func)
        return changed_any
