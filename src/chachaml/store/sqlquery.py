"""Portable SQL for run queries, shared by the SQL-backed stores (SQLite and PostgreSQL).

Every value is bound as a parameter; identifiers come only from the whitelists below. Queries
use ``?`` placeholders; a backend with another paramstyle rewrites them in one place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

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
from chachaml.store.sqlconn import Conn

Sql = tuple[str, list[Any]]

SUMMARY_COLUMNS = (
    "SELECT r.id, r.experiment, r.name, " + STATUS_SQL + " AS status, r.start_time, r.end_time, "
    "r.error, r.parent_run_id, r.created_by, r.archived"
)
SUMMARY_SELECT = SUMMARY_COLUMNS + " FROM runs r"


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


def metric_order(field: str) -> tuple[str, str] | None:
    """``(key, metric_series column)`` when ``field`` is ``metrics.<key>[.<aggregate>]``."""
    if not field.startswith("metrics.") or len(field) == len("metrics."):
        return None
    key, _, aggregate = field[len("metrics.") :].rpartition(".")
    column = {
        "last": "last_value",
        "min": "min_value",
        "max": "max_value",
        "first": "first_value",
        "count": "count",
    }.get(aggregate)
    if not key or column is None:
        return field[len("metrics.") :], "last_value"
    return key, column


def order_term(field: str, descending: bool) -> tuple[str, list[Any]]:
    """SQL ``ORDER BY`` term for a run attribute, ``status``, ``metrics.<key>[.min|.max|.first|
    .count|.last]``, ``params.<key>`` (numbers first, numerically, then the rest as text) or
    ``tags.<key>``."""
    direction = "DESC" if descending else "ASC"
    if field in ATTRIBUTES:
        return f"{ATTRIBUTES[field]} {direction} NULLS LAST", []
    if field == "status":
        return f"r.status {direction}", []
    metric = metric_order(field)
    if metric is not None:
        key, column = metric
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


def _order_fields(query: RunQuery) -> list[tuple[str, bool]]:
    order = list(query.order_by)
    if query.filter is not None:
        from chachaml import filters

        order = filters.order_by(query.filter) + order
    return order


def _order_terms(fields: Sequence[tuple[str, bool]]) -> tuple[list[str], list[Any]]:
    terms: list[str] = []
    params: list[Any] = []
    for field, descending in fields:
        sql, extra = order_term(field, descending)
        terms.append(sql)
        params.extend(extra)
    terms.append("r.start_time DESC")
    # Runs started in the same millisecond: the later insert is the newer run (SQLite's rowid;
    # PostgreSQL's runs table has an identity column of the same name).
    terms.append("r.rowid DESC")
    return terms, params


def order_clause(query: RunQuery, *, dialect: str = "sqlite") -> tuple[str, list[Any]]:
    terms, params = _order_terms(_order_fields(query))
    return " ORDER BY " + ", ".join(terms), params


def paged(sql: str, params: list[Any], limit: int | None, offset: int, *, dialect: str) -> Sql:
    """``sql`` with ``LIMIT``/``OFFSET`` appended (``limit=None``: every row from ``offset``)."""
    params = list(params)
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    elif offset:
        sql += " LIMIT -1" if dialect == "sqlite" else " LIMIT ALL"
    if offset:
        sql += " OFFSET ?"
        params.append(offset)
    return sql, params


def list_runs_sql(query: RunQuery, *, dialect: str) -> Sql:
    """Complete SQL (summary columns) for ``query`` with ordering and paging, as one statement
    (``list_summaries`` splits a listing sorted by a metric first; this is its reference)."""
    where, where_params = where_clause(query, dialect=dialect)
    order, order_params = order_clause(query, dialect=dialect)
    params: list[Any] = [query.stale_before, *where_params, *order_params]
    return paged(SUMMARY_SELECT + where + order, params, query.limit, query.offset, dialect=dialect)


# Summary columns with a (key, column) index on metric_series (migration 1): first_value and
# count have none, so a sort on them stays the one-statement sort.
WALKABLE = frozenset({"last_value", "min_value", "max_value"})

# The rank (at least) of the boundary series of a metric-sorted page: past it a filter keeping a
# few percent of the runs still fills a page, and walking that far costs a few milliseconds when
# it does not (then the page comes from the one-statement sort).
MIN_WALK = 2000


class MetricSplit(NamedTuple):
    """A page of a listing whose first sort key is a metric, read through the metric's index.

    ``list_runs_sql`` computes the metric for every matching run and sorts them all. Here
    ``boundary`` reads the value of the ``walk``-th series in sort order from the metric's
    ``(key, value)`` index (no row: fewer series have a value). ``head``, bound with that value
    as its last parameter, lists the matching runs whose value is at least as good (ties at the
    boundary included), walking the index in sort order and stopping once the page is full; only
    runs with equal values are sorted among themselves (by the remaining keys). Those runs are a
    complete prefix of the listing, so a full page from ``head`` is exact; a page it cannot fill
    is answered by ``list_runs_sql``, unless the boundary is open (``None``), when the rest of the
    listing is the runs whose value is missing (never logged, or NaN, stored as NULL): under
    NULLS LAST they follow all others in both directions. ``tail`` lists them; ``count_head``
    counts the runs with a value (only needed when a page starts past them).
    """

    descending: bool
    boundary: Sql
    head_sql: str
    head_params: tuple[list[Any], list[Any]]  # before and after the boundary value
    tail: Sql
    count_head: Sql

    def head(self, edge: float | None) -> Sql:
        """``head`` bound with the boundary ``edge`` (``None``: open, every value)."""
        if edge is None:
            edge = -math.inf if self.descending else math.inf
        before, after = self.head_params
        return self.head_sql, [*before, edge, *after]


def metric_split(query: RunQuery, *, dialect: str, walk: int) -> MetricSplit | None:
    """The index-driven form of ``list_runs_sql(query)`` without paging, or ``None`` unless
    the first sort key is a metric's latest, min or max value (the indexed ones)."""
    fields = _order_fields(query)
    metric = metric_order(fields[0][0]) if fields else None
    if metric is None or metric[1] not in WALKABLE:
        return None
    key, column = metric
    descending = fields[0][1]
    direction, at_least = ("DESC", ">=") if descending else ("ASC", "<=")
    where, where_params = where_clause(query, dialect=dialect)
    rest = " AND " + where[len(" WHERE ") :] if where else ""
    terms, order_params = _order_terms(fields[1:])
    order = ", ".join(terms)
    # `ms`, not `s`: filter subqueries name their own metric_series `s`. No NULLS LAST on the
    # index walk: NULLs are excluded, and a bare direction lets PostgreSQL read its ascending
    # index backwards for DESC.
    present = f"ms.key = ? AND ms.{column} IS NOT NULL"
    # SQLite's CROSS JOIN keeps the index walk as the outer loop: with a filter its planner may
    # otherwise drive from runs and sort every match. The walk is bounded by the boundary.
    join = "CROSS JOIN runs r WHERE" if dialect == "sqlite" else "JOIN runs r ON TRUE WHERE"
    joined = f" FROM metric_series ms {join} r.id = ms.run_id AND {present}"
    missing = f"NOT EXISTS (SELECT 1 FROM metric_series ms WHERE ms.run_id = r.id AND {present})"
    return MetricSplit(
        descending,
        (
            f"SELECT ms.{column} FROM metric_series ms WHERE {present} "
            f"ORDER BY ms.{column} {direction} LIMIT 1 OFFSET ?",
            [key, walk - 1],
        ),
        f"{SUMMARY_COLUMNS}{joined} AND ms.{column} {at_least} ?{rest} "
        f"ORDER BY ms.{column} {direction}, {order}",
        ([query.stale_before, key], [*where_params, *order_params]),
        (
            f"{SUMMARY_SELECT} WHERE {missing}{rest} ORDER BY {order}",
            [query.stale_before, key, *where_params, *order_params],
        ),
        (f"SELECT COUNT(*){joined}{rest}", [key, *where_params]),
    )


def list_summaries(conn: Conn, query: RunQuery, *, dialect: str) -> list[RunDict]:
    """The run summaries ``query`` lists, in order: the rows of ``list_runs_sql(query)``."""
    limit, offset = query.limit, query.offset
    walk = max(MIN_WALK, 2 * (offset + (limit or 0)))
    split = None if limit is None else metric_split(query, dialect=dialect, walk=walk)
    if split is None or limit is None:
        sql, params = list_runs_sql(query, dialect=dialect)
        return [summary_from_row(row) for row in conn.execute(sql, params)]
    boundary = conn.execute(*split.boundary).fetchone()
    head = split.head(None if boundary is None else boundary[0])
    rows = list(conn.execute(*paged(*head, limit, offset, dialect=dialect)))
    if len(rows) < limit:
        if boundary is not None:  # runs past the boundary may belong to this page
            sql, params = list_runs_sql(query, dialect=dialect)
            return [summary_from_row(row) for row in conn.execute(sql, params)]
        if rows or not offset:
            tail_offset = 0  # the page started among the runs with a value (or at the start)
        else:
            tail_offset = offset - int(conn.execute(*split.count_head).fetchone()[0])
        tail = paged(*split.tail, limit - len(rows), tail_offset, dialect=dialect)
        rows.extend(conn.execute(*tail))
    return [summary_from_row(row) for row in rows]


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
