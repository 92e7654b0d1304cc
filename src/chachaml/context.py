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
from typing import Any, ParamSpec, Protocol, TypeVar

from chachaml import liveness
from chachaml.errors import InvalidInput, NoActiveRun
from chachaml.store import Store, open_store

__all__ = [
    "RunHandle",
    "active_run",
    "bind",
    "current_active_run",
    "current_store",
    "find_active_run",
    "pop_explicit",
    "push_explicit",
    "resolve",
    "run_var",
    "store",
    "use_store",
]

P = ParamSpec("P")
R = TypeVar("R")


class RunHandle(Protocol):
    """What the context keeps of a run in progress (``tracking.ActiveRun`` is the one
    implementation): enough for services to log into the current run without knowing the
    tracking layer above them."""

    @property
    def id(self) -> str: ...

    @property
    def store(self) -> Store: ...

    @property
    def ended(self) -> bool: ...

    def check_open(self) -> None:
        """Raise ``InvalidInput`` if the run has ended."""


_store_var: contextvars.ContextVar[Store | None] = contextvars.ContextVar(
    "chachaml_store", default=None
)
#: The run of this context (``ml.run()`` blocks); the logging hot path reads it directly.
run_var: contextvars.ContextVar[Any] = contextvars.ContextVar("chachaml_run", default=None)

_lock = threading.Lock()
_default_store: Store | None = None
_explicit_runs: list[Any] = []  # RunHandle  # runs opened by start_run(), innermost last


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
            _default_store = open_store()
        return _default_store


def use_store(url_or_store: str | Store | None = None, *, artifacts: str | None = None) -> Store:
    """Set the process-wide default store and return it.

    ``ml.use_store("sqlite:///team.db")``; ``ml.use_store()`` goes back to the environment
    default. The previous default store is flushed and closed.
    """
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


def resolve(store: Store | None, *, flush: bool = True) -> Store:
    """The store a service call works on: ``store`` if given, else :func:`current_store`.

    On a store's first use, runs of dead local processes are finalised (see
    :mod:`chachaml.liveness`). With ``flush`` (for reads), buffered metric points of this
    process are written first, so a read sees everything logged so far (cheap when nothing
    is buffered); writes leave the buffer to the background writer.
    """
    st = store if store is not None else current_store()
    liveness.finalize_crashed_once(st)
    if flush:
        st.flush()
    return st


def current_active_run() -> Any:
    """The innermost run in progress (a ``RunHandle``: this context's, else the newest one
    opened with ``start_run``), or None."""
    run = run_var.get()
    if run is not None:
        return run
    with _lock:
        return _explicit_runs[-1] if _explicit_runs else None


def find_active_run(run_id: str) -> Any:
    """The handle of run ``run_id`` if it is in progress in this process (this context's run,
    its parents, or a ``start_run`` run), else None."""
    run = run_var.get()
    while run is not None:
        if run.id == run_id:
            return run
        run = getattr(run, "parent", None)
    with _lock:
        for handle in _explicit_runs:
            if handle.id == run_id:
                return handle
    return None


def active_run(what: str) -> Any:
    """The run in progress for ``what`` (e.g. ``"log_metric()"``); ``NoActiveRun`` outside one."""
    handle = run_var.get()
    if handle is None or handle.ended:
        handle = current_active_run()
        if handle is None or handle.ended:
            raise NoActiveRun(what)
    return handle


def push_explicit(run: RunHandle) -> None:
    with _lock:
        _explicit_runs.append(run)


def pop_explicit(run: RunHandle) -> None:
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
