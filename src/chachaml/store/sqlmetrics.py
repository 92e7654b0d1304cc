"""SQL for metric points and their per-series summaries, run inside the caller's transaction.

Points live in ``metrics`` keyed by ``(series_id, step)``; ``metric_series`` has one row per
(run, key) with the summary every query reads (latest, min, max, first, count). Each batch merges
into the stored summary without reading points back, except when a step is re-logged or arrives
out of order (then the exact summary is recomputed for that series). NULL stands for NaN.

The functions take a DB-API connection with ``?`` placeholders and never commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from chachaml.errors import NotFound
from chachaml.store import sqlblocks, sqlquery
from chachaml.store.protocol import MetricPoint, RunDict
from chachaml.store.sqlconn import Conn, IntegrityError, dialect_of

_CHUNK = 500  # ids per IN (...) list
SeriesCache = dict[tuple[str, str], int]

_APPEND_POINT = "INSERT INTO metrics (series_id, step, value, timestamp) VALUES (?, ?, ?, ?)"
_INSERT_POINT = (
    _APPEND_POINT + " "
    "ON CONFLICT (series_id, step) DO UPDATE SET value = excluded.value, "
    "timestamp = excluded.timestamp"
)
_UPDATE_SUMMARY = (
    "UPDATE metric_series SET count = ?, first_value = ?, last_step = ?, last_value = ?, "
    "last_ts = ?, min_value = ?, min_step = ?, max_value = ?, max_step = ? WHERE id = ?"
)


def _marks(n: int) -> str:
    return ",".join("?" * n)


def series_ids(conn: Conn, cache: SeriesCache, pairs: set[tuple[str, str]]) -> None:
    """Make sure every (run, key) has a series row and its id is in ``cache``."""
    for run_id, key in pairs.difference(cache):
        row = conn.execute(
            "SELECT id FROM metric_series WHERE run_id = ? AND key = ?", (run_id, key)
        ).fetchone()
        if row is not None:
            cache[(run_id, key)] = int(row[0])
            continue
        try:
            # DO NOTHING: another process may create the same series concurrently (PostgreSQL).
            row = conn.execute(
                "INSERT INTO metric_series (run_id, key) VALUES (?, ?) "
                "ON CONFLICT (run_id, key) DO NOTHING RETURNING id",
                (run_id, key),
            ).fetchone()
        except IntegrityError as exc:
            raise NotFound(f"cannot log metric {key!r}: run {run_id!r} does not exist") from exc
        if row is None:
            row = conn.execute(
                "SELECT id FROM metric_series WHERE run_id = ? AND key = ?", (run_id, key)
            ).fetchone()
        cache[(run_id, key)] = int(row[0])


def insert_points(conn: Conn, cache: SeriesCache, points: Sequence[MetricPoint]) -> None:
    """Write points and update their series summaries (a point for an existing step replaces it)."""
    new: set[tuple[str, str]] = set()
    try:
        try:
            rows = [(cache[r, k], s, v, t) for r, k, s, v, t in points]
        except KeyError:  # a series seen for the first time: create it, then map again
            new = {(p[0], p[1]) for p in points}.difference(cache)
            series_ids(conn, cache, new)
            rows = [(cache[r, k], s, v, t) for r, k, s, v, t in points]
        batch = sqlquery.summarise_batch(rows)
        stored = stored_summaries(conn, batch)
        bulk = getattr(conn, "upsert_points", None)  # PostgreSQL: COPY + one upsert
        if bulk is not None:
            bulk(rows)
        elif all(_appends(stored[sid], summary) for sid, summary in batch.items()):
            # The usual case: every series only grows past its last stored step, so no point
            # can conflict and the plain INSERT (about a quarter cheaper) is exact.
            conn.executemany(_APPEND_POINT, rows)
        else:
            conn.executemany(_INSERT_POINT, rows)
        counts = update_summaries(conn, batch, stored)
        sqlblocks.update(conn, batch, stored, counts)
    except BaseException:
        # The caller rolls back: the series rows created here are gone, so forget their ids.
        for pair in new:
            cache.pop(pair, None)
        raise


def _appends(old: Sequence[Any], summary: sqlquery.Summary) -> bool:
    """True when a batch's points of a series all lie after its stored points, in order."""
    return bool(summary[10]) and (old[0] == 0 or summary[1] > old[2])


def stored_summaries(conn: Conn, batch: dict[int, sqlquery.Summary]) -> dict[int, tuple[Any, ...]]:
    """The stored ``(count, first_value, last_step, min, min_step, max, max_step)`` per series."""
    sids = sorted(batch)
    stored: dict[int, tuple[Any, ...]] = {}
    # PostgreSQL: lock the summary rows (in id order, so writers never deadlock) so a concurrent
    # writer to the same series cannot merge into a stale summary. SQLite holds its write lock.
    lock = " ORDER BY id FOR UPDATE" if dialect_of(conn) == "postgresql" else ""
    for i in range(0, len(sids), _CHUNK):
        chunk = sids[i : i + _CHUNK]
        for row in conn.execute(
            "SELECT id, count, first_value, last_step, min_value, min_step, max_value, max_step "
            f"FROM metric_series WHERE id IN ({_marks(len(chunk))})" + lock,
            chunk,
        ):
            stored[row[0]] = row[1:]
    return stored


def update_summaries(
    conn: Conn, batch: dict[int, sqlquery.Summary], stored: dict[int, tuple[Any, ...]]
) -> dict[int, int]:
    """Write each series' merged summary; returns its point count after the batch."""
    updates = []
    for sid, summary in batch.items():
        old = stored[sid]
        in_order = summary[10]
        if old[0] == 0 and in_order:
            merged = summary
        elif old[0] and in_order and summary[1] > old[2]:
            merged = sqlquery.merge_summary(old, summary)
        else:
            merged = recompute_summary(conn, sid)
        updates.append((merged[0], *merged[2:10], sid))
    conn.executemany(_UPDATE_SUMMARY, updates)
    return {row[-1]: row[0] for row in updates}


def recompute_summary(conn: Conn, sid: int) -> sqlquery.Summary:
    """Slow path (a step was re-logged or arrived out of order): the exact summary from points."""
    (count,) = conn.execute("SELECT COUNT(*) FROM metrics WHERE series_id = ?", (sid,)).fetchone()
    first = conn.execute(
        "SELECT step, value FROM metrics WHERE series_id = ? ORDER BY step LIMIT 1", (sid,)
    ).fetchone()
    last = conn.execute(
        "SELECT step, value, timestamp FROM metrics WHERE series_id = ? ORDER BY step DESC LIMIT 1",
        (sid,),
    ).fetchone()
    low = conn.execute(
        "SELECT value, step FROM metrics WHERE series_id = ? AND value IS NOT NULL "
        "ORDER BY value, step LIMIT 1",
        (sid,),
    ).fetchone() or (None, None)
    high = conn.execute(
        "SELECT value, step FROM metrics WHERE series_id = ? AND value IS NOT NULL "
        "ORDER BY value DESC, step LIMIT 1",
        (sid,),
    ).fetchone() or (None, None)
    return [count, *first, *last, *low, *high, True]


def summaries(conn: Conn, run_ids: Sequence[str]) -> dict[str, dict[str, RunDict]]:
    """Per run, per key: ``last``, ``last_step``, ``timestamp``, ``min``, ``max``, ``first``,
    ``count``."""
    out: dict[str, dict[str, RunDict]] = {}
    for i in range(0, len(run_ids), _CHUNK):
        chunk = run_ids[i : i + _CHUNK]
        for run_id, key, count, first, last_step, last, last_ts, low, high in conn.execute(
            "SELECT run_id, key, count, first_value, last_step, last_value, last_ts, min_value, "
            f"max_value FROM metric_series WHERE run_id IN ({_marks(len(chunk))}) AND count > 0 "
            "ORDER BY key",
            chunk,
        ):
            out.setdefault(run_id, {})[key] = {
                "last": sqlquery.nan_if_null(last),
                "last_step": last_step,
                "timestamp": last_ts,
                "min": low,
                "max": high,
                "first": sqlquery.nan_if_null(first),
                "count": count,
            }
    return out


def history(
    conn: Conn, run_id: str, key: str, max_points: int | None = None, after_step: int | None = None
) -> list[tuple[int, float, int]]:
    """``(step, value, timestamp)`` of one series in step order (NaN restored).

    With ``max_points`` a longer series is downsampled in the database: the steps are cut into
    equal ranges and each keeps its lowest and highest point (so spikes survive; a range of only
    NaN keeps one NaN point), plus the first and last point. Deterministic, and it never moves
    a million points into Python. A long series answers from its min/max blocks
    (:mod:`chachaml.store.sqlblocks`; ranges are then whole blocks wide), a shorter one from a
    range scan of its points.

    With ``after_step`` (a live-update cursor) only points with a greater step are read, the
    first ``max_points`` of them, never downsampled.
    """
    row = conn.execute(
        "SELECT id, count FROM metric_series WHERE run_id = ? AND key = ?", (run_id, key)
    ).fetchone()
    if row is None:
        return []
    sid, count = row
    if after_step is not None:
        limit = "" if max_points is None else f" LIMIT {int(max_points)}"
        return [
            (step, sqlquery.nan_if_null(value), ts)
            for step, value, ts in conn.execute(
                "SELECT step, value, timestamp FROM metrics WHERE series_id = ? AND step > ? "
                "ORDER BY step" + limit,
                (sid, after_step),
            )
        ]
    if max_points is not None and count > max_points:
        return _downsampled(conn, sid, count, max_points)
    return [
        (step, sqlquery.nan_if_null(value), ts)
        for step, value, ts in conn.execute(
            "SELECT step, value, timestamp FROM metrics WHERE series_id = ? ORDER BY step", (sid,)
        )
    ]


_RANGE = "FROM metrics WHERE series_id = ? AND step >= ? AND step <= ?"
# The lowest/highest finite point of a step range, ties to the lowest step. SQLite returns the
# other columns of the row holding the min()/max() (any row when the range holds only NaN; then
# _FIRST picks its first point); PostgreSQL spells the same choice with ORDER BY ... LIMIT 1.
_EXTREME = {
    "sqlite": {fn: f"SELECT step, value, timestamp, {fn}(value) {_RANGE}" for fn in ("min", "max")},
    "postgresql": {
        fn: f"SELECT step, value, timestamp {_RANGE} ORDER BY value {order} NULLS LAST, step "
        "LIMIT 1"
        for fn, order in (("min", "ASC"), ("max", "DESC"))
    },
}
_FIRST = f"SELECT step, value, timestamp {_RANGE} ORDER BY step LIMIT 1"


def _points_at(conn: Conn, sid: int, steps: Sequence[int]) -> Iterator[Sequence[Any]]:
    """``(step, value, timestamp)`` of the points at ``steps`` (primary-key lookups)."""
    if dialect_of(conn) == "postgresql":
        # A join on the unnested steps is planned as one index lookup per step even before
        # the table has statistics (an IN list right after a bulk load is planned as a scan
        # of the whole series).
        yield from conn.execute(
            "SELECT m.step, m.value, m.timestamp FROM unnest(CAST(? AS BIGINT[])) AS s(step) "
            "JOIN metrics m ON m.series_id = ? AND m.step = s.step",
            (list(steps), sid),
        )
        return
    for i in range(0, len(steps), _CHUNK):
        chunk = steps[i : i + _CHUNK]
        yield from conn.execute(
            "SELECT step, value, timestamp FROM metrics "
            f"WHERE series_id = ? AND step IN ({_marks(len(chunk))})",
            (sid, *chunk),
        )


def _downsampled(conn: Conn, sid: int, count: int, max_points: int) -> list[tuple[int, float, int]]:
    edge = "SELECT step, value, timestamp FROM metrics WHERE series_id = ? ORDER BY step {} LIMIT 1"
    first = conn.execute(edge.format("ASC"), (sid,)).fetchone()
    last = conn.execute(edge.format("DESC"), (sid,)).fetchone()
    keep = {first[0]: first, last[0]: last}
    buckets = (max_points - 2) // 2
    steps = None
    if buckets > 0 and count >= sqlblocks.ROLLUP_MIN:
        steps = sqlblocks.plan(conn, sid, first[0], last[0], buckets)
    if steps is not None:
        for row in _points_at(conn, sid, [s for s in steps if s not in keep]):
            keep[row[0]] = tuple(row)
    elif buckets > 0:
        lo, hi = first[0], last[0]
        width = -(-(hi - lo + 1) // buckets)
        extreme = _EXTREME[dialect_of(conn)]
        for b in range(buckets):
            start = lo + b * width
            if start > hi:
                break
            bounds = (sid, start, min(start + width - 1, hi))
            for fn in ("min", "max"):
                row = conn.execute(extreme[fn], bounds).fetchone()
                if row is None or row[0] is None:  # no point in this range
                    continue
                if row[1] is None:  # only NaN in this range: keep its first point
                    row = conn.execute(_FIRST, bounds).fetchone()
                keep[row[0]] = tuple(row[:3])
    points = [keep[s] for s in sorted(keep)][:max_points]
    return [(step, sqlquery.nan_if_null(value), ts) for step, value, ts in points]


_BEST_COLUMNS = {
    "last": ("last_value", "last_step"),
    "max": ("max_value", "max_step"),
    "min": ("min_value", "min_step"),
}


def best(
    conn: Conn, key: str, experiment: str | None, direction: str, by: str = "last"
) -> tuple[str, float, int] | None:
    """``(run_id, value, step)`` of the live run whose latest (or max, or min) value of ``key``
    is the highest (or lowest); NULL (NaN) values never win."""
    value_col, step_col = _BEST_COLUMNS[by]
    order = "ASC" if direction == "min" else "DESC"
    sql = (
        f"SELECT s.run_id, s.{value_col}, s.{step_col} FROM metric_series s "
        "JOIN runs r ON r.id = s.run_id "
        f"WHERE s.key = ? AND s.{value_col} IS NOT NULL AND r.archived = 0"
    )
    params: list[Any] = [key]
    if experiment is not None:
        sql += " AND r.experiment = ?"
        params.append(experiment)
    sql += f" ORDER BY s.{value_col} {order}, r.start_time DESC, r.rowid DESC LIMIT 1"
    row = conn.execute(sql, params).fetchone()
    return None if row is None else (row[0], row[1], row[2])
