"""Ambient context: the current store and the current run live in ``contextvars``.

Nested scopes restore what was there before; asyncio tasks inherit the context of the code that
created them. Threads start with an empty context in Python, so hand them your context with
:func:`bind`::

    with ml.run(experiment="cv"):
        with ThreadPoolExecutor() as pool:
            pool.map(ml.bind(train_fold), folds)   # each fold logs into the run

Runs started with ``ml.start_run()`` are also kept on a process-wide stack, so the explicit style
keeps working in notebooks whose cells do not share one context.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from chachaml.errors import InvalidInput

if TYPE_CHECKING:
    from chachaml.store import Store
    from chachaml.tracking import ActiveRun

P = ParamSpec("P")
R = TypeVar("R")

_store_var: contextvars.ContextVar[Store | None] = contextvars.ContextVar(
    "chachaml_store", default=None
)
_run_var: contextvars.ContextVar[ActiveRun | None] = contextvars.ContextVar(
    "chachaml_run", default=None
)

_lock = threading.Lock()
_default_store: Store | None = None
_explicit_runs: list[ActiveRun] = []  # runs opened by start_run(), innermost last


def current_store() -> Store:
    """The active store: the innermost ``ml.store(...)`` scope, else the process default.

    The process default is opened lazily from ``CHACHAML_STORE``/``CHACHAML_ARTIFACTS`` or
    ``./chachaml.db`` on first use.
    """
    store = _store_var.get()
    if store is not None:
        return store
    global _default_store
    with _lock:
        if _default_store is None or _default_store.closed:
            from chachaml.store import open_store

            _default_store = open_store()
        return _default_store


def use_store(url_or_store: str | Store | None = None, *, artifacts: str | None = None) -> Store:
    """Set the process-wide default store and return it.

    ``ml.use_store("sqlite:///team.db")``; ``ml.use_store()`` goes back to the environment
    default. The previous default store is flushed and closed.
    """
    from chachaml.store import Store, open_store

    if isinstance(url_or_store, Store):
        new = url_or_store
    elif url_or_store is None or isinstance(url_or_store, str):
        new = open_store(url_or_store, artifacts)
    else:
        raise InvalidInput(
            f"use_store() takes a URL string or a Store, got {type(url_or_store).__name__}"
        )
    global _default_store
    with _lock:
        old, _default_store = _default_store, new
    if old is not None and old is not new:
        old.close()
    return new


@contextmanager
def store(
    url_or_store: str | Store | None = None, *, artifacts: str | None = None
) -> Iterator[Store]:
    """Scope a store: ``with ml.store("sqlite:///other.db"): ...``.

    A store opened from a URL here is closed when the block ends; a ``Store`` passed in is not.
    """
    from chachaml.store import Store, open_store

    owned = not isinstance(url_or_store, Store)
    if isinstance(url_or_store, Store):
        st = url_or_store
    elif url_or_store is None or isinstance(url_or_store, str):
        st = open_store(url_or_store, artifacts)
    else:
        raise InvalidInput(
            f"store() takes a URL string or a Store, got {type(url_or_store).__name__}"
        )
    token = _store_var.set(st)
    try:
        yield st
    finally:
        _store_var.reset(token)
        if owned:
            st.close()


def current_active_run() -> ActiveRun | None:
    run = _run_var.get()
    if run is not None:
        return run
    with _lock:
        return _explicit_runs[-1] if _explicit_runs else None


def push_explicit(run: ActiveRun) -> None:
    with _lock:
        _explicit_runs.append(run)


def pop_explicit(run: ActiveRun) -> None:
    with _lock:
        if run in _explicit_runs:
            _explicit_runs.remove(run)


def bind(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``fn`` so it runs in the caller's context (current store and run), e.g. in threads.

    >>> import chachaml as ml
    >>> worker = ml.bind(lambda: ml.current_run())
    """
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def bound(*args: P.args, **kwargs: P.kwargs) -> R:
        # A Context can be entered by one thread at a time; copy it per call.
        return ctx.copy().run(fn, *args, **kwargs)

    return bound


def _reset_for_tests() -> Any:  # pragma: no cover - used by the test-suite fixtures only
    global _default_store
    with _lock:
        old, _default_store = _default_store, None
        _explicit_runs.clear()
    return old
