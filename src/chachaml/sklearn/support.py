"""What the scikit-learn integration shares: the dependency check, the fit-depth guard, runs.

* :func:`require_sklearn` turns a missing scikit-learn into :class:`SklearnNotInstalled` (an
  ``InvalidInput`` that is also an ``ImportError``) naming the extra to install.
* :func:`fit_guard` / :func:`outermost`: a per-context depth counter, so that only the
  outermost of nested fits (a Pipeline's steps, a search's candidates) is logged. It lives in
  a ``contextvar``, so threads and asyncio tasks each count their own fits.
* :func:`tracked_call`: run a fit (or any call) inside the current run, or inside a run of its
  own when none is active, with logging before and after. In *lenient* mode (autolog) a
  tracking failure becomes an :class:`AutologWarning` and never breaks the call; the call's own
  exception always propagates unchanged.
"""

from __future__ import annotations

import contextvars
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

from chachaml import context, tracking
from chachaml.errors import InvalidInput
from chachaml.tracking import ActiveRun

T = TypeVar("T")

#: One logging action of a fit: ``(what, action)``; ``what`` names it in a warning.
Step = tuple[str, Callable[[], object]]

INSTALL_HINT = "pip install 'chachaml[sklearn]'"

fit_depth: contextvars.ContextVar[int] = contextvars.ContextVar(
    "chachaml_sklearn_fit_depth", default=0
)


class SklearnNotInstalled(InvalidInput, ImportError):
    """scikit-learn is not installed (``pip install 'chachaml[sklearn]'``)."""


class AutologWarning(UserWarning):
    """Tracking failed during an autologged fit; the fit itself went on unharmed."""


def require_sklearn() -> None:
    """Raise :class:`SklearnNotInstalled` with the install command if scikit-learn is missing."""
    try:
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise SklearnNotInstalled(
            f"chachaml.sklearn needs scikit-learn, which is not installed: {INSTALL_HINT}"
        ) from exc


def outermost() -> bool:
    """True when no tracked fit is in progress in this context."""
    return fit_depth.get() == 0


@contextmanager
def fit_guard() -> Iterator[None]:
    """Mark the block as inside a tracked fit: fits called within it are not logged again."""
    token = fit_depth.set(fit_depth.get() + 1)
    try:
        yield
    finally:
        fit_depth.reset(token)


class Guarded:
    """A task that runs under :func:`fit_guard` wherever it runs: autolog wraps the tasks a fit
    hands to joblib, so that fits in joblib's worker threads are not logged as runs of their
    own (a thread does not inherit the fit's context). Picklable for process backends."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with fit_guard():
            return self.func(*args, **kwargs)


def active_run() -> ActiveRun | None:
    """The run in progress in this context (or the newest ``start_run`` run), else None."""
    handle = context.current_active_run()
    if isinstance(handle, ActiveRun) and not handle.ended:
        return handle
    return None


def warn(what: str, exc: BaseException) -> None:
    warnings.warn(
        f"chachaml autolog: {what} failed ({type(exc).__name__}: {exc}); "
        "the fit itself is unaffected",
        AutologWarning,
        stacklevel=4,
    )


def run_steps(steps: Sequence[Step], *, lenient: bool) -> None:
    """Run logging steps in order; lenient: each failure is a warning and the rest still run."""
    for what, action in steps:
        if not lenient:
            action()
            continue
        try:
            action()
        except Exception as exc:
            warn(what, exc)


def tracked_call(
    call: Callable[[], T],
    *,
    name: str,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    before: Callable[[ActiveRun], Sequence[Step]],
    after: Callable[[ActiveRun, float], Sequence[Step]],
    lenient: bool,
) -> T:
    """``call()`` tracked: in the active run, else in a new run ``name`` that ends with it.

    ``before(run)`` gives the steps logged before the call, ``after(run, seconds)`` those after
    it. The call runs under :func:`fit_guard`. Its exception propagates unchanged (a run of our
    own then ends ``failed``). Tracking errors propagate unless ``lenient``, where they become
    :class:`AutologWarning` s and the call runs (untracked, if no run could be started).
    """
    with fit_guard():
        own: AbstractContextManager[ActiveRun] | None = None
        handle = active_run()
        if handle is None:
            try:
                own = tracking.run(experiment=experiment, name=name, tags=tags)
                handle = own.__enter__()
            except Exception as exc:
                if not lenient:
                    raise
                warn("starting a run", exc)
                own = handle = None
        try:
            if handle is not None:
                run_steps(_steps(before, handle, lenient=lenient), lenient=lenient)
            start = time.perf_counter()
            result = call()
            seconds = time.perf_counter() - start
            if handle is not None:
                run_steps(_steps(after, handle, seconds, lenient=lenient), lenient=lenient)
        except BaseException as exc:
            if own is not None:
                _end(own, exc)
            raise
        if own is not None:
            _end(own, None, lenient=lenient)
        return result


def _steps(make: Callable[..., Sequence[Step]], *args: Any, lenient: bool) -> Sequence[Step]:
    if not lenient:
        return make(*args)
    try:
        return make(*args)
    except Exception as exc:
        warn("preparing what to log", exc)
        return []


def _end(
    own: AbstractContextManager[ActiveRun], exc: BaseException | None, *, lenient: bool = True
) -> None:
    """End a run started by :func:`tracked_call`; a store error while ending a run whose call
    failed is only warned about, so the caller's exception is the one that propagates."""
    try:
        if exc is None:
            own.__exit__(None, None, None)
        else:
            own.__exit__(type(exc), exc, exc.__traceback__)
    except Exception as err:
        if err is exc:
            return
        if exc is None and not lenient:
            raise
        warn("ending the run", err)
