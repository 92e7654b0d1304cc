"""Run lifecycle and logging: ``ml.run``, ``start_run``/``end_run``, ``tracked``, ``log_*``.

>>> import chachaml as ml
>>> with ml.store("sqlite:///:memory:"):
...     with ml.run(experiment="demo") as run:
...         ml.log_params({"lr": 0.1})
...         for epoch in range(3):
...             ml.log_metric("loss", 1.0 / (epoch + 1))
...     ml.get_run(run.id)["metrics"]["loss"]
0.3333333333333333
"""

from __future__ import annotations

import contextvars
import functools
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar, overload

from chachaml import artifact_api, context, envinfo, query, runs_api, sysmetrics, validate
from chachaml.errors import InvalidInput, NoActiveRun
from chachaml.store import Store
from chachaml.store.protocol import MetricPoint
from chachaml.store.writer import HIGH_WATER

F = TypeVar("F", bound=Callable[..., Any])

INT64_MIN = validate.INT64_MIN
INT64_MAX = validate.INT64_MAX

_batch_var: contextvars.ContextVar[dict[Store, list[MetricPoint]] | None] = contextvars.ContextVar(
    "chachaml_metric_batch", default=None
)
_time_ns = time.time_ns
_run_get = context.run_var.get
# System-metrics samplers by run id, so that ending a run by id from anywhere stops its sampler.
_samplers: dict[str, sysmetrics.SystemMetricsSampler] = {}


class ActiveRun(Mapping[str, Any]):
    """Handle of a run in progress: ``.id``, the ``log_*`` methods, and ``dict(run)``/``.info``.

    Usable as a context manager; on exit the run ends ``completed``, ``failed`` (exception) or
    ``killed`` (``KeyboardInterrupt``).
    """

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __init__(self, store: Store, run_id: str, experiment: str, parent: ActiveRun | None):
        self.id = run_id
        self.experiment = experiment
        self.store = store
        self.parent = parent
        self.ended = False
        self._next_step: dict[str, int] = {}
        self._metric_keys: set[str] = set()
        self._buffer = store.writer.buffer
        self._append = store.writer.buffer.append
        self._token: contextvars.Token[ActiveRun | None] | None = None
        self._explicit = False
        self._snapshot: dict[str, Any] | None = None
        #: The system-metrics sampler of this run (``ml.run(..., system_metrics=True)``), or None.
        self.sampler: sysmetrics.SystemMetricsSampler | None = None

    # -- mapping protocol: the run dict ---------------------------------------------------------
    @property
    def info(self) -> dict[str, Any]:
        """A fresh run dict (buffered metrics are written first)."""
        run = query.get_run(self.id, store=self.store)
        self._snapshot = run
        return run

    def keys(self) -> Any:
        return self.info.keys()

    def __getitem__(self, key: str) -> Any:
        snap = self._snapshot if self._snapshot is not None else self.info
        return snap[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.info)

    def __len__(self) -> int:
        return len(self.info)

    def __repr__(self) -> str:
        state = "ended" if self.ended else "running"
        return f"<chachaml run {self.id} experiment={self.experiment!r} {state}>"

    # -- logging ----------------------------------------------------------------------------------
    def check_open(self) -> None:
        """Raise ``InvalidInput`` if the run has ended."""
        if self.ended:
            raise InvalidInput(f"run {self.id} has ended; start a new run to log more")

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Log one metric point; ``step`` defaults to the next step of this key (from 0)."""
        if self.ended or key not in self._metric_keys:
            self.check_open()
            self._metric_keys.add(validate.key(key, "metric key"))
        if type(value) is not float:
            value = validate.metric_value(value, key)
        nxt = self._next_step.get(key, 0)
        if step is None:
            step = nxt
            if step > INT64_MAX:  # after an explicit step at the very top of the range
                raise InvalidInput(f"metric {key!r}: the next step is outside the int64 range")
        elif type(step) is not int or not INT64_MIN <= step <= INT64_MAX:
            step = validate.step(step, key)
        if step >= nxt:
            self._next_step[key] = step + 1
        point = (self.id, key, step, value, _time_ns() // 1_000_000)
        batch = _batch_var.get()
        if batch is not None:
            batch.setdefault(self.store, []).append(point)
            return
        self._append(point)
        if len(self._buffer) >= HIGH_WATER:
            self.store.writer.pressure()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log several metrics at once, all at ``step`` (or each at its own next step)."""
        validate.mapping(metrics, "metrics")
        checked = [(k, validate.metric_value(v, str(k))) for k, v in metrics.items()]
        for k, _ in checked:
            validate.key(k, "metric key")
        if step is not None:
            step = validate.step(step, "metrics")
        for k, v in checked:
            self.log_metric(k, v, step)

    def log_param(self, key: str, value: Any) -> None:
        """Log one immutable param; re-logging the same value is a no-op."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log params atomically: on ``ParamConflict`` nothing of this call is stored."""
        self.check_open()
        runs_api.log_params(self.id, params, store=self.store)

    def log_tag(self, key: str, value: Any) -> None:
        self.log_tags({key: value})

    def log_tags(self, tags: Mapping[str, Any]) -> None:
        """Set mutable string tags (``True`` becomes ``"true"``); a later value replaces."""
        runs_api.log_tags(self.id, tags, store=self.store)

    def set_name(self, name: str) -> None:
        runs_api.rename_run(self.id, name, store=self.store)

    def set_note(self, markdown: str) -> None:
        runs_api.set_note(self.id, markdown, store=self.store)

    def log_dataset(
        self,
        data: Any = None,
        *,
        role: str = "train",
        name: str | None = None,
        n_rows: int | None = None,
        n_cols: int | None = None,
        features: Sequence[str] | None = None,
        hash: str | None = None,
        source: str | None = None,
    ) -> dict[str, Any]:
        """Record metadata about data the run used; computed from a DataFrame/array when given."""
        self.check_open()
        return runs_api.record_dataset(
            self.id,
            data,
            role=role,
            name=name,
            n_rows=n_rows,
            n_cols=n_cols,
            features=features,
            hash=hash,
            source=source,
            store=self.store,
        )

    # -- lifecycle --------------------------------------------------------------------------------
    def end(self, status: str = "completed", error: str | None = None) -> None:
        """Flush this run's metrics (durable when this returns) and record its final status."""
        if self.ended:
            return
        validate.status(status, validate.FINAL_STATUSES)
        validate.error_text(error)  # refused before the run ends, so a bad call changes nothing
        self.stop_system_metrics()  # its last sample is flushed with the run's other points
        self.ended = True
        try:
            self.store.flush()
            self._write_pending_batch()
        finally:
            self.store.writer.active_runs.discard(self.id)
            try:
                runs_api.finish_run(self.id, status, error, store=self.store)
            finally:  # even if the store failed, the enclosing run becomes current again
                self._detach()

    def stop_system_metrics(self) -> None:
        """Stop and join this run's system-metrics sampler (after one last sample), if any."""
        sampler, self.sampler = self.sampler, None
        if sampler is not None:
            _samplers.pop(self.id, None)
            sampler.stop()

    def _write_pending_batch(self) -> None:
        """Points of this run still held by an enclosing ``batched_metrics()`` block are written
        now, so that ``end`` keeps its promise that the run's points are durable."""
        batch = _batch_var.get()
        points = batch.get(self.store) if batch is not None else None
        if not points:
            return
        mine = [p for p in points if p[0] == self.id]
        if mine:
            points[:] = [p for p in points if p[0] != self.id]
            self.store.meta.log_metrics(mine)

    def _detach(self) -> None:
        if self._token is not None:
            try:
                context.run_var.reset(self._token)
            except ValueError:  # ended from another context (e.g. a later notebook cell)
                context.run_var.set(self.parent if self.parent and not self.parent.ended else None)
            self._token = None
        if self._explicit:
            context.pop_explicit(self)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end("completed")
        elif isinstance(exc, KeyboardInterrupt):
            self.end("killed", "KeyboardInterrupt")
        else:
            import traceback

            text = "".join(traceback.format_exception(exc_type, exc, tb))
            self.end("failed", f"{type(exc).__name__}: {exc}\n\n{text}")

    # -- artifacts (see chachaml.artifact_api) ---------------------------------------------------
    def log_artifact(
        self, name: str, value: Any, format: str | None = None, content_type: str | None = None
    ) -> dict[str, Any]:
        """Store ``value`` as artifact ``name`` of this run (format chosen from the value)."""
        self.check_open()
        return artifact_api.log_artifact_to(self.store, self.id, name, value, format, content_type)

    def log_file(self, name: str, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Copy a file into this run as artifact ``name``, streaming."""
        self.check_open()
        return artifact_api.log_file_to(self.store, self.id, name, path)

    def log_table(self, name: str, table: Any) -> dict[str, Any]:
        """Store a table (headers+rows, list of dicts, or DataFrame) as artifact ``name``."""
        self.check_open()
        return artifact_api.log_table_to(self.store, self.id, name, table)


def _start(
    experiment: str | None,
    name: str | None,
    tags: Mapping[str, Any] | None,
    parent: str | ActiveRun | None,
    created_by: str | None,
    nested: bool | None,
    store: Store | None,
    *,
    explicit: bool,
    system_metrics: bool | None = None,
    system_metrics_interval: float | None = None,
) -> ActiveRun:
    interval = sysmetrics.settings(system_metrics, system_metrics_interval)
    st = context.resolve(store, flush=False)
    outer = context.current_active_run()
    if outer is not None and (outer.store is not st or outer.ended):
        outer = None
    if (
        explicit
        and nested is None
        and parent is None
        and isinstance(outer, ActiveRun)
        and outer._explicit
    ):
        raise InvalidInput(
            f"run {outer.id} (started with ml.start_run()) has not ended. End it first with "
            "ml.end_run(), or say what the new run is: start_run(..., nested=True) for a child "
            "of it, start_run(..., nested=False) for a separate run"
        )
    parent_handle: ActiveRun | None = None
    if isinstance(parent, ActiveRun):
        parent_handle, parent_id = parent, parent.id
    elif parent is not None:
        parent_id = validate.run_id(parent)
    elif nested is not False and isinstance(outer, ActiveRun):
        parent_handle, parent_id = outer, outer.id
    else:
        parent_id = None
    if experiment is None and parent_handle is not None:
        experiment = parent_handle.experiment
    sampler = None
    # From the environment only top-level runs sample (folds of a CV would repeat the parent's).
    if interval is not None and (system_metrics is not None or parent_id is None):
        sampler = sysmetrics.SystemMetricsSampler(_no_sink, interval)  # checks psutil first
    run_id = runs_api.insert_run(
        experiment=experiment,
        name=name,
        tags=tags,
        parent_run_id=parent_id,
        created_by=created_by,
        env=envinfo.snapshot(),
        host=envinfo.hostname(),
        pid=os.getpid(),
        store=st,
    )
    handle = ActiveRun(
        st, run_id, runs_api.DEFAULT_EXPERIMENT if experiment is None else experiment, parent_handle
    )
    st.writer.active_runs.add(run_id)
    st.writer.start()
    handle._token = context.run_var.set(handle)
    if sampler is not None:
        sampler.sink = functools.partial(_log_sample, handle)
        try:
            handle.sampler = _samplers[run_id] = sampler.start()
        except Exception as exc:  # monitoring must not stop the training it watches
            import logging

            logging.getLogger("chachaml").warning(
                "chachaml: system metrics could not start for run %s: %s", run_id, exc
            )
    return handle


def _no_sink(values: dict[str, float], step: int) -> None:
    """The sink of a sampler until its run exists."""


def _log_sample(handle: ActiveRun, values: dict[str, float], step: int) -> None:
    if handle.ended:  # a safety net: the run ended without stopping its sampler
        sampler, handle.sampler = handle.sampler, None
        _samplers.pop(handle.id, None)
        if sampler is not None:
            sampler.stop(final_sample=False)  # from its own thread: no join, no last sample
        return
    handle.log_metrics(values, step=step)


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    parent: str | ActiveRun | None = None,
    created_by: str | None = None,
    nested: bool | None = None,
    *,
    store: Store | None = None,
    system_metrics: bool | None = None,
    system_metrics_interval: float | None = None,
) -> ActiveRun:
    """Start a run and make it current; end it with ``ml.end_run()`` (or use it in ``with``).

    Inside a ``with ml.run()`` block the new run is its child (``nested=False`` for a
    separate run). While another ``start_run()`` run has not ended, ``InvalidInput`` is raised
    unless ``nested`` says what is meant: a forgotten ``end_run()`` in a notebook never turns
    later runs into children silently.
    """
    handle = _start(
        experiment,
        name,
        tags,
        parent,
        created_by,
        nested,
        store,
        explicit=True,
        system_metrics=system_metrics,
        system_metrics_interval=system_metrics_interval,
    )
    handle._explicit = True
    context.push_explicit(handle)
    return handle


@contextmanager
def run(
    experiment: str | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    parent: str | ActiveRun | None = None,
    created_by: str | None = None,
    nested: bool | None = None,
    *,
    store: Store | None = None,
    system_metrics: bool | None = None,
    system_metrics_interval: float | None = None,
) -> Iterator[ActiveRun]:
    """Track the block as one run: ``with ml.run(experiment="iris") as run: ...``.

    Ends ``completed`` normally, ``failed`` with the error text when an exception escapes (the
    exception propagates), ``killed`` on ``KeyboardInterrupt``. Runs opened inside become children
    (``nested=False`` for a separate run). ``system_metrics=True`` samples CPU, memory, disk,
    network and GPU into ``system/...`` metrics every ``system_metrics_interval`` seconds
    (default: ``CHACHAML_SYSTEM_METRICS`` / ``CHACHAML_SYSTEM_METRICS_INTERVAL``).
    """
    handle = _start(
        experiment,
        name,
        tags,
        parent,
        created_by,
        nested,
        store,
        explicit=False,
        system_metrics=system_metrics,
        system_metrics_interval=system_metrics_interval,
    )
    with handle:
        yield handle


def end_run(
    run: ActiveRun | str | None = None, status: str = "completed", error: str | None = None
) -> None:
    """End ``run`` (a handle or a run id; default: the current run) with ``status``.

    Returns once the run's metrics are durable. A run of another process (or one already
    ended here) can be ended by id too.

    >>> ml.end_run()                                   # doctest: +SKIP
    >>> ml.end_run(status="failed", error="diverged")  # doctest: +SKIP
    """
    if run is None:
        current_run().end(status, error)
        return
    if isinstance(run, ActiveRun):
        run.end(status, error)
        return
    if not isinstance(run, str):
        raise InvalidInput(f"end_run() takes a run handle or a run id, got {type(run).__name__}")
    if run in validate.RUN_STATUSES:
        raise InvalidInput(
            f"end_run({run!r}): the first argument is the run; pass the status by keyword: "
            f"ml.end_run(status={run!r})"
        )
    run_id = query.find_run_id(run)
    handle = context.find_active_run(run_id)
    if isinstance(handle, ActiveRun):
        handle.end(status, error)
    else:
        sampler = _samplers.pop(run_id, None)  # a run of this process from another context
        if sampler is not None:
            sampler.stop(final_sample=False)
        runs_api.finish_run(run_id, status, error)


def current_run() -> ActiveRun:
    """The active run handle; raises ``NoActiveRun`` outside a run."""
    handle: ActiveRun | None = context.current_active_run()
    if handle is None or handle.ended:
        raise NoActiveRun("current_run()")
    return handle


def _active(what: str) -> ActiveRun:
    handle: ActiveRun = context.active_run(what)
    return handle


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log a metric point to the current run (see :meth:`ActiveRun.log_metric`)."""
    handle = _run_get()
    if handle is None or handle.ended:
        handle = _active("log_metric()")
    handle.log_metric(key, value, step)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    _active("log_metrics()").log_metrics(metrics, step)


def log_param(key: str, value: Any) -> None:
    _active("log_param()").log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    _active("log_params()").log_params(params)


def log_tag(key: str, value: Any) -> None:
    _active("log_tag()").log_tag(key, value)


def log_tags(tags: Mapping[str, Any]) -> None:
    _active("log_tags()").log_tags(tags)


def set_name(name: str) -> None:
    """Rename the current run."""
    _active("set_name()").set_name(name)


def log_dataset(
    data: Any = None,
    *,
    role: str = "train",
    name: str | None = None,
    n_rows: int | None = None,
    n_cols: int | None = None,
    features: Sequence[str] | None = None,
    hash: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Record the data the current run used (role ``train``/``test``/``validation``/...)."""
    return _active("log_dataset()").log_dataset(
        data,
        role=role,
        name=name,
        n_rows=n_rows,
        n_cols=n_cols,
        features=features,
        hash=hash,
        source=source,
    )


@contextmanager
def batched_metrics() -> Iterator[None]:
    """Buffer metric points of this block and write them in one transaction per store at exit.

    Each point goes to the run that was current when it was logged (a nested run keeps its own
    points); the batch is written on normal exit and on error alike.
    """
    batch: dict[Store, list[MetricPoint]] = {}
    token = _batch_var.set(batch)
    try:
        yield
    finally:
        _batch_var.reset(token)
        for st, points in batch.items():
            st.flush()  # earlier buffered points of the same keys go first
            st.meta.log_metrics(points)


@overload
def tracked(fn: F) -> F: ...


@overload
def tracked(
    fn: None = None,
    *,
    experiment: str | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Callable[[F], F]: ...


def tracked(
    fn: F | None = None,
    *,
    experiment: str | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> F | Callable[[F], F]:
    """Decorator: every call of the function is its own run (sync or ``async def``).

    The run name defaults to the function name and the tag ``tracked_fn`` records
    ``module.qualname``. Generator functions are refused: a run cannot span ``yield`` safely.
    """

    import inspect

    def decorate(func: F) -> F:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise InvalidInput(
                f"@tracked cannot wrap generator {func.__qualname__}: a run would leak into the "
                "caller between yields; collect the results in a list, or use `with ml.run()` "
                "inside"
            )
        run_tags = {
            **(dict(tags) if tags else {}),
            "tracked_fn": f"{func.__module__}.{func.__qualname__}",
        }
        run_name = name or func.__name__

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with run(experiment=experiment, name=run_name, tags=run_tags):
                    result: Awaitable[Any] = func(*args, **kwargs)
                    return await result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with run(experiment=experiment, name=run_name, tags=run_tags):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate
