"""Run tools: listing, search, one run, best run, comparison, metric history, tags, notes,
datasets and export. Each is a thin call of the query/runs/comparison/export services."""

from __future__ import annotations

import json
from typing import Any

from chachaml import comparison, export, query, runs_api, validate
from chachaml.store import Store
from chachaml.tools.common import (
    RUN_ID,
    Tool,
    as_result,
    boolean,
    cap_comparison,
    clip,
    integer,
    jsonable,
    name_arg,
    obj,
    page,
    text_arg,
)

__all__ = ["RUN_TOOLS", "SUMMARY_FIELDS", "summaries"]

#: The fields of a run in listings (plus ``tags``, ``params`` and ``metrics``).
SUMMARY_FIELDS = (*query.RUN_COLUMNS, "error")
MAX_KEYS = 30  # params / metrics shown per run in a listing
MAX_NOTE = 4000
MAX_LIST = 50  # children, artifacts, datasets shown by get_run
MAX_RUN_KEYS = 200  # params, metrics, tags shown by get_run

_FILTER = text_arg(
    "filter expression, e.g. \"metrics.acc > 0.9 and params.model = 'rf'\" "
    "(attributes status, experiment, name, created_by, start_time, duration; params.*, "
    "metrics.* (latest value; metrics.x.min / .max), tags.*; operators = != < <= > >= in, "
    "not in, like, ilike, is null, is not null; and/or/not, parentheses; optional "
    "'order by <field> [asc|desc]')",
    10_000,
)
_ORDER = text_arg("sort, e.g. 'metrics.acc desc' or 'start_time asc' (default newest first)", 300)
_COMMON = {
    "experiment": name_arg("only runs of this experiment"),
    "status": {
        "type": "string",
        "enum": list(validate.QUERY_STATUSES),
        "description": "only runs with this status ('archived' lists archived runs)",
    },
    "order_by": _ORDER,
    "limit": integer("runs per page", minimum=1, maximum=100, default=20),
    "offset": integer(
        "runs to skip (the next_offset of a previous page)",
        minimum=0,
        maximum=10_000_000,
        default=0,
    ),
    "include_archived": boolean("also list archived runs", False),
}


def _keys(values: dict[str, Any]) -> dict[str, Any]:
    if len(values) <= MAX_KEYS:
        return values
    kept = dict(sorted(values.items())[:MAX_KEYS])
    kept["..."] = f"{len(values) - MAX_KEYS} more (see get_run)"
    return kept


def summaries(runs: list[dict[str, Any]], store: Store | None) -> list[dict[str, Any]]:
    """Compact run rows: the summary fields, tags, params and latest metric values."""
    ids = [r["id"] for r in runs]
    params = query.params_json(ids, store=store)
    metrics = query.metric_summaries(ids, store=store)
    out = []
    for run in runs:
        row = {f: run.get(f) for f in SUMMARY_FIELDS}
        row["tags"] = _keys(dict(run.get("tags") or {}))
        row["params"] = _keys({k: json.loads(v) for k, v in params.get(run["id"], {}).items()})
        row["metrics"] = _keys({k: s["last"] for k, s in metrics.get(run["id"], {}).items()})
        out.append(as_result(clip(row, 500)))
    return out


def _listing(store: Store | None, filter: str | None, **kw: Any) -> dict[str, Any]:
    limit, offset = kw.pop("limit"), kw["offset"]
    found = query.search_runs(filter, limit=limit + 1, store=store, **kw)
    return {"runs": summaries(list(found[:limit]), store), **page(found, limit, offset)}


def list_runs(store: Store | None, *, tags: dict[str, str] | None = None, **kw: Any) -> Any:
    return _listing(store, None, tags=tags, **kw)


def search_runs(store: Store | None, *, filter: str, **kw: Any) -> Any:
    return {"filter": filter, **_listing(store, filter, **kw)}


def get_run(store: Store | None, *, run_id: str) -> dict[str, Any]:
    run = dict(query.get_run(run_id, store=store))
    for key in ("children", "artifacts", "datasets"):
        items = run.get(key) or []
        if len(items) > MAX_LIST:
            run[key] = items[:MAX_LIST]
            run[f"{key}_truncated"] = f"{len(items) - MAX_LIST} more not shown"
    for key in ("params", "metrics", "metric_stats", "tags"):
        values = run.get(key) or {}
        if len(values) > MAX_RUN_KEYS:
            run[key] = dict(sorted(values.items())[:MAX_RUN_KEYS])
            run[f"{key}_truncated"] = f"{len(values) - MAX_RUN_KEYS} more keys not shown"
    note = run.pop("note", None)
    out = as_result(clip(run))
    out["note"] = None if note is None else clip(note, MAX_NOTE)  # notes get more room
    return out


def best_run(
    store: Store | None, *, metric: str, direction: str, by: str, experiment: str | None = None
) -> dict[str, Any]:
    found = query.best_run(metric, experiment, direction, by=by, store=store)
    result: dict[str, Any] = {"metric": metric, "direction": direction, "by": by}
    if found is None:
        return {**result, "run": None, "value": None, "step": None}
    run = summaries([found], store)[0]
    return {
        **result,
        "run": run,
        "value": jsonable(found["metric_value"]),
        "step": found["metric_step"],
    }


def compare_runs(store: Store | None, *, run_ids: list[str]) -> dict[str, Any]:
    return as_result(clip(cap_comparison(comparison.compare_runs(run_ids, store=store)), 500))


def get_metric_history(
    store: Store | None, *, run_id: str, key: str, max_points: int
) -> dict[str, Any]:
    full = query.find_run_id(run_id, store=store)
    points = query.metric_history(full, key, max_points, store=store)
    return as_result({"run_id": full, "key": key, "count": len(points), "points": points})


def get_tags(store: Store | None, *, run_id: str) -> dict[str, Any]:
    full = query.find_run_id(run_id, store=store)
    return {"run_id": full, "tags": clip(query.get_tags(full, store=store))}


def get_datasets(store: Store | None, *, run_id: str) -> dict[str, Any]:
    full = query.find_run_id(run_id, store=store)
    found = query.get_datasets(full, store=store)
    return as_result(clip({"run_id": full, "datasets": found}, 500))


def add_tag(store: Store | None, *, run_id: str, key: str, value: str) -> dict[str, Any]:
    full = query.find_run_id(run_id, store=store)
    runs_api.add_tag(full, key, value, store=store)
    return {"run_id": full, "key": key, "value": value, "tags": query.get_tags(full, store=store)}


def set_note(store: Store | None, *, run_id: str, note: str) -> dict[str, Any]:
    full = query.find_run_id(run_id, store=store)
    runs_api.set_note(full, note, store=store)
    return {"run_id": full, "note_chars": len(note)}


MAX_CSV = 50_000
MAX_EXPORT_COLUMNS = 200  # columns per row of format "rows"


def export_runs(store: Store | None, *, format: str, limit: int, **kw: Any) -> dict[str, Any]:
    rows = export.export_runs(limit=limit + 1, store=store, **kw)
    info = page(rows, limit)
    del info["next_offset"]
    rows = rows[:limit]
    if format == "csv":
        text = export.export_csv(rows)
        cut = len(text) > MAX_CSV
        return {"format": "csv", **info, "csv": clip(text, MAX_CSV), "csv_truncated": cut}
    extra = max((len(row) - MAX_EXPORT_COLUMNS for row in rows), default=0)
    if extra > 0:  # the run columns come first, then params.* and metrics.*
        rows = [dict(list(row.items())[:MAX_EXPORT_COLUMNS]) for row in rows]
        info["columns_truncated"] = (
            f"up to {extra} columns per row not shown (format csv has every column)"
        )
    return {"format": "rows", **info, "rows": jsonable(clip(rows, 500))}


_RUN = {"run_id": RUN_ID}
_EXPORT_ARGS = {
    "format": {
        "type": "string",
        "enum": ["rows", "csv"],
        "default": "rows",
        "description": "rows: one flat JSON object per run; csv: the same as CSV text",
    },
    "filter": _FILTER,
    "experiment": _COMMON["experiment"],
    "status": _COMMON["status"],
    "order_by": _ORDER,
    "limit": integer("rows at most", minimum=1, maximum=500, default=100),
    "include_archived": _COMMON["include_archived"],
}

RUN_TOOLS = (
    Tool(
        "list_runs",
        "List runs, newest first, with their tags, params and latest metric values. Page "
        "with offset (the result's next_offset); truncated says more runs match.",
        obj(
            {
                **_COMMON,
                "name": name_arg("only runs with this exact name"),
                "tags": {
                    "type": "object",
                    "maxProperties": 20,
                    "additionalProperties": {"type": "string", "maxLength": 5000},
                    "description": "only runs having every one of these tag key/values",
                },
            }
        ),
        False,
        list_runs,
    ),
    Tool(
        "get_run",
        "One run in full: params, latest metrics with min/max, tags, datasets, "
        "artifacts, child runs, environment and note.",
        obj(_RUN, ["run_id"]),
        False,
        get_run,
    ),
    Tool(
        "search_runs",
        "Find runs with a filter expression (see the filter argument); returns the matching "
        "runs with their tags, params and latest metrics.",
        obj({"filter": {**_FILTER, "minLength": 1}, **_COMMON}, ["filter"]),
        False,
        search_runs,
    ),
    Tool(
        "best_run",
        "The run with the highest (direction max) or lowest (min) value of a metric; runs "
        "are ranked by their latest value unless by is max or min. run is null when no run "
        "logged the metric.",
        obj(
            {
                "metric": name_arg("metric key, e.g. 'val_accuracy'"),
                "experiment": _COMMON["experiment"],
                "direction": {
                    "type": "string",
                    "enum": ["max", "min"],
                    "default": "max",
                    "description": "max: highest wins; min: lowest wins (e.g. loss)",
                },
                "by": {
                    "type": "string",
                    "enum": list(query.BEST_BY),
                    "default": "last",
                    "description": "rank each run by its last value, or its max / min over steps",
                },
            },
            ["metric"],
        ),
        False,
        best_run,
    ),
    Tool(
        "compare_runs",
        "Compare runs side by side: params and metrics grouped into differ / partial / same, "
        "each key mapping run id to value (metrics: last, min, max, count); at most 100 keys "
        "per group (keys_truncated says how many more).",
        obj(
            {
                "run_ids": {
                    "type": "array",
                    "items": RUN_ID,
                    "minItems": 1,
                    "maxItems": 20,
                    "description": "the runs to compare (ids or unique prefixes)",
                }
            },
            ["run_ids"],
        ),
        False,
        compare_runs,
    ),
    Tool(
        "get_metric_history",
        "The points (step, value, timestamp) of one metric of a run in step order, "
        "downsampled to at most max_points (min and max per bucket, so spikes stay visible).",
        obj(
            {
                **_RUN,
                "key": name_arg("metric key"),
                "max_points": integer("points at most", minimum=1, maximum=2000, default=200),
            },
            ["run_id", "key"],
        ),
        False,
        get_metric_history,
    ),
    Tool("get_tags", "The tags of a run.", obj(_RUN, ["run_id"]), False, get_tags),
    Tool(
        "get_datasets",
        "The datasets a run recorded (role, name, shape, features, hash, source).",
        obj(_RUN, ["run_id"]),
        False,
        get_datasets,
    ),
    Tool(
        "export_runs",
        "Runs as flat rows (run columns, params.<key>, metrics.<key> latest value), as JSON "
        "rows (at most 200 columns each) or CSV text, newest first.",
        obj(_EXPORT_ARGS),
        False,
        export_runs,
    ),
    Tool(
        "add_tag",
        "Set a tag on a run (replacing the tag's previous value). Writes.",
        obj(
            {
                **_RUN,
                "key": name_arg("tag key"),
                "value": text_arg("tag value", validate.MAX_TAG_VALUE_LENGTH),
            },
            ["run_id", "key", "value"],
        ),
        True,
        add_tag,
    ),
    Tool(
        "set_note",
        "Attach a markdown note to a run, replacing its earlier note. Writes.",
        obj({**_RUN, "note": text_arg("the note, markdown", 100_000)}, ["run_id", "note"]),
        True,
        set_note,
    ),
)
