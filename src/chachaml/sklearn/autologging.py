"""``autolog()``: log every scikit-learn fit without changing the training code.

It replaces ``fit``, ``fit_transform`` and ``fit_predict`` on the classes that define them for
every estimator of ``sklearn.utils.all_estimators()`` (Pipelines and meta-estimators
included), ``cross_validate``
in ``sklearn.model_selection``, and ``joblib.Parallel.__call__`` (tasks a fit hands to joblib
threads carry the fit guard with them). ``autolog(disable=True)`` puts the original
functions back (the very same objects).

* Only the **outermost** fit is logged: a Pipeline's steps, a search's candidates, a
  meta-estimator's inner estimators run under a per-context depth counter
  (:func:`chachaml.sklearn.support.fit_guard`). Threads and asyncio tasks count separately, so
  two threads fitting at once each get a run of their own.
* Inside ``with ml.run():`` a fit logs into that run; otherwise it gets a run of its own named
  after the estimator class (tag ``autolog=sklearn``), ``completed`` or ``failed`` like the fit.
* A tracking failure (store unreachable, read-only, full disk, ...) is an
  :class:`~chachaml.sklearn.support.AutologWarning`; the fit's result or exception is exactly
  what it would be without autolog.
* ``cross_validate`` (and ``cross_val_score``, which calls it) becomes one run with one child
  run per fold; ``cross_val_predict``, ``learning_curve``, ``validation_curve`` and
  ``permutation_test_score`` run their fits unlogged (they would otherwise log one run per fit).
"""

from __future__ import annotations

import copy
import functools
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chachaml.errors import InvalidInput
from chachaml.sklearn import fitlog, search
from chachaml.sklearn.support import (
    Guarded,
    Step,
    fit_guard,
    outermost,
    require_sklearn,
    tracked_call,
)
from chachaml.tracking import ActiveRun

TRACKED_FUNCTIONS = ("cross_validate",)
SILENCED_FUNCTIONS = (
    "cross_val_predict",
    "learning_curve",
    "validation_curve",
    "permutation_test_score",
)
MARK = "chachaml_autolog"
#: The methods that fit an estimator. ``fit_transform``/``fit_predict`` count as fits too: a
#: Pipeline's or ColumnTransformer's does not call its own ``fit`` (its steps' fits would
#: otherwise be logged as the outermost ones); one that calls ``self.fit`` logs once.
FIT_METHODS = ("fit", "fit_transform", "fit_predict")
CALL = "__call__"


@dataclass
class Settings:
    enabled: bool = False
    log_models: bool = True
    max_children: int = search.DEFAULT_MAX_CHILDREN


settings = Settings()
_lock = threading.Lock()
#: Every replacement in place: (class or module, attribute, the original object).
_patches: list[tuple[Any, str, Any]] = []


def estimator_classes() -> list[type]:
    """Every estimator class autolog covers."""
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.utils import all_estimators

    extra: list[type] = [
        Pipeline,
        FeatureUnion,
        ColumnTransformer,
        TransformedTargetRegressor,
        GridSearchCV,
        RandomizedSearchCV,
    ]
    return [cls for _, cls in all_estimators()] + extra


def _function(member: Any) -> Any:
    """The function a class member runs: itself, or the ``fn`` of a descriptor such as
    scikit-learn's ``available_if`` (``Pipeline.fit_transform``); None for anything else."""
    if inspect.isfunction(member):
        return member
    fn = getattr(member, "fn", None)
    return fn if inspect.isfunction(fn) and hasattr(type(member), "__get__") else None


def fit_owners(classes: list[type], method: str = "fit") -> list[type]:
    """The scikit-learn classes whose own ``method`` the given classes use (each once)."""
    owners: dict[type, None] = {}
    for cls in classes:
        for klass in cls.__mro__:
            if method in vars(klass):
                fit = _function(vars(klass)[method])
                if klass.__module__.startswith("sklearn.") and fit is not None:
                    owners[klass] = None
                break
    return list(owners)


def _replacement(member: Any) -> Any:
    """``member`` with its function wrapped by :func:`wrap_fit` (a descriptor is copied, so
    the original object stays untouched and can be put back)."""
    if inspect.isfunction(member):
        return wrap_fit(member)
    replaced = copy.copy(member)
    replaced.fn = wrap_fit(member.fn)
    return replaced


def wrap_fit(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not settings.enabled or not outermost():
            return original(self, *args, **kwargs)
        return logged_fit(original, self, args, kwargs)

    setattr(fit, MARK, True)
    return fit


def logged_fit(
    original: Callable[..., Any], est: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    log_models, max_children = settings.log_models, settings.max_children

    def after(run: ActiveRun, seconds: float) -> list[Step]:
        steps = search.search_steps(run, est, max_children) if search.is_search(est) else []
        steps += fitlog.after_fit(
            run,
            est,
            X,
            y,
            seconds,
            sample_weight=kwargs.get("sample_weight"),
            log_model=log_models,
        )
        return steps

    return tracked_call(
        lambda: original(est, *args, **kwargs),
        name=fitlog.estimator_name(est),
        tags={"autolog": "sklearn"},
        before=lambda run: fitlog.before_fit(run, est),
        after=after,
        lenient=True,
    )


def wrap_cross_validate(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def cross_validate(*args: Any, **kwargs: Any) -> Any:
        if not settings.enabled or not outermost():
            return original(*args, **kwargs)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return original(*args, **kwargs)  # sklearn reports the bad call itself
        return search.tracked_cross_validate(
            bound.arguments.get("estimator"),
            bound.arguments.get("X"),
            lambda: original(*args, **kwargs),
            lenient=True,
            max_children=settings.max_children,
            log_models=settings.log_models,
        )

    setattr(cross_validate, MARK, True)
    return cross_validate


def wrap_silenced(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def silenced(*args: Any, **kwargs: Any) -> Any:
        with fit_guard():
            return original(*args, **kwargs)

    setattr(silenced, MARK, True)
    return silenced


def guarded_task(task: Any) -> Any:
    if isinstance(task, tuple) and len(task) == 3 and callable(task[0]):
        return (Guarded(task[0]), task[1], task[2])
    return task


def wrap_parallel(original: Callable[..., Any]) -> Callable[..., Any]:
    """``joblib.Parallel.__call__``: inside a logged fit, each task runs under the fit guard."""

    @functools.wraps(original)
    def call(self: Any, iterable: Any) -> Any:
        if not settings.enabled or outermost():
            return original(self, iterable)
        return original(self, (guarded_task(task) for task in iterable))

    setattr(call, MARK, True)
    return call


def _apply() -> None:
    import joblib
    from sklearn import model_selection
    from sklearn.model_selection import _validation

    call = vars(joblib.Parallel)[CALL]
    if not getattr(call, MARK, False):
        _patches.append((joblib.Parallel, CALL, call))
        setattr(joblib.Parallel, CALL, wrap_parallel(call))
    classes = estimator_classes()
    for method in FIT_METHODS:
        for owner in fit_owners(classes, method):
            original = vars(owner)[method]
            if not getattr(_function(original), MARK, False):
                _patches.append((owner, method, original))
                setattr(owner, method, _replacement(original))
    for names, wrap in (
        (TRACKED_FUNCTIONS, wrap_cross_validate),
        (SILENCED_FUNCTIONS, wrap_silenced),
    ):
        for name in names:
            original = getattr(_validation, name, None)
            if original is None or getattr(original, MARK, False):
                continue
            replacement = wrap(original)
            for module in (_validation, model_selection):
                if getattr(module, name, None) is original:
                    _patches.append((module, name, original))
                    setattr(module, name, replacement)


def _restore() -> None:
    while _patches:
        owner, name, original = _patches.pop()
        setattr(owner, name, original)


def patched() -> list[tuple[Any, str]]:
    """What autolog has replaced right now: ``(class or module, attribute)`` pairs."""
    with _lock:
        return [(owner, name) for owner, name, _ in _patches]


def autolog(disable: bool = False, log_models: bool = True, max_children: int = 50) -> None:
    """Log every scikit-learn ``fit`` (see the module docstring); ``disable=True`` undoes it.

    ``log_models``: store each fitted model as artifact ``model`` (joblib).
    ``max_children``: at most this many child runs per search (the best first) or
    cross-validation. Calling it again while on updates these settings.
    """
    if not isinstance(disable, bool):
        raise InvalidInput(f"disable must be True or False, got {disable!r}")
    if not isinstance(log_models, bool):
        raise InvalidInput(f"log_models must be True or False, got {log_models!r}")
    max_children = search.check_max_children(max_children)
    require_sklearn()
    with _lock:
        if disable:
            settings.enabled = False
            _restore()
            return
        settings.log_models = log_models
        settings.max_children = max_children
        if not _patches:
            _apply()
        settings.enabled = True
