"""SQL of alerts for the SQL stores, run inside the caller's transaction (never commits).

An alert is a rule on the **latest** value of a metric (``metric_series.last_value``; SQL NULL
there is NaN). :func:`evaluate` checks every active alert against the runs that finished since
the alert's last check (by ``runs.end_time``, with an overlap window) and records one
``alert_events`` row per (alert, run) that breaches it: ``INSERT ... SELECT ... ON CONFLICT
(alert, run_id) DO NOTHING RETURNING`` returns only the rows this transaction created, so two
checkers running at once each get (and deliver) a disjoint set of events, and the
``last_checked_at`` update commits with them.

The comparison is part of the query. Each alert's query is driven either by the runs that
finished in the window (``runs_by_end``) or by the series that breach the rule
(``metric_series_by_last``), whichever is smaller: a recurring check scans a few recent runs,
a first check over a big backlog only the breaching series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from chachaml.errors import NotFound
from chachaml.store import sqlfilter
from chachaml.store.protocol import RunDict
from chachaml.store.sqlconn import Conn, dialect_of

ALERT_COLUMNS = (
    "name",
    "metric",
    "op",
    "threshold",
    "experiment",
    "webhook_url",
    "filter",
    "active",
    "created_at",
    "updated_at",
    "last_checked_at",
    "watch_from",
)
EVENT_COLUMNS = (
    "id",
    "alert",
    "run_id",
    "value",
    "fired_at",
    "delivery",
    "http_status",
    "delivery_error",
    "attempts",
    "delivered_at",
)
COMPARISON_OPS = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "==": "=", "!=": "<>"}
_ALERT_SELECT = f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts"
_EVENT_SELECT = (
    "SELECT "
    + ", ".join(f"e.{c}" for c in EVENT_COLUMNS)
    + ", a.metric, a.op, a.threshold, r.name, r.experiment "
    "FROM alert_events e JOIN alerts a ON a.name = e.alert LEFT JOIN runs r ON r.id = e.run_id"
)
_EVENT_EXTRA = ("metric", "op", "threshold", "run_name", "experiment")
_CHUNK = 500


def _alert(row: Sequence[Any]) -> RunDict:
    out = dict(zip(ALERT_COLUMNS, row, strict=True))
    out["active"] = bool(out["active"])
    return out


def _value(op: str, value: float | None) -> float | None:
    """An event's value: NULL is NaN, except for ``missing`` (the run has no value)."""
    if op == "missing":
        return None
    return math.nan if value is None else float(value)


def _event(row: Sequence[Any]) -> RunDict:
    out = dict(zip(EVENT_COLUMNS + _EVENT_EXTRA, row, strict=True))
    out["value"] = _value(out["op"], out["value"])
    return out


# -- rules ------------------------------------------------------------------------------------
def upsert(conn: Conn, alert: Mapping[str, Any], now_ms: int) -> RunDict:
    """Create or replace the rule ``alert["name"]``; ``active``, ``created_at``, the last check
    and the events of an existing rule are kept (re-setting never re-fires old events)."""
    conn.execute(
        "INSERT INTO alerts (name, metric, op, threshold, experiment, webhook_url, filter, "
        "active, created_at, updated_at, last_checked_at, watch_from) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET metric = excluded.metric, op = excluded.op, "
        "threshold = excluded.threshold, experiment = excluded.experiment, "
        "webhook_url = excluded.webhook_url, filter = excluded.filter, "
        "updated_at = excluded.updated_at",
        (
            alert["name"],
            alert["metric"],
            alert["op"],
            alert.get("threshold"),
            alert.get("experiment"),
            alert.get("webhook_url"),
            alert.get("filter"),
            now_ms,
            now_ms,
            now_ms,
            now_ms,
        ),
    )
    found = get(conn, str(alert["name"]))
    assert found is not None
    return found


def get(conn: Conn, name: str) -> RunDict | None:
    row = conn.execute(_ALERT_SELECT + " WHERE name = ?", (name,)).fetchone()
    return None if row is None else _alert(row)


def list_all(conn: Conn) -> list[RunDict]:
    return [_alert(row) for row in conn.execute(_ALERT_SELECT + " ORDER BY name")]


def set_active(conn: Conn, name: str, active: bool, now_ms: int) -> RunDict | None:
    """Activating a rule starts its watch from now: runs that finished while it was inactive
    are not checked (no flood of old events)."""
    if active:
        conn.execute(
            "UPDATE alerts SET active = 1, updated_at = ?, last_checked_at = ?, watch_from = ? "
            "WHERE name = ? AND active = 0",
            (now_ms, now_ms, now_ms, name),
        )
    else:
        conn.execute(
            "UPDATE alerts SET active = 0, updated_at = ? WHERE name = ? AND active = 1",
            (now_ms, name),
        )
    return get(conn, name)


def delete(conn: Conn, name: str) -> bool:
    conn.execute("DELETE FROM alert_events WHERE alert = ?", (name,))
    return bool(conn.execute("DELETE FROM alerts WHERE name = ?", (name,)).rowcount > 0)


# -- events -----------------------------------------------------------------------------------
def events(conn: Conn, name: str | None, limit: int) -> list[RunDict]:
    """Events newest first (all alerts, or one)."""
    if name is None:
        rows = conn.execute(_EVENT_SELECT + " ORDER BY e.id DESC LIMIT ?", (limit,))
    else:
        rows = conn.execute(
            _EVENT_SELECT + " WHERE e.alert = ? ORDER BY e.id DESC LIMIT ?", (name, limit)
        )
    return [_event(row) for row in rows]


def record_delivery(conn: Conn, event_id: int, outcome: Mapping[str, Any]) -> None:
    cur = conn.execute(
        "UPDATE alert_events SET delivery = ?, http_status = ?, delivery_error = ?, "
        "attempts = ?, delivered_at = ? WHERE id = ?",
        (
            outcome["delivery"],
            outcome.get("http_status"),
            outcome.get("delivery_error"),
            int(outcome.get("attempts") or 0),
            outcome.get("delivered_at"),
            event_id,
        ),
    )
    if cur.rowcount == 0:
        raise NotFound(f"alert event {event_id} does not exist")


# -- evaluation -------------------------------------------------------------------------------
def _unindexed(expr: str, dialect: str) -> str:
    """``expr`` hidden from SQLite's index choice (``+x``); PostgreSQL plans by statistics."""
    return f"+{expr}" if dialect == "sqlite" else expr


def _breach(op: str, metric: str, threshold: float | None) -> tuple[str, list[Any]]:
    """The condition on the series ``s`` (of key ``metric``) of a comparison or ``nan`` rule."""
    if op == "nan":
        # Two ranges of the (key, last_value) index: NULL (NaN) and ±inf; an OR of them would
        # make the planner scan every series of the key.
        return (
            "s.id IN (SELECT x.id FROM metric_series x WHERE x.key = ? "
            "AND x.last_value IS NULL UNION ALL SELECT x.id FROM metric_series x "
            "WHERE x.key = ? AND x.last_value IN (?, ?))"
        ), [metric, metric, math.inf, -math.inf]
    return f"s.last_value {COMPARISON_OPS[op]} ?", [threshold]


def _candidates(
    conn: Conn, alert: RunDict, lower: int | None, run_id: str | None, window: int, dialect: str
) -> tuple[str, list[Any]]:
    """``FROM ... WHERE ...`` of the runs that breach ``alert`` (with ``s`` the series, except
    for ``missing``), and its parameters."""
    op, metric = alert["op"], alert["metric"]
    conds = [_unindexed("r.status", dialect) + " <> 'running'", "r.end_time IS NOT NULL"]
    params: list[Any] = []
    if run_id is not None:
        conds.append("r.id = ?")
        params.append(run_id)
    else:
        conds.append("r.end_time >= ?")
        params.append(lower)
    if alert["experiment"] is not None:
        conds.append(_unindexed("r.experiment", dialect) + " = ?")
        params.append(alert["experiment"])
    if alert["filter"]:
        sql, extra = sqlfilter.compile_where(alert["filter"], dialect=dialect, stale_before=0)
        if sql:
            conds.append(f"({sql})")
            params.extend(extra)
    if op == "missing":
        conds.append(
            "NOT EXISTS (SELECT 1 FROM metric_series s WHERE s.run_id = r.id AND s.key = ?)"
        )
        params.append(metric)
        return "FROM runs r WHERE " + " AND ".join(conds), params
    breach, breach_params = _breach(op, metric, alert["threshold"])
    series_first = False
    if run_id is None:
        # Drive by whichever is smaller: the window's runs or the breaching series.
        (n,) = conn.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM metric_series s WHERE s.key = ? AND {breach} "
            "LIMIT ?) AS b",
            (metric, *breach_params, window + 1),
        ).fetchone()
        series_first = int(n) <= window
    if series_first:
        # (the nan condition names the key itself: `s.key = ?` would pull in a scan of it)
        key, key_params = ("", []) if op == "nan" else ("s.key = ? AND ", [metric])
        head = f"FROM metric_series s CROSS JOIN runs r WHERE {key}{breach}"
        return head + " AND r.id = s.run_id AND " + " AND ".join(conds), [
            *key_params,
            *breach_params,
            *params,
        ]
    head = "FROM runs r CROSS JOIN metric_series s WHERE " + " AND ".join(conds)
    return head + " AND s.run_id = r.id AND s.key = ? AND " + breach, [
        *params,
        metric,
        *breach_params,
    ]


def evaluate(
    conn: Conn, now_ms: int, overlap_ms: int, run_id: str | None = None
) -> tuple[int, list[RunDict]]:
    """Check every active alert; returns ``(alerts checked, events created)``.

    Without ``run_id``: the runs that finished since each alert's last check (less
    ``overlap_ms``), and after its ``watch_from`` (its creation or re-activation); every
    checked alert's ``last_checked_at`` becomes ``now_ms``. With ``run_id``: that run only,
    whenever it finished; ``last_checked_at`` is left alone. A new event's ``delivery`` is
    ``pending`` when its alert has a webhook (the caller delivers it and records the outcome),
    else ``none``.
    """
    dialect = dialect_of(conn)
    if (
        run_id is not None
        and conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None
    ):
        raise NotFound(f"run {run_id!r} does not exist")
    alerts = [
        _alert(row) for row in conn.execute(_ALERT_SELECT + " WHERE active = 1 ORDER BY name")
    ]
    windows: dict[int, int] = {}
    created: list[RunDict] = []
    for alert in alerts:
        # Runs that finish in the millisecond an alert is set count as finishing after it.
        lower = max(int(alert["last_checked_at"]) - overlap_ms, int(alert["watch_from"]))
        window = 0
        if run_id is None:
            if lower not in windows:
                (windows[lower],) = conn.execute(
                    "SELECT COUNT(*) FROM runs WHERE end_time >= ?", (lower,)
                ).fetchone()
            window = int(windows[lower])
            if window == 0:
                continue
        source, params = _candidates(conn, alert, lower, run_id, window, dialect)
        value = "NULL" if alert["op"] == "missing" else "s.last_value"
        delivery = "pending" if alert["webhook_url"] else "none"
        rows = conn.execute(
            "INSERT INTO alert_events (alert, run_id, value, fired_at, delivery, attempts) "
            f"SELECT ?, r.id, {value}, ?, ?, 0 {source} "
            "ON CONFLICT (alert, run_id) DO NOTHING RETURNING id, run_id, value",
            (alert["name"], now_ms, delivery, *params),
        ).fetchall()
        for event_id, rid, val in rows:
            created.append(
                {
                    "id": int(event_id),
                    "alert": alert["name"],
                    "run_id": rid,
                    "value": _value(alert["op"], val),
                    "fired_at": now_ms,
                    "delivery": delivery,
                    "http_status": None,
                    "delivery_error": None,
                    "attempts": 0,
                    "delivered_at": None,
                    "metric": alert["metric"],
                    "op": alert["op"],
                    "threshold": alert["threshold"],
                    "webhook_url": alert["webhook_url"],
                }
            )
    if run_id is None:
        names = [a["name"] for a in alerts]
        for i in range(0, len(names), _CHUNK):
            chunk = names[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            conn.execute(
                f"UPDATE alerts SET last_checked_at = ? WHERE name IN ({marks})", (now_ms, *chunk)
            )
    _add_run_names(conn, created)
    created.sort(key=lambda e: e["id"])
    return len(alerts), created


def _add_run_names(conn: Conn, created: list[RunDict]) -> None:
    ids = sorted({e["run_id"] for e in created})
    names: dict[str, tuple[str | None, str]] = {}
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for rid, name, experiment in conn.execute(
            f"SELECT id, name, experiment FROM runs WHERE id IN ({marks})", chunk
        ):
            names[rid] = (name, experiment)
    for e in created:
        e["run_name"], e["experiment"] = names.get(e["run_id"], (None, None))
