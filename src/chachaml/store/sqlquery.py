"""Portable SQL for run queries, shared by the SQL-backed stores (SQLite and PostgreSQL).

Every value is bound as a parameter; identifiers come only from the whitelists below. Queries
use ``?`` placeholders; a backend with another paramstyle rewrites them in one place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from chachaml.errors import InvalidInput
from chachaml.store import sqlfilter
from chachaml.store.protocol import RunDict, RunQuery
from chachaml.store.sqlcommon import (
    ATTRIBUTES,
    COMPARISONS,
    PARAM_IS_NUMBER,
    PARAM_NUMBER,
    STATUS_SQL,
    status_condition,
)

SUMMARY_SELECT = (
    "SELECT r.id, r.experiment, r.name, " + STATUS_SQL + " AS status, r.start_time, r.end_time, "
    "r.error, r.parent_run_id, r.created_by, r.archived FROM runs r"
)


def summary_from_row(row: Sequence[Any]) -> RunDict:
    """Turn a ``SUMMARY_SELECT`` row into a run summary dict (the listing hot path)."""
    run_id, experiment, name, status, start, end, error, parent, user, archived = row[:10]
    return {
        "id": run_id,
        "experiment": experiment,
        "name": name,
        "status": status,
        "start_time": start,
        "end_time": end,
        "error": error,
        "parent_run_id": parent,
        "created_by": user,
        "archived": bool(archived),
        "duration_ms": None if end is None else end - start,
    }


# The tags of a list of runs (a JSON array of ids, bound as one parameter) as one JSON array of
# [run_id, key, value] triples: one query and one json.loads however many runs are listed.
TAGS_OF_IDS_SQL = {
    "sqlite": (
        "SELECT json_group_array(json_array(t.run_id, t.key, t.value)) FROM tags t "
        "WHERE t.run_id IN (SELECT value FROM json_each(?))"
    ),
    "postgresql": (
        "SELECT COALESCE(json_agg(json_build_array(t.run_id, t.key, t.value)), '[]'::json)::text "
        "FROM tags t WHERE t.run_id IN (SELECT json_array_elements_text(?::json))"
    ),
}


def order_term(field: str, descending: bool) -> tuple[str, list[Any]]:
    """SQL ``ORDER BY`` term for a run attribute, ``status``, ``metrics.<key>[.min|.max|.first|
    .count|.last]``, ``params.<key>`` (numbers first, numerically, then the rest as text) or
    ``tags.<key>``."""
    direction = "DESC" if descending else "ASC"
    if field in ATTRIBUTES:
        return f"{ATTRIBUTES[field]} {direction} NULLS LAST", []
    if field == "status":
        return f"r.status {direction}", []
    if field.startswith("metrics.") and len(field) > len("metrics."):
        key, _, aggregate = field[len("metrics.") :].rpartition(".")
        column = {
            "last": "last_value",
            "min": "min_value",
            "max": "max_value",
            "first": "first_value",
            "count": "count",
        }.get(aggregate)
        if not key or column is None:
            key, column = field[len("metrics.") :], "last_value"
        sql = f"(SELECT s.{column} FROM metric_series s WHERE s.run_id = r.id AND s.key = ?)"
        return f"{sql} {direction} NULLS LAST", [key]
    if field.startswith("params.") and len(field) > len("params."):
        param = "FROM params p WHERE p.run_id = r.id AND p.key = ? AND p.value <> 'null'"
        number = f"(SELECT CASE WHEN {PARAM_IS_NUMBER} THEN {PARAM_NUMBER} END {param})"
        return (
            f"{number} {direction} NULLS LAST, (SELECT p.value {param}) {direction} NULLS LAST",
            [field[len("params.") :]] * 2,
        )
    if field.startswith("tags.") and len(field) > len("tags."):
        sql = "(SELECT t.value FROM tags t WHERE t.run_id = r.id AND t.key = ?)"
        return f"{sql} {direction} NULLS LAST", [field[len("tags.") :]]
    raise InvalidInput(
        f"cannot order by {field!r}: use one of {', '.join(sorted(ATTRIBUTES))}, status, "
        "metrics.<key>[.min|.max|.first|.count], params.<key> or tags.<key>"
    )


def where_clause(query: RunQuery, *, dialect: str) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause (possibly empty) and its parameters for ``query``."""
    conds: list[str] = []
    params: list[Any] = []
    if not query.include_archived and query.status != "archived":
        conds.append("r.archived = 0")
    if isinstance(query.experiment, str):
        conds.append("r.experiment = ?")
        params.append(query.experiment)
    elif query.experiment is not None:
        conds.append("r.experiment IN (" + ",".join("?" * len(query.experiment)) + ")")
        params.extend(query.experiment)
    if query.status is not None:
        sql, extra = status_condition(query.status, query.stale_before)
        conds.append(sql)
        params.extend(extra)
    if query.name is not None:
        conds.append("r.name = ?")
        params.append(query.name)
    if query.parent_run_id is not None:
        conds.append("r.parent_run_id = ?")
        params.append(query.parent_run_id)
    if query.created_by is not None:
        conds.append("r.created_by = ?")
        params.append(query.created_by)
    if query.ids is not None:
        if not query.ids:
            conds.append("1 = 0")
        else:
            conds.append("r.id IN (" + ",".join("?" * len(query.ids)) + ")")
            params.extend(query.ids)
    for key, value in (query.tags or {}).items():
        conds.append(
            "EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.id AND t.key = ? AND t.value = ?)"
        )
        params.extend((key, value))
    if query.metric is not None and query.metric[1] == "exists":
        conds.append("EXISTS (SELECT 1 FROM metric_series s WHERE s.run_id = r.id AND s.key = ?)")
        params.append(query.metric[0])
    elif query.metric is not None:
        metric_key, op, threshold = query.metric
        conds.append(  # an IN list walks the (key, last_value) index instead of every run
            "r.id IN (SELECT s.run_id FROM metric_series s WHERE s.key = ? "
            f"AND s.last_value {COMPARISONS[op]} ?)"
        )
        params.extend((metric_key, threshold))
    if query.filter is not None:
        sql, extra = sqlfilter.compile_where(
            query.filter, dialect=dialect, stale_before=query.stale_before
        )
        if sql:
            conds.append(f"({sql})")
            params.extend(extra)
    return (" WHERE " + " AND ".join(conds)) if conds else "", params


def order_clause(query: RunQuery, *, dialect: str = "sqlite") -> tuple[str, list[Any]]:
    terms: list[str] = []
    params: list[Any] = []
    order = list(query.order_by)
    if query.filter is not None:
        from chachaml import filters

        order = filters.order_by(query.filter) + order
    for field, descending in order:
        sql, extra = order_term(field, descending)
        terms.append(sql)
        params.extend(extra)
    terms.append("r.start_time DESC")
    # Runs started in the same millisecond: the later insert is the newer run (SQLite's rowid;
    # PostgreSQL's runs table has an identity column of the same name).
    terms.append("r.rowid DESC")
    return " ORDER BY " + ", ".join(terms), params


def list_runs_sql(query: RunQuery, *, dialect: str) -> tuple[str, list[Any]]:
    """Complete SQL (summary columns) for ``query`` with ordering and paging."""
    where, where_params = where_clause(query, dialect=dialect)
    order, order_params = order_clause(query, dialect=dialect)
    sql = SUMMARY_SELECT + where + order
    params: list[Any] = [query.stale_before, *where_params, *order_params]
    if query.limit is not None:
        sql += " LIMIT ?"
        params.append(query.limit)
    elif query.offset:
        sql += " LIMIT -1" if dialect == "sqlite" else " LIMIT ALL"
    if query.offset:
        sql += " OFFSET ?"
        params.append(query.offset)
    return sql, params


def count_runs_sql(query: RunQuery, *, dialect: str) -> tuple[str, list[Any]]:
    where, params = where_clause(query, dialect=dialect)
    return "SELECT COUNT(*) FROM runs r" + where, params


# -- metric series summaries ---------------------------------------------------------------
# A series summary: [count, first_step, first_value, last_step, last_value, last_ts,
#                    min_value, min_step, max_value, max_step, in_order,
#                    low_step, high_step, steps, values]
# (the batch's lowest and highest step whatever their order, then its steps and values)
Summary = list[Any]


def summarise_batch(rows: Sequence[tuple[int, int, float, int]]) -> dict[int, Summary]:
    """Aggregate ``(series_id, step, value, ts)`` rows per series.

    ``in_order`` is true when a series' steps strictly increase in the batch, which is what lets
    the caller merge the batch into the stored summary without re-reading points (otherwise the
    caller recomputes that series exactly, and the rest of its summary here is not used).
    Written with builtins over per-series columns: this runs once per flush on the hot path.
    """
    groups: dict[int, list[tuple[int, int, float, int]]] = {}
    for row in rows:
        group = groups.get(row[0])
        if group is None:
            groups[row[0]] = [row]
        else:
            group.append(row)
    out: dict[int, Summary] = {}
    for sid, group in groups.items():
        steps = [r[1] for r in group]
        first, last = group[0], group[-1]
        ordered = sorted(steps)
        in_order = steps == ordered and len(set(steps)) == len(steps)
        summary: Summary = [len(group), first[1], first[2], last[1], last[2], last[3]]
        values = [r[2] for r in group]
        finite = [v for v in values if v == v]  # NaN is the only value unequal to itself
        if finite:
            low, high = min(finite), max(finite)
            # The earliest step holding the extreme (the exact recompute breaks ties the same way).
            summary += [low, steps[values.index(low)], high, steps[values.index(high)]]
        else:
            summary += [None, None, None, None]
        summary += [in_order, ordered[0], ordered[-1], steps, values]
        out[sid] = summary
    return out


def merge_summary(stored: Sequence[Any], batch: Summary) -> Summary:
    """Merge a batch summary whose steps all follow the stored ``last_step``.

    ``stored`` is ``(count, first_value, last_step, min_value, min_step, max_value, max_step)``.
    """
    count, first_value, _, min_v, min_s, max_v, max_s = stored
    merged = list(batch)
    merged[0] = count + batch[0]
    merged[2] = first_value
    if min_v is not None and (batch[6] is None or min_v <= batch[6]):
        merged[6], merged[7] = min_v, min_s
    if max_v is not None and (batch[8] is None or max_v >= batch[8]):
        merged[8], merged[9] = max_v, max_s
    return merged


def nan_if_null(value: float | None) -> float:
    return math.nan if value is None else value
