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

import re
from collections.abc import Mapping, Sequence
from typing import Any

from chachaml import envinfo, liveness, validate
from chachaml.context import resolve
from chachaml.errors import InvalidInput, NotFound
from chachaml.formatting import RunView
from chachaml.store import Store
from chachaml.store.protocol import RunQuery
from chachaml.store.sqlcommon import COMPARISONS

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


def _experiments(value: object) -> str | tuple[str, ...] | None:
    if value is None or isinstance(value, str):
        return validate.optional_name(value, "experiment")
    if isinstance(value, (list, tuple, set, frozenset)):
        names = tuple(sorted({validate.name(v, "experiment") for v in value}))
        if not names:
            raise InvalidInput("experiment=[] names no experiment; pass None for all")
        return names[0] if len(names) == 1 else names
    raise InvalidInput(f"experiment must be a name or a list of names, got {type(value).__name__}")


def build_query(
    *,
    experiment: str | Sequence[str] | None = None,
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
        experiment=_experiments(experiment),
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
        stale_before=liveness.stale_before(),
    )


class ResultTruncated(UserWarning):
    """A listing hit its default ``limit`` and more runs match (pass ``limit=None`` or page
    with ``offset``)."""


class _DefaultLimit(int):
    """The default page size, told apart from the same number passed explicitly."""


DEFAULT_LIMIT = _DefaultLimit(100)


class RunList(list[dict[str, Any]]):
    """A plain list of run dicts; ``truncated`` is True when more runs matched than the
    default limit returned (a ``ResultTruncated`` warning says so too)."""

    truncated = False


def _listing(
    filter: str | None,
    *,
    experiment: str | Sequence[str] | None,
    status: str | None,
    name: str | None,
    parent_run_id: str | None,
    created_by: str | None,
    tags: Mapping[str, Any] | None,
    ids: Sequence[str] | None,
    metric: str | None,
    op: str | None,
    value: float | None,
    order_by: str | Sequence[str] | None,
    limit: int | None,
    offset: int,
    include_archived: bool,
) -> RunQuery:
    """Every listing's arguments (Python API, CLI, HTTP) into one validated ``RunQuery``."""
    if filter is not None:
        from chachaml import filters

        filters.validate(filter)
    threshold: tuple[str, str, float] | None = None
    if metric is not None:
        validate.key(metric, "metric")
        if op in (None, "exists") and value is None:
            threshold = (metric, "exists", 0.0)
            if order_by is None:  # best (highest latest value) first
                order_by = f"metrics.{metric} desc"
        elif op is None or value is None:
            raise InvalidInput(
                "a metric threshold needs both op and value (e.g. metric='acc', op='>', "
                "value=0.9); metric alone lists the runs that logged it, best first"
            )
        elif op not in COMPARISONS:
            raise InvalidInput(f"op {op!r} is not one of: {', '.join(COMPARISONS)}")
        else:
            threshold = (metric, op, validate.finite_number(value, "value"))
    elif op is not None or value is not None:
        raise InvalidInput("op and value need a metric: metric='acc', op='>', value=0.9")
    return build_query(
        experiment=experiment,
        status=status,
        name=name,
        parent_run_id=parent_run_id,
        created_by=created_by,
        tags=tags,
        ids=ids,
        metric=threshold,
        filter=filter,
        order_by=order_by,
        limit=limit,
        offset=offset,
        include_archived=include_archived,
    )


def search_runs(
    filter: str | None = None,
    *,
    experiment: str | Sequence[str] | None = None,
    status: str | None = None,
    name: str | None = None,
    parent_run_id: str | None = None,
    created_by: str | None = None,
    tags: Mapping[str, Any] | None = None,
    ids: Sequence[str] | None = None,
    metric: str | None = None,
    op: str | None = None,
    value: float | None = None,
    order_by: str | Sequence[str] | None = None,
    limit: int | None = DEFAULT_LIMIT,
    offset: int = 0,
    include_archived: bool = False,
    store: Store | None = None,
) -> RunList:
    """Run summaries matching every given condition: the one listing behind ``ml.runs``,
    the CLI and the HTTP API. Newest first unless ordered otherwise.

    >>> ml.search_runs("metrics.acc > 0.9 and params.model = 'rf'")        # doctest: +SKIP
    >>> ml.search_runs("duration > 1h order by metrics.loss.min")           # doctest: +SKIP
    >>> ml.search_runs(metric="acc", op=">", value=0.9, experiment="iris")  # doctest: +SKIP

    Metric conditions compare each run's *latest* value (``metrics.acc.max`` in a filter
    for its maximum). The filter language is in docs/filters.md; an invalid expression raises
    ``InvalidFilter`` whose ``position`` is the offending 0-based column; its ``order by``
    keys sort before ``order_by``. ``metric`` alone returns the runs that logged that
    metric, highest latest value first. ``experiment`` may be a list of names.
    When the default ``limit`` (100) cuts the result, it says so: ``result.truncated`` and a
    ``ResultTruncated`` warning.
    """
    return _find(
        filter,
        {
            "experiment": experiment,
            "status": status,
            "name": name,
            "parent_run_id": parent_run_id,
            "created_by": created_by,
            "tags": tags,
            "ids": ids,
            "metric": metric,
            "op": op,
            "value": value,
            "order_by": order_by,
            "offset": offset,
            "include_archived": include_archived,
        },
        limit,
        store,
    )


def _find(
    filter: str | None, args: dict[str, Any], limit: int | None, store: Store | None
) -> RunList:
    default = type(limit) is _DefaultLimit
    asked = None if limit is None else int(limit) if default else validate.limit(limit)
    query = _listing(filter, limit=asked + 1 if default and asked is not None else asked, **args)
    found = RunList(resolve(store).meta.list_runs(query))
    if default and asked is not None and len(found) > asked:
        del found[asked:]
        found.truncated = True
        import warnings

        warnings.warn(
            f"showing the first {asked} matching runs; more match (pass limit=None for all, "
            "or page with limit= and offset=)",
            ResultTruncated,
            stacklevel=3,
        )
    return found


def count_runs(
    filter: str | None = None,
    *,
    experiment: str | Sequence[str] | None = None,
    status: str | None = None,
    name: str | None = None,
    parent_run_id: str | None = None,
    created_by: str | None = None,
    tags: Mapping[str, Any] | None = None,
    ids: Sequence[str] | None = None,
    metric: str | None = None,
    op: str | None = None,
    value: float | None = None,
    include_archived: bool = False,
    store: Store | None = None,
) -> int:
    """How many runs :func:`search_runs` would return without a limit."""
    query = _listing(
        filter,
        experiment=experiment,
        status=status,
        name=name,
        parent_run_id=parent_run_id,
        created_by=created_by,
        tags=tags,
        ids=ids,
        metric=metric,
        op=op,
        value=value,
        order_by=None,
        limit=None,
        offset=0,
        include_archived=include_archived,
    )
    return resolve(store).meta.count_runs(query)


def runs(
    experiment: str | Sequence[str] | None = None,
    status: str | None = None,
    name: str | None = None,
    parent_run_id: str | None = None,
    created_by: str | None = None,
    tags: Mapping[str, Any] | None = None,
    limit: int | None = DEFAULT_LIMIT,
    offset: int = 0,
    include_archived: bool = False,
    *,
    filter: str | None = None,
    order_by: str | Sequence[str] | None = None,
    store: Store | None = None,
) -> RunList:
    """Run summaries, newest first (:func:`search_runs` with these arguments first).
    ``status="archived"`` lists archived runs.

    >>> ml.runs(experiment="iris", tags={"reviewed": "true"}, limit=10)  # doctest: +SKIP
    >>> ml.runs(filter="metrics.acc > 0.9")                             # doctest: +SKIP
    """
    return _find(
        filter,
        {
            "experiment": experiment,
            "status": status,
            "name": name,
            "parent_run_id": parent_run_id,
            "created_by": created_by,
            "tags": tags,
            "ids": None,
            "metric": None,
            "op": None,
            "value": None,
            "order_by": order_by,
            "offset": offset,
            "include_archived": include_archived,
        },
        limit,
        store,
    )


MIN_PREFIX = 4
_PREFIX = re.compile(r"^[0-9a-fA-F]{4,31}$")


def find_run_id(run_id: object, *, store: Store | None = None) -> str:
    """The full id of a run given its id or a unique prefix of at least 4 hex characters (as
    ``chachaml runs`` shows 8). ``NotFound`` when no run starts with the prefix; an ambiguous
    prefix raises ``InvalidInput`` listing the candidates. A full id is returned as it is
    (whether the run exists is for the caller's store call to say).

    >>> ml.get_run("e9a14609")  # doctest: +SKIP
    """
    if not (isinstance(run_id, str) and len(run_id) < 32 and _PREFIX.match(run_id)):
        return validate.run_id(run_id)
    prefix = run_id.lower()
    found = resolve(store, flush=False).meta.list_runs(
        RunQuery(filter=f"id like '{prefix}%'", limit=11, include_archived=True)
    )
    if not found:
        raise NotFound(f"no run id starts with {prefix!r}")
    if len(found) > 1:
        shown = ", ".join(f"{r['id']} ({r['experiment']}/{r['name'] or '-'})" for r in found[:10])
        more = " and more" if len(found) > 10 else ""
        raise InvalidInput(
            f"run id prefix {prefix!r} is ambiguous: it starts {shown}{more}; give more characters"
        )
    return str(found[0]["id"])


def get_run(run_id: str, *, store: Store | None = None) -> dict[str, Any]:
    """The full run dict: summary, params, latest metrics (``metric_stats`` has latest/min/max
    per key), tags, datasets, artifacts, children, env and note.

    Like every function that takes a run id, raises ``NotFound`` for an unknown id.
    """
    run_id = find_run_id(run_id, store=store)
    run = resolve(store).meta.get_run(run_id, liveness.stale_before())
    if run is None:
        raise NotFound(f"run {run_id!r} does not exist")
    return RunView(run)


def get_tags(run_id: str, *, store: Store | None = None) -> dict[str, str]:
    """The run's tags (inline tags given at start merged with later ones)."""
    return resolve(store).meta.get_tags(find_run_id(run_id, store=store))


def get_datasets(run_id: str, *, store: Store | None = None) -> list[dict[str, Any]]:
    """Datasets recorded with ``log_dataset`` for the run, oldest first."""
    return resolve(store).meta.get_datasets(find_run_id(run_id, store=store))


def metric_summaries(
    run_ids: Sequence[str], *, store: Store | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per run, per metric key: ``last``, ``last_step``, ``min``, ``max``, ``first`` and
    ``count`` (one query however many runs). Unknown ids are simply absent."""
    ids = [validate.run_id(i) for i in run_ids]
    return resolve(store).meta.metric_summaries(ids) if ids else {}


def params_json(run_ids: Sequence[str], *, store: Store | None = None) -> dict[str, dict[str, str]]:
    """Each run's params as stored, canonical JSON text (what the remote store exchanges)."""
    ids = [validate.run_id(i) for i in run_ids]
    return resolve(store).meta.params_of(ids) if ids else {}


def metric_history(
    run_id: str,
    key: str,
    max_points: int | None = None,
    *,
    after_step: int | None = None,
    store: Store | None = None,
) -> list[dict[str, Any]]:
    """Points of one metric in step order: ``[{"step", "value", "timestamp"}, ...]``.

    ``max_points`` downsamples long series (min/max per bucket, so spikes stay visible).
    ``after_step`` is a cursor for live updates: only the points with a greater step, the first
    ``max_points`` of them, never downsampled (ask again from the last step returned).
    """
    st = resolve(store)
    validate.key(key, "metric key")
    if max_points is not None:
        validate.limit(max_points, "max_points")
    if after_step is not None:
        after_step = validate.step(after_step, key)
    if max_points == 0:
        return []
    points = st.meta.metric_history(find_run_id(run_id, store=st), key, max_points, after_step)
    return [{"step": s, "value": v, "timestamp": t} for s, v, t in points]


def last_run(experiment: str | None = None, *, store: Store | None = None) -> dict[str, Any] | None:
    """The most recently started run (full dict), optionally in one experiment."""
    found = runs(experiment=experiment, limit=1, store=store)
    return get_run(found[0]["id"], store=store) if found else None


def current_user() -> str:
    """Who runs are attributed to: ``CHACHA_USER`` or the OS user."""
    return envinfo.current_user()


def my_runs(
    experiment: str | Sequence[str] | None = None,
    status: str | None = None,
    limit: int | None = DEFAULT_LIMIT,
    *,
    tags: Mapping[str, Any] | None = None,
    filter: str | None = None,
    order_by: str | Sequence[str] | None = None,
    store: Store | None = None,
) -> RunList:
    """Runs created by :func:`current_user` (the same filters as :func:`runs`)."""
    return runs(
        experiment=experiment,
        status=status,
        created_by=current_user(),
        tags=tags,
        limit=limit,
        filter=filter,
        order_by=order_by,
        store=store,
    )


def my_last_run(*, store: Store | None = None) -> dict[str, Any] | None:
    found = my_runs(limit=1, store=store)
    return get_run(found[0]["id"], store=store) if found else None


BEST_BY = ("last", "max", "min")


def best_run(
    metric: str,
    experiment: str | None = None,
    direction: str = "max",
    *,
    by: str = "last",
    store: Store | None = None,
) -> dict[str, Any] | None:
    """The run with the highest (``direction="max"``) or lowest (``"min"``) value of ``metric``.

    Runs are ranked by their **latest** value of the metric, as everywhere else a run's metric
    is compared (filters, ``search_runs``, the CLI); ``by="max"`` or ``by="min"`` ranks by each
    run's maximum or minimum over all steps instead. Runs without the metric (or whose value
    is NaN) never win; of equal values the newest run wins. Returns the full run dict plus
    ``metric_value`` and ``metric_step``, or None when no run has the metric.

    >>> ml.best_run("val_accuracy", experiment="iris")              # doctest: +SKIP
    >>> ml.best_run("loss", direction="min", by="min")              # doctest: +SKIP
    """
    st = resolve(store)
    validate.key(metric, "metric")
    if direction not in ("max", "min"):
        raise InvalidInput(f"direction must be 'max' or 'min', got {direction!r}")
    if by not in BEST_BY:
        raise InvalidInput(f"by must be one of {', '.join(BEST_BY)}, got {by!r}")
    experiment = validate.optional_name(experiment, "experiment")
    found = st.meta.best_run(metric, experiment, direction, by)
    if found is None:
        return None
    run_id, value, step = found
    run = get_run(run_id, store=st)
    run["metric_value"] = value
    run["metric_step"] = step
    return run
