"""Raw ``sqlite3``: the physical-limit baseline. Durable = ``COMMIT`` returned.

Same pragmas as chachaml (WAL, ``synchronous=NORMAL``). Metric rows are the same
``(run_id, key, step, value, timestamp)`` tuples chachaml logs, into a plain table without
indexes: no validation, no summaries, no series table, rows built before the clock starts.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
import uuid
from typing import Any

import _common as c

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, experiment TEXT, name TEXT, "
    "status TEXT, start_time INTEGER, end_time INTEGER)",
    "CREATE INDEX IF NOT EXISTS runs_by_start ON runs (start_time DESC)",
    "CREATE TABLE IF NOT EXISTS params (run_id TEXT, key TEXT, value TEXT, "
    "PRIMARY KEY (run_id, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS tags (run_id TEXT, key TEXT, value TEXT, "
    "PRIMARY KEY (run_id, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS latest (run_id TEXT, key TEXT, value REAL, "
    "PRIMARY KEY (run_id, key)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS latest_by_value ON latest (key, value)",
    "CREATE TABLE IF NOT EXISTS metrics (run_id TEXT, key TEXT, step INTEGER, value REAL, "
    "timestamp INTEGER)",
)

INSERT_METRIC = "INSERT INTO metrics (run_id, key, step, value, timestamp) VALUES (?, ?, ?, ?, ?)"


def connect(path: str) -> sqlite3.Connection:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 60000")
    conn.execute("BEGIN IMMEDIATE")
    for stmt in SCHEMA:
        conn.execute(stmt)
    conn.execute("COMMIT")
    return conn


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def w2_single(args: dict[str, Any]) -> c.Result:
    """N single ``execute`` inserts in one transaction, then ``COMMIT``."""
    n = args["n"]
    values = c.series_values(n)
    conn = connect(os.path.join(args["dir"], "w2.db"))
    run_id = uuid.uuid4().hex
    execute = conn.execute
    t1 = time.perf_counter()
    execute("BEGIN IMMEDIATE")
    for i, v in enumerate(values):
        execute(INSERT_METRIC, (run_id, "loss", i, v, time.time_ns() // 1_000_000))
    t2 = time.perf_counter()
    execute("COMMIT")
    t3 = time.perf_counter()
    return {
        "loop_us_per_call": (t2 - t1) / n * 1e6,
        "end_ms": (t3 - t2) * 1e3,
        "durable_us_per_call": (t3 - t1) / n * 1e6,
        "points": n,
    }


def w3_bulk(args: dict[str, Any]) -> c.Result:
    """``executemany`` of K x S prebuilt rows in one transaction."""
    keys = [f"metric_{k}" for k in range(args["keys"])]
    steps = args["steps"]
    values = c.series_values(steps)
    run_id = uuid.uuid4().hex
    ts = _now_ms()
    rows = [(run_id, k, s, values[s], ts) for s in range(steps) for k in keys]
    base_path = os.path.join(args["dir"], "w6_empty.db")
    connect(base_path).close()
    path = os.path.join(args["dir"], "w3.db")
    conn = connect(path)
    t1 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(INSERT_METRIC, rows)
    conn.execute("COMMIT")
    t3 = time.perf_counter()
    conn.close()
    n = len(rows)
    return {
        "durable_s": t3 - t1,
        "durable_us_per_point": (t3 - t1) / n * 1e6,
        "points_per_s": n / (t3 - t1),
        "points": n,
        "stored": n,
        "bytes_per_point": (c.db_bytes(path) - c.db_bytes(base_path)) / n,
    }


def _write_run(
    conn: sqlite3.Connection,
    i: int,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    experiment: str,
) -> None:
    run_id = uuid.uuid4().hex
    now = _now_ms()
    conn.execute(
        "INSERT INTO runs VALUES (?, ?, ?, 'completed', ?, ?)",
        (run_id, experiment, f"run-{i}", now, now),
    )
    conn.executemany(
        "INSERT INTO params VALUES (?, ?, ?)", [(run_id, k, str(v)) for k, v in params.items()]
    )
    conn.executemany("INSERT INTO tags VALUES (?, ?, ?)", [(run_id, k, v) for k, v in tags.items()])
    conn.executemany(INSERT_METRIC, [(run_id, k, 0, v, now) for k, v in metrics.items()])
    conn.executemany(
        "INSERT INTO latest VALUES (?, ?, ?)", [(run_id, k, v) for k, v in metrics.items()]
    )


def w4_runs(args: dict[str, Any]) -> c.Result:
    """One transaction per run: run row, 10 params, 2 tags, 5 metrics (+ latest values)."""
    n = args["runs"]
    conn = connect(os.path.join(args["dir"], "w4.db"))
    data = [(c.w4_tags(i), c.w4_params(i), c.w4_metrics(i)) for i in range(n)]
    t0 = time.perf_counter()
    for i, (tags, params, metrics) in enumerate(data):
        conn.execute("BEGIN IMMEDIATE")
        _write_run(conn, i, params, metrics, tags, "w4")
        conn.execute("COMMIT")
    dt = time.perf_counter() - t0
    return {"runs_per_s": n / dt, "ms_per_run": dt / n * 1e3}


def w5_populate(args: dict[str, Any]) -> c.Result:
    start, end = args.get("start", 0), args["runs"]
    conn = connect(args["db"])
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    for i in range(start, end):
        _write_run(conn, i, c.w5_params(i), c.w5_metrics(i), {"team": f"t{i % 3}"}, "w5")
    conn.execute("COMMIT")
    return {"populate_runs_per_s": (end - start) / (time.perf_counter() - t0)}


COLS = "r.id, r.experiment, r.name, r.status, r.start_time, r.end_time"


def w5_query(args: dict[str, Any]) -> c.Result:
    """The same questions as chachaml's W5, answered with hand-written SQL (tuples, no dicts)."""
    n = args["runs"]
    repeat = args.get("repeat", 5)
    conn = sqlite3.connect(args["db"], isolation_level=None)
    expected = c.expected_matches(n)
    out: c.Result = {}

    def list_all() -> list[Any]:
        return conn.execute(f"SELECT {COLS} FROM runs r ORDER BY r.start_time DESC").fetchall()

    def best() -> Any:
        row = conn.execute(
            "SELECT run_id, value FROM latest WHERE key = 'acc' ORDER BY value DESC LIMIT 1"
        ).fetchone()
        return conn.execute(f"SELECT {COLS} FROM runs r WHERE r.id = ?", (row[0],)).fetchone()

    def threshold() -> list[Any]:
        return conn.execute(
            f"SELECT {COLS} FROM runs r JOIN latest m ON m.run_id = r.id "
            "WHERE m.key = 'acc' AND m.value > ? ORDER BY r.start_time DESC",
            (c.THRESHOLD,),
        ).fetchall()

    def expr() -> list[Any]:
        return conn.execute(
            f"SELECT {COLS} FROM runs r JOIN latest m ON m.run_id = r.id "
            "WHERE m.key = 'acc' AND m.value > ? AND EXISTS (SELECT 1 FROM params p "
            "WHERE p.run_id = r.id AND ((p.key = 'model' AND p.value = 'rf') OR "
            "(p.key = 'depth' AND CAST(p.value AS INTEGER) >= 5))) ORDER BY r.start_time DESC",
            (c.THRESHOLD,),
        ).fetchall()

    t, rows = c.time_query(list_all, repeat)
    out["list_ms"] = t * 1e3
    assert len(rows) == n
    t, _ = c.time_query(best, repeat)
    out["best_ms"] = t * 1e3
    t, rows = c.time_query(threshold, repeat)
    out["threshold_ms"] = t * 1e3
    assert len(rows) == expected["threshold"], len(rows)
    t, rows = c.time_query(expr, repeat)
    out["filter_expr_ms"] = t * 1e3
    assert len(rows) == expected["filter_expr"], len(rows)
    return out


def w7_parent(args: dict[str, Any]) -> c.Result:
    path = os.path.join(args["dir"], "w7.db")
    connect(path).close()
    go = os.path.join(args["dir"], "w7.go")
    child_args = [
        {"index": i, "db": path, "go": go, "points": args["points"]} for i in range(args["procs"])
    ]
    res = c.spawn_children(__file__, "w7_child", child_args, go)
    conn = sqlite3.connect(path)
    stored = conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    conn.close()
    return c.w7_result(args, res, stored)


def w7_child(args: dict[str, Any]) -> c.Result:
    """Streams its points in transactions of 1,000 rows (a writer flushing as it goes)."""
    conn = connect(args["db"])
    run_id = uuid.uuid4().hex
    values = c.series_values(args["points"])
    c.wait_for_go(args["go"], args["index"])
    t0 = time.time()
    errors = 0
    for lo in range(0, len(values), 1000):
        rows = [
            (run_id, "x", s, values[s], _now_ms()) for s in range(lo, min(lo + 1000, len(values)))
        ]
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT_METRIC, rows)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            print(f"raw w7 child: {exc!r}", file=sys.stderr)
            errors += 1
    return {"t_start": t0, "t_end": time.time(), "errors": errors, "run_id": run_id}


def w8_populate(args: dict[str, Any]) -> c.Result:
    n = args["points"]
    conn = connect(args["db"])
    conn.execute(
        "CREATE TABLE series (series_id INTEGER, step INTEGER, value REAL, timestamp INTEGER, "
        "PRIMARY KEY (series_id, step)) WITHOUT ROWID"
    )
    values = c.series_values(n)
    ts = _now_ms()
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO series VALUES (1, ?, ?, ?)", [(s, values[s], ts) for s in range(n)]
    )
    conn.execute("COMMIT")
    return {"populate_points_per_s": n / (time.perf_counter() - t0)}


def w8_query(args: dict[str, Any]) -> c.Result:
    """Fetch all N points in step order (the floor under any downsampling done in Python)."""
    conn = sqlite3.connect(args["db"], isolation_level=None)
    sql = "SELECT step, value, timestamp FROM series WHERE series_id = 1 ORDER BY step"
    t, rows = c.time_query(lambda: conn.execute(sql).fetchall(), args["repeat"])
    assert len(rows) == args["points"]
    return {"history_ms": t * 1e3}


WORKLOADS: dict[str, c.Workload] = {
    "w2": w2_single,
    "w3": w3_bulk,
    "w4": w4_runs,
    "w5_populate": w5_populate,
    "w5_query": w5_query,
    "w7": w7_parent,
    "w7_child": w7_child,
    "w8_populate": w8_populate,
    "w8_query": w8_query,
}

if __name__ == "__main__":
    c.main(WORKLOADS)
