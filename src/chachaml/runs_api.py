"""Writing to runs by id, without a Python run context.

The HTTP write API (and any importer) uses these: they validate like the ``ActiveRun`` methods
and call the store protocol, so a run created over HTTP behaves exactly like one created with
``ml.run()``.

>>> import chachaml as ml
>>> from chachaml import runs_api
>>> with ml.store("sqlite:///:memory:") as st:
...     run = runs_api.create_run(experiment="curl", store=st)
...     runs_api.log_metric_points(run["id"], [("loss", 0, 0.5, None)], store=st)
...     runs_api.end_run(run["id"], "completed", store=st)["status"]
1
'completed'
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from chachaml import datasets, envinfo, validate
from chachaml.errors import InvalidInput, NotFound
from chachaml.query import _require, resolve
from chachaml.store import Store
from chachaml.store.protocol import MetricPoint, NewRun
from chachaml.tracking import DEFAULT_EXPERIMENT, MAX_ERROR_CHARS, new_run_id

__all__ = [
    "archive_before",
    "create_run",
    "delete_run",
    "end_run",
    "heartbeat",
    "log_dataset",
    "log_metric_batch",
    "log_metric_points",
    "log_params",
    "log_tags",
    "rename_run",
]

#: Upper bound on points per ``log_metric_points`` call (the HTTP API caps batches too).
MAX_POINTS_PER_CALL = 1_000_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _int_or_none(value: object, what: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not validate.INT64_MIN <= value <= validate.INT64_MAX:
        raise InvalidInput(f"{what} must be an integer, got {value!r}")
    return value


def create_run(
    *,
    experiment: str | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    parent_run_id: str | None = None,
    created_by: str | None = None,
    run_id: str | None = None,
    start_time: int | None = None,
    env: Mapping[str, Any] | None = None,
    host: str | None = None,
    pid: int | None = None,
    store: Store | None = None,
) -> dict[str, Any]:
    """Create a run with status ``running`` and return its dict (no context is entered).

    ``run_id`` lets a client choose the id (32 lowercase hex characters) so a retried request
    can be recognised; ``AlreadyExists`` if taken.
    """
    st = resolve(store)
    env_plain = dict(validate.mapping(env, "env")) if env is not None else {}
    new = NewRun(
        id=validate.run_id(run_id) if run_id is not None else new_run_id(),
        experiment=validate.name(experiment or DEFAULT_EXPERIMENT, "experiment"),
        name=validate.optional_name(name, "run name"),
        start_time=_int_or_none(start_time, "start_time") or _now_ms(),
        created_by=validate.name(created_by, "created_by")
        if created_by is not None
        else envinfo.current_user(),
        parent_run_id=None if parent_run_id is None else validate.run_id(parent_run_id),
        tags=validate.tags(tags) if tags is not None else {},
        env=env_plain,
        host=validate.optional_name(host, "host"),
        pid=_int_or_none(pid, "pid"),
    )
    if new.id and st.meta.get_run(new.id) is not None:
        from chachaml.errors import AlreadyExists

        raise AlreadyExists(f"run {new.id} already exists")
    st.meta.create_run(new)
    return _require(new.id, st)


def end_run(
    run_id: str,
    status: str = "completed",
    error: str | None = None,
    end_time: int | None = None,
    *,
    store: Store | None = None,
) -> dict[str, Any]:
    """Record a final status (``completed``, ``failed``, ``killed`` or ``crashed``)."""
    st = resolve(store)
    run_id = validate.run_id(run_id)
    status = validate.status(status, validate.FINAL_STATUSES)
    if error is not None and not isinstance(error, str):
        raise InvalidInput("error must be a string")
    end = _int_or_none(end_time, "end_time") or _now_ms()
    st.meta.finish_run(run_id, status, end, None if error is None else error[:MAX_ERROR_CHARS])
    return _require(run_id, st)


def rename_run(run_id: str, name: str, *, store: Store | None = None) -> None:
    resolve(store).meta.rename_run(validate.run_id(run_id), validate.name(name, "run name"))


def log_params(run_id: str, params: Mapping[str, Any], *, store: Store | None = None) -> None:
    """Log params atomically (``ParamConflict`` if a key already has another value)."""
    encoded = {
        validate.key(k, "param key"): validate.param_json(k, v)
        for k, v in validate.mapping(params, "params").items()
    }
    st = resolve(store)
    run_id = validate.run_id(run_id)
    _require(run_id, st)
    st.meta.log_params(run_id, encoded)


def log_tags(run_id: str, tags: Mapping[str, Any], *, store: Store | None = None) -> None:
    """Set (or replace) several tags of a run."""
    st = resolve(store)
    run_id = validate.run_id(run_id)
    checked = validate.tags(tags)
    _require(run_id, st)
    st.meta.set_tags(run_id, checked)


def log_metric_points(
    run_id: str,
    points: Sequence[tuple[str, int, float, int | None]],
    *,
    store: Store | None = None,
) -> int:
    """Store ``(key, step, value, timestamp_ms or None)`` points of one run in one transaction;
    returns how many. A point for an existing ``(key, step)`` replaces it, so replaying a batch
    is harmless. ``NotFound`` for an unknown run (nothing is stored)."""
    run_id = validate.run_id(run_id)
    return log_metric_batch([(run_id, k, s, v, t) for k, s, v, t in points], store=store)


def log_metric_batch(
    points: Sequence[tuple[str, str, int, float, int | None]], *, store: Store | None = None
) -> int:
    """Store ``(run_id, key, step, value, timestamp_ms or None)`` points of any runs in one
    transaction; returns how many. ``NotFound`` (nothing stored) if any run is unknown."""
    st = resolve(store)
    if len(points) > MAX_POINTS_PER_CALL:
        raise InvalidInput(f"{len(points)} points in one call; the limit is {MAX_POINTS_PER_CALL}")
    now = _now_ms()
    keys: set[str] = set()
    runs: set[str] = set()
    rows: list[MetricPoint] = []
    for run_id, key, raw_step, raw_value, ts in points:
        if run_id not in runs:
            runs.add(validate.run_id(run_id))
        if key not in keys:
            keys.add(validate.key(key, "metric key"))
        value = raw_value if type(raw_value) is float else validate.metric_value(raw_value, key)
        step = (
            raw_step
            if type(raw_step) is int and validate.INT64_MIN <= raw_step <= validate.INT64_MAX
            else validate.step(raw_step, key)
        )
        when = now if ts is None else _int_or_none(ts, "timestamp")
        rows.append((run_id, key, step, value, now if when is None else when))
    for run_id in sorted(runs):
        if st.meta.get_run(run_id) is None:
            raise NotFound(f"run {run_id!r} does not exist")
    if rows:
        st.meta.log_metrics(rows)
    return len(rows)


def delete_run(run_id: str, *, force: bool = False, store: Store | None = None) -> int:
    """Delete one run with its rows and artifact bytes; returns the artifacts removed.
    ``InUse`` if a model version is registered from it, unless ``force``."""
    st = resolve(store)
    keys = st.meta.delete_run(validate.run_id(run_id), force=bool(force))
    for key in keys:
        st.artifacts.delete(key)
    return len(keys)


def archive_before(
    before_ms: int, experiment: str | None = None, *, store: Store | None = None
) -> int:
    """Archive finished runs that ended before ``before_ms`` (epoch ms); returns the count."""
    cutoff = _int_or_none(before_ms, "before_ms")
    if cutoff is None:
        raise InvalidInput("before_ms is required")
    return resolve(store).meta.archive_runs(
        cutoff, validate.optional_name(experiment, "experiment")
    )


def log_dataset(run_id: str, dataset: Mapping[str, Any], *, store: Store | None = None) -> Any:
    """Record dataset metadata (``role``, ``name``, ``n_rows``, ``n_cols``, ``features``,
    ``hash``, ``source``) for a run."""
    st = resolve(store)
    run_id = validate.run_id(run_id)
    fields = dict(validate.mapping(dataset, "dataset"))
    allowed = {"role", "name", "n_rows", "n_cols", "features", "hash", "source"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput(f"unknown dataset fields: {', '.join(sorted(map(str, unknown)))}")
    record = datasets.build(
        None,
        role=fields.get("role", "train"),
        name=fields.get("name"),
        n_rows=fields.get("n_rows"),
        n_cols=fields.get("n_cols"),
        features=fields.get("features"),
        hash=fields.get("hash"),
        source=fields.get("source"),
        now_ms=_now_ms(),
    )
    _require(run_id, st)
    return st.meta.add_dataset(run_id, record)


def heartbeat(run_ids: Sequence[str], *, store: Store | None = None) -> None:
    """Mark runs as alive now (a ``running`` run without heartbeats reads as ``crashed``)."""
    ids = [validate.run_id(i) for i in run_ids]
    if ids:
        resolve(store).meta.heartbeat(ids, _now_ms())
