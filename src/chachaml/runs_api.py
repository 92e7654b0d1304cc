"""Every write to a run, in one place: ``ml.run()``'s handle, the HTTP write API and the remote
store's server side all call these functions, so a run written any way behaves the same.

Each function validates its input (one message format, ``InvalidInput``), then calls the store
protocol; an unknown run raises ``NotFound`` and stores nothing.

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

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from chachaml import alert_api, context, datasets, envinfo, query, validate
from chachaml.errors import AlreadyExists, InvalidInput, NotFound
from chachaml.store import Store
from chachaml.store.protocol import MetricPoint, NewRun, RunQuery

__all__ = [
    "DEFAULT_EXPERIMENT",
    "add_tag",
    "archive_before",
    "create_run",
    "delete_run",
    "end_run",
    "finish_run",
    "heartbeat",
    "insert_run",
    "log_dataset",
    "log_metric_batch",
    "log_metric_points",
    "log_params",
    "log_tags",
    "new_run_id",
    "record_dataset",
    "remove_tag",
    "rename_run",
    "set_note",
]

DEFAULT_EXPERIMENT = "default"
MAX_ERROR_CHARS = 10_000
#: Upper bound on points per ``log_metric_points`` call (the HTTP API caps batches too).
MAX_POINTS_PER_CALL = 1_000_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _store(store: Store | None) -> Store:
    # Writes leave buffered metric points to the background writer (no flush).
    return context.resolve(store, flush=False)


def new_run_id() -> str:
    """A random (version 4) UUID as 32 hex characters, without importing ``uuid``."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


def insert_run(
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
) -> str:
    """Create a run with status ``running``; returns its id (nothing is read back).

    ``run_id`` lets a client choose the id (32 lowercase hex characters) so a retried request
    can be recognised; ``AlreadyExists`` if taken. ``NotFound`` for an unknown parent.
    """
    st = _store(store)
    env_plain = dict(validate.json_value(validate.mapping(env, "env"), "env")) if env else {}
    new = NewRun(
        id=validate.run_id(run_id) if run_id is not None else new_run_id(),
        experiment=validate.name(
            DEFAULT_EXPERIMENT if experiment is None else experiment, "experiment"
        ),
        name=validate.optional_name(name, "run name"),
        start_time=validate.optional_int64(start_time, "start_time") or _now_ms(),
        created_by=validate.name(created_by, "created_by")
        if created_by is not None
        else envinfo.current_user(),
        parent_run_id=None if parent_run_id is None else validate.run_id(parent_run_id),
        tags=validate.tags(tags) if tags is not None else {},
        env=env_plain,
        host=validate.optional_name(host, "host"),
        pid=validate.optional_int64(pid, "pid"),
    )
    if run_id is not None and st.meta.get_run(new.id) is not None:
        raise AlreadyExists(f"run {new.id} already exists")
    st.meta.create_run(new)
    return new.id


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
    """:func:`insert_run`, returning the new run's dict (no context is entered)."""
    st = _store(store)
    new_id = insert_run(
        experiment=experiment,
        name=name,
        tags=tags,
        parent_run_id=parent_run_id,
        created_by=created_by,
        run_id=run_id,
        start_time=start_time,
        env=env,
        host=host,
        pid=pid,
        store=st,
    )
    return query.get_run(new_id, store=st)


def finish_run(
    run_id: str,
    status: str = "completed",
    error: str | None = None,
    end_time: int | None = None,
    *,
    store: Store | None = None,
) -> None:
    """Record a final status (``completed``, ``failed``, ``killed`` or ``crashed``); a long
    error text is cut to its first 10,000 characters."""
    st = _store(store)
    run_id = query.find_run_id(run_id, store=st)
    status = validate.status(status, validate.FINAL_STATUSES)
    error = validate.error_text(error)
    end = validate.optional_int64(end_time, "end_time") or _now_ms()
    st.meta.finish_run(run_id, status, end, None if error is None else error[:MAX_ERROR_CHARS])
    # -- alerts: with CHACHAML_ALERTS_ON_END=1, check this run's alerts now (never raises; the
    # deliveries take at most the alert delivery timeout) ------------------------------------
    alert_api.on_run_end(run_id, store=st)


def end_run(
    run_id: str,
    status: str = "completed",
    error: str | None = None,
    end_time: int | None = None,
    *,
    store: Store | None = None,
) -> dict[str, Any]:
    """:func:`finish_run`, returning the run dict."""
    st = _store(store)
    finish_run(run_id, status, error, end_time, store=st)
    return query.get_run(run_id, store=st)


def rename_run(run_id: str, name: str, *, store: Store | None = None) -> None:
    _store(store).meta.rename_run(
        query.find_run_id(run_id, store=store), validate.name(name, "run name")
    )


def log_params(run_id: str, params: Mapping[str, Any], *, store: Store | None = None) -> None:
    """Log params atomically (``ParamConflict`` if a key already has another value)."""
    encoded = {
        validate.key(k, "param key"): validate.param_json(k, v)
        for k, v in validate.mapping(params, "params").items()
    }
    _store(store).meta.log_params(query.find_run_id(run_id, store=store), encoded)


def log_tags(run_id: str, tags: Mapping[str, Any], *, store: Store | None = None) -> None:
    """Set (or replace) several tags of a run (``True`` becomes ``"true"``)."""
    checked = validate.tags(tags)
    _store(store).meta.set_tags(query.find_run_id(run_id, store=store), checked)


def add_tag(run_id: str, key: str, value: Any, *, store: Store | None = None) -> None:
    """Set (or replace) one tag on any run.

    >>> ml.add_tag(run_id, "reviewed", True)  # doctest: +SKIP
    """
    log_tags(run_id, {validate.key(key, "tag key"): value}, store=store)


def remove_tag(run_id: str, key: str, *, store: Store | None = None) -> bool:
    """Remove a tag; returns whether it existed."""
    return _store(store).meta.delete_tag(
        query.find_run_id(run_id, store=store), validate.key(key, "tag key")
    )


def set_note(run_id: str, markdown: str, *, store: Store | None = None) -> None:
    """Attach a markdown note (``$...$`` math allowed) to a run, replacing any earlier note."""
    _store(store).meta.set_note(query.find_run_id(run_id, store=store), validate.note(markdown))


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
    st = _store(store)
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
        when = now if ts is None else validate.optional_int64(ts, "timestamp")
        rows.append((run_id, key, step, value, now if when is None else when))
    if runs:
        known = st.meta.count_runs(RunQuery(ids=sorted(runs), limit=None, include_archived=True))
        if known != len(runs):
            missing = [i for i in sorted(runs) if st.meta.get_run(i) is None]
            raise NotFound(f"run {missing[0]!r} does not exist")
    if rows:
        st.meta.log_metrics(rows)
    return len(rows)


def delete_run(run_id: str, *, force: bool = False, store: Store | None = None) -> int:
    """Delete one run with its rows and artifact bytes; returns the artifacts removed.
    ``InUse`` if a model version is registered from it, unless ``force``."""
    st = _store(store)
    keys = st.meta.delete_run(query.find_run_id(run_id, store=st), force=bool(force))
    for key in keys:
        st.artifacts.delete(key)
    return len(keys)


def archive_before(
    before_ms: int, experiment: str | None = None, *, store: Store | None = None
) -> int:
    """Archive finished runs that ended before ``before_ms`` (epoch ms); returns the count."""
    cutoff = validate.optional_int64(before_ms, "before_ms")
    if cutoff is None:
        raise InvalidInput("before_ms is required")
    return _store(store).meta.archive_runs(cutoff, validate.optional_name(experiment, "experiment"))


DATASET_FIELDS = ("role", "name", "n_rows", "n_cols", "features", "hash", "source")


def record_dataset(
    run_id: str,
    data: Any = None,
    *,
    role: str = "train",
    name: str | None = None,
    n_rows: int | None = None,
    n_cols: int | None = None,
    features: Sequence[str] | None = None,
    hash: str | None = None,
    source: str | None = None,
    store: Store | None = None,
) -> dict[str, Any]:
    """Record metadata about data a run used; computed from a DataFrame/array when given."""
    run_id = validate.run_id(run_id)
    record = datasets.build(
        data,
        role=role,
        name=name,
        n_rows=n_rows,
        n_cols=n_cols,
        features=features,
        hash=hash,
        source=source,
        now_ms=_now_ms(),
    )
    return _store(store).meta.add_dataset(run_id, record)


def log_dataset(run_id: str, dataset: Mapping[str, Any], *, store: Store | None = None) -> Any:
    """:func:`record_dataset` from a mapping of its fields (``role``, ``name``, ``n_rows``,
    ``n_cols``, ``features``, ``hash``, ``source``), as the HTTP API receives them."""
    fields = dict(validate.mapping(dataset, "dataset"))
    unknown = set(fields) - set(DATASET_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown dataset fields: {', '.join(sorted(map(str, unknown)))}")
    if fields.get("role") is None:
        fields.pop("role", None)
    return record_dataset(run_id, store=store, **fields)


def heartbeat(run_ids: Sequence[str], *, store: Store | None = None) -> None:
    """Mark runs as alive now (a ``running`` run without heartbeats reads as ``crashed``)."""
    ids = [validate.run_id(i) for i in run_ids]
    if ids:
        _store(store).meta.heartbeat(ids, _now_ms())
