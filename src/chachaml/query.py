"""Reading runs: list, get, search, best, compare, export. Works anywhere, not only in a run.

Every function takes an optional ``store=`` (default: the current store) and returns plain,
JSON-serialisable data.

>>> import chachaml as ml
>>> with ml.store("sqlite:///:memory:"):
...     for lr in (0.1, 0.01):
...         with ml.run(experiment="sweep"):
...             ml.log_param("lr", lr)
...             ml.log_metric("acc", 0.9 if lr == 0.1 else 0.8)
...     ml.best_run("acc", experiment="sweep")["params"]
{'lr': 0.1}
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from chachaml import config, context, envinfo, validate
from chachaml.errors import InvalidInput, NotFound
from chachaml.formatting import RunView
from chachaml.store import Store
from chachaml.store.protocol import RunQuery
from chachaml.store.sqlcommon import COMPARISONS

HEARTBEAT_TIMEOUT_MS = int(config.get("CHACHAML_HEARTBEAT_TIMEOUT") * 1000)
MAX_LIMIT = 100_000
RUN_COLUMNS = (
    "id",
    "experiment",
    "name",
    "status",
    "start_time",
    "end_time",
    "duration_ms",
    "created_by",
    "parent_run_id",
)


def resolve(store: Store | None) -> Store:
    """The given store (else the current one) with buffered points written; crashed local runs
    are finalised on first use."""
    st = store if store is not None else context.current_store()
    from chachaml.tracking import _finalize_crashed_once

    _finalize_crashed_once(st)
    st.flush()  # reads see every point logged so far by this process (cheap when empty)
    return st


def stale_before() -> int:
    """Heartbeats older than this (epoch ms) mean the run's process is gone: ``crashed``."""
    return time.time_ns() // 1_000_000 - HEARTBEAT_TIMEOUT_MS


def _parse_order(order_by: str | Sequence[str] | None) -> list[tuple[str, bool]]:
    if order_by is None:
        return []
    items = [order_by] if isinstance(order_by, str) else list(order_by)
    out = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise InvalidInput(
                f"order_by entries must be strings like 'metrics.acc desc', got {item!r}"
            )
        parts = item.split()
        field, direction = parts[0], (parts[1].lower() if len(parts) > 1 else "asc")
        if len(parts) > 2 or direction not in ("asc", "desc"):
            raise InvalidInput(f"order_by {item!r} must be '<field> [asc|desc]'")
        out.append((field, direction == "desc"))
    return out


def build_query(
    *,
    experiment: str | None = None,
    status: str | None = None,
    name: str | None = None,
    parent_run_id: str | None = None,
    created_by: str | None = None,
    tags: Mapping[str, Any] | None = None,
    ids: Sequence[str] | None = None,
    metric: tuple[str, str, float] | None = None,
    filter: str | None = None,
    order_by: str | Sequence[str] | None = None,
    limit: int | None = 100,
    offset: int = 0,
    include_archived: bool = False,
) -> RunQuery:
    """Validate query arguments (shared by the Python API, CLI and server) into a ``RunQuery``."""
    if limit is not None:
        validate.limit(limit)
        if limit > MAX_LIMIT:
            raise InvalidInput(f"limit {limit} is over the maximum {MAX_LIMIT}; page with offset")
    validate.limit(offset, "offset", allow_none=False)
    if filter is not None and not isinstance(filter, str):
        raise InvalidInput(f"filter must be a string expression, got {type(filter).__name__}")
    return RunQuery(
        experiment=validate.optional_name(experiment, "experiment"),
        status=None if status is None else validate.status(status),
        name=validate.optional_name(name, "name"),
        parent_run_id=None if parent_run_id is None else validate.run_id(parent_run_id),
        created_by=validate.optional_name(created_by, "created_by"),
        tags=None if tags is None else validate.tags(tags),
        ids=None if ids is None else [validate.run_id(i) for i in ids],
        metric=metric,
        filter=filter.strip() or None if filter is not None else None,
        order_by=_parse_order(order_by),
        limit=limit,
        offset=offset,
        include_archived=bool(include_archived),
        stale_before=stale_before(),
    )


def runs(
    experiment: str | None = None,
    status: str | None = None,
    name: str | None = None,
    parent_run_id: str | None = None,
    created_by: str | None = None,
    tags: Mapping[str, Any] | None = None,
    limit: int | None = 100,
    offset: int = 0,
    include_archived: bool = False,
    *,
    order_by: str | Sequence[str] | None = None,
    store: Store | None = None,
) -> list[dict[str, Any]]:
    """Run summaries, newest first. ``status="archived"`` lists archived runs.

    >>> ml.runs(experiment="iris", tags={"reviewed": "true"}, limit=10)  # doctest: +SKIP
    """
    query = build_query(
        experiment=experiment,
        status=status,
        name=name,
        parent_run_id=parent_run_id,
        created_by=created_by,
        tags=tags,
        limit=limit,
        offset=offset,
        include_archived=include_archived,
        order_by=order_by,
    )
    return resolve(store).meta.list_runs(query)


def get_run(run_id: str, *, store: Store | None = None) -> dict[str, Any] | None:
    """The full run dict (params, latest metrics, tags, datasets, children, env, note) or None."""
    run = resolve(store).meta.get_run(validate.run_id(run_id), stale_before())
    return None if run is None else RunView(run)


def _require(run_id: str, store: Store) -> dict[str, Any]:
    run = store.meta.get_run(validate.run_id(run_id), stale_before())
    if run is None:
        raise NotFound(f"run {run_id!r} does not exist")
    return RunView(run)


def metric_history(
    run_id: str, key: str, max_points: int | None = None, *, store: Store | None = None
) -> list[dict[str, Any]]:
    """Points of one metric in step order: ``[{"step", "value", "timestamp"}, ...]``.

    ``max_points`` downsamples long series (min/max per bucket, so spikes stay visible).
    """
    st = resolve(store)
    validate.key(key, "metric key")
    if max_points is not None:
        validate.limit(max_points, "max_points")
    st.flush()
    if max_points == 0:
        return []
    points = st.meta.metric_history(validate.run_id(run_id), key, max_points)
    return [{"step": s, "value": v, "timestamp": t} for s, v, t in points]


def last_run(experiment: str | None = None, *, store: Store | None = None) -> dict[str, Any] | None:
    """The most recently started run (full dict), optionally in one experiment."""
    found = runs(experiment=experiment, limit=1, store=store)
    return get_run(found[0]["id"], store=store) if found else None


def current_user() -> str:
    """Who runs are attributed to: ``CHACHA_USER`` or the OS user."""
    return envinfo.current_user()


def my_runs(
    experiment: str | None = None,
    status: str | None = None,
    limit: int | None = 100,
    *,
    store: Store | None = None,
) -> list[dict[str, Any]]:
    """Runs created by :func:`current_user`."""
    return runs(
        experiment=experiment, status=status, created_by=current_user(), limit=limit, store=store
    )


def my_last_run(*, store: Store | None = None) -> dict[str, Any] | None:
    found = my_runs(limit=1, store=store)
    return get_run(found[0]["id"], store=store) if found else None


def search_runs(
    filter: str | None = None,
    *,
    experiment: str | None = None,
    metric: str | None = None,
    op: str | None = None,
    value: float | None = None,
    order_by: str | Sequence[str] | None = None,
    limit: int | None = 100,
    offset: int = 0,
    include_archived: bool = False,
    store: Store | None = None,
) -> list[dict[str, Any]]:
    """Search runs by a filter expression or the keyword form (compares the *latest* value).

    >>> ml.search_runs("metrics.acc > 0.9 and params.model = 'rf'")        # doctest: +SKIP
    >>> ml.search_runs("duration > 1h order by metrics.loss.min")           # doctest: +SKIP
    >>> ml.search_runs(metric="acc", op=">", value=0.9, experiment="iris")  # doctest: +SKIP

    The filter language (fields, operators, type rules, NaN) is in docs/filters.md; an invalid
    expression raises ``InvalidFilter`` whose ``position`` is the offending 0-based column.
    Its ``order by`` keys sort before ``order_by``. ``metric`` alone returns the runs that
    logged that metric, best (highest latest) first.
    """
    if isinstance(filter, str):
        from chachaml import filters

        filters.validate(filter)
    st = resolve(store)
    threshold: tuple[str, str, float] | None = None
    if metric is not None:
        validate.key(metric, "metric")
        if op is None and value is None:
            threshold = (metric, "exists", 0.0)
            if order_by is None:
                order_by = f"metrics.{metric} desc"
        elif op is None or value is None:
            raise InvalidInput(
                "search_runs() needs both op and value with metric (e.g. op='>', value=0.9)"
            )
        elif op not in COMPARISONS:
            raise InvalidInput(f"op {op!r} is not one of: {', '.join(COMPARISONS)}")
        else:
            threshold = (metric, op, validate.finite_number(value, "value"))
    elif op is not None or value is not None:
        raise InvalidInput(
            "op and value need a metric: search_runs(metric='acc', op='>', value=0.9)"
        )
    query = build_query(
        experiment=experiment,
        metric=threshold,
        filter=filter,
        order_by=order_by,
        limit=limit,
        offset=offset,
        include_archived=include_archived,
    )
    return st.meta.list_runs(query)


def best_run(
    metric: str,
    experiment: str | None = None,
    direction: str = "max",
    *,
    store: Store | None = None,
) -> dict[str, Any] | None:
    """The run with the highest (``direction="max"``) or lowest (``"min"``) value of ``metric``.

    Each run is ranked by its own max (or min) over all steps; runs without the metric never
    win. Returns the full run dict plus ``metric_value`` and ``metric_step``, or None.
    """
    st = resolve(store)
    validate.key(metric, "metric")
    if direction not in ("max", "min"):
        raise InvalidInput(f"direction must be 'max' or 'min', got {direction!r}")
    experiment = validate.optional_name(experiment, "experiment")
    st.flush()
    found = st.meta.best_run(metric, experiment, direction)
    if found is None:
        return None
    run_id, value, step = found
    run = _require(run_id, st)
    run["metric_value"] = value
    run["metric_step"] = step
    return run


def compare_runs(ids: Sequence[str], *, store: Store | None = None) -> dict[str, Any]:
    """Params split into ``same``/``differ``/``partial`` and latest metrics side by side."""
    if isinstance(ids, str) or not isinstance(ids, Sequence) or not ids:
        raise InvalidInput("compare_runs() needs a non-empty list of run ids")
    st = resolve(store)
    full = [_require(i, st) for i in ids]
    order = [r["id"] for r in full]
    keys = sorted({k for r in full for k in r["params"]})
    same: dict[str, Any] = {}
    differ: dict[str, dict[str, Any]] = {}
    partial: dict[str, dict[str, Any]] = {}
    for k in keys:
        values = {r["id"]: r["params"][k] for r in full if k in r["params"]}
        if len(values) < len(full):
            partial[k] = values
        elif len({json.dumps(v, sort_keys=True) for v in values.values()}) == 1:
            same[k] = next(iter(values.values()))
        else:
            differ[k] = values
    metric_keys = sorted({k for r in full for k in r["metrics"]})
    metrics = {k: {r["id"]: r["metrics"].get(k) for r in full} for k in metric_keys}
    summaries = [{c: r.get(c) for c in (*RUN_COLUMNS, "tags")} for r in full]
    return {
        "run_ids": order,
        "runs": summaries,
        "params": {"same": same, "differ": differ, "partial": partial},
        "metrics": metrics,
    }


def export_runs(
    experiment: str | None = None,
    status: str | None = None,
    filter: str | None = None,
    tags: Mapping[str, Any] | None = None,
    limit: int | None = None,
    include_archived: bool = False,
    *,
    store: Store | None = None,
) -> list[dict[str, Any]]:
    """Flat rows: run columns, then params and latest metrics by key.

    A param or metric key that collides with a run column or with each other gets a
    ``params.``/``metrics.`` prefix.
    """
    st = resolve(store)
    query = build_query(
        experiment=experiment,
        status=status,
        filter=filter,
        tags=tags,
        limit=limit,
        include_archived=include_archived,
    )
    summaries = st.meta.list_runs(query)
    ids = [r["id"] for r in summaries]
    st.flush()
    params = st.meta.params_of(ids)
    metrics = st.meta.metric_summaries(ids)
    param_keys = {k for p in params.values() for k in p}
    metric_keys = {k for m in metrics.values() for k in m}
    base = set(RUN_COLUMNS)
    rows = []
    for run in summaries:
        row = {c: run[c] for c in RUN_COLUMNS}
        for k, v in params.get(run["id"], {}).items():
            col = f"params.{k}" if k in base or k in metric_keys else k
            row[col] = json.loads(v)
        for k, s in metrics.get(run["id"], {}).items():
            col = f"metrics.{k}" if k in base or k in param_keys else k
            row[col] = s["last"]
        rows.append(row)
    return rows


def runs_df(*args: Any, **kwargs: Any) -> Any:
    """:func:`export_runs` as a pandas DataFrame (needs pandas)."""
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is in the dev extras
        raise InvalidInput("runs_df() needs pandas: pip install 'chachaml[pandas]'") from exc
    rows = export_runs(*args, **kwargs)
    return pd.DataFrame(rows, columns=_columns(rows))


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    cols: list[str] = list(RUN_COLUMNS)
    seen = set(cols)
    for row in rows:
        for k in row:
            if k not in seen:
                seen.add(k)
                cols.append(k)
    return cols


def export_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV text of :func:`export_runs` rows (nested values as JSON)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=_columns(rows), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, (dict, list, bool)) else v for k, v in row.items()}
        )
    return out.getvalue()
