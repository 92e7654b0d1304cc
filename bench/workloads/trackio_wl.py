"""trackio workloads, local mode (``TRACKIO_DIR`` under the bench work dir; no Space, no UI).

Durable = ``trackio.finish()`` returned: it joins trackio's background sender, which writes the
queued logs into the project's SQLite file (WAL, ``synchronous=NORMAL``). trackio has no run
tags (W4 puts them into the run config) and no query API beyond listing a project's runs, so
W5 best/threshold/filter are "not supported". Run by the peer venv's python.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from typing import Any

import _common as c


def _trackio(directory: str) -> Any:
    """Import trackio with its data directory set (it reads ``TRACKIO_DIR`` at import time)."""
    os.makedirs(directory, exist_ok=True)
    os.environ["TRACKIO_DIR"] = os.path.abspath(directory)
    os.environ.setdefault("TRACKIO_STORAGE_MODE", "sqlite")
    import trackio

    return trackio


def _init(trackio: Any, project: str, **kw: Any) -> Any:
    return trackio.init(project=project, embed=False, auto_log_cpu=False, auto_log_gpu=False, **kw)


def w2_single(args: dict[str, Any]) -> c.Result:
    n = args["n"]
    values = c.series_values(n)
    trackio = _trackio(args["dir"])
    t0 = time.perf_counter()
    _init(trackio, "w2")
    t1 = time.perf_counter()
    for v in values:
        trackio.log({"loss": v})
    t2 = time.perf_counter()
    trackio.finish()
    t3 = time.perf_counter()
    return c.w2_result(n, t0, t1, t2, t3)


def _count_points(db: str, runs: list[str] | None = None) -> int:
    """trackio stores one row per ``log`` call with the step's metrics as JSON."""
    import json

    conn = sqlite3.connect(db)
    try:
        sql = "SELECT metrics FROM metrics"
        params: list[str] = []
        if runs:
            sql += f" WHERE run_name IN ({','.join('?' * len(runs))})"
            params = runs
        return sum(
            sum(1 for k in json.loads(m) if not k.startswith("_"))
            for (m,) in conn.execute(sql, params)
        )
    finally:
        conn.close()


def w3_bulk(args: dict[str, Any]) -> c.Result:
    """One ``trackio.log({10 keys}, step=s)`` per step (its fastest API), then ``finish``."""
    keys = [f"metric_{k}" for k in range(args["keys"])]
    steps = args["steps"]
    values = c.series_values(steps)
    trackio = _trackio(args["dir"])
    _init(trackio, "w6base")
    trackio.finish()
    _init(trackio, "w3")
    t1 = time.perf_counter()
    for s in range(steps):
        v = values[s]
        trackio.log(dict.fromkeys(keys, v), step=s)
    t2 = time.perf_counter()
    trackio.finish()
    t3 = time.perf_counter()
    n = steps * len(keys)
    path = os.path.join(args["dir"], "w3.db")
    base_path = os.path.join(args["dir"], "w6base.db")
    return {
        "loop_us_per_call": (t2 - t1) / steps * 1e6,
        "end_ms": (t3 - t2) * 1e3,
        "durable_s": t3 - t1,
        "durable_us_per_point": (t3 - t1) / n * 1e6,
        "points_per_s": n / (t3 - t1),
        "points": n,
        "stored": _count_points(path),
        "bytes_per_point": (c.db_bytes(path) - c.db_bytes(base_path)) / n,
    }


def w4_runs(args: dict[str, Any]) -> c.Result:
    """``init(config=params + tags)``, one ``log`` of the 5 metrics, ``finish``."""
    n = args["runs"]
    trackio = _trackio(args["dir"])
    data = [(c.w4_tags(i), c.w4_params(i), c.w4_metrics(i)) for i in range(n)]
    t0 = time.perf_counter()
    for tags, params, metrics in data:
        _init(trackio, "w4", config={**params, **tags})
        trackio.log(metrics)
        trackio.finish()
    dt = time.perf_counter() - t0
    return {"runs_per_s": n / dt, "ms_per_run": dt / n * 1e3}


def w5_populate(args: dict[str, Any]) -> c.Result:
    """Per run: ``init(config=params + team)`` + one ``log`` of the metrics + ``finish``.

    ``bench/run.py`` builds only the first (1,000-run) W5 store this way; ``w5_replicate`` grows
    it to 10,000 runs by copying these rows.
    """
    trackio = _trackio(os.path.dirname(args["db"]))
    start, end = args.get("start", 0), args["runs"]
    t0 = time.perf_counter()
    for i in range(start, end):
        # No run name: with one, every init() first lists the project's runs (quadratic).
        _init(trackio, "w5", config={**c.w5_params(i), "team": f"t{i % 3}"})
        trackio.log(c.w5_metrics(i))
        trackio.finish()
    return {"populate_runs_per_s": (end - start) / (time.perf_counter() - t0)}


# Per-run tables trackio writes in W5 (``init`` + ``log`` + ``finish``), with the columns the
# copy reads or rewrites; other columns (not the autoincrement ``id``) are copied as written.
_W5_COPIED = {
    "metrics": ("id", "run_id", "run_name", "timestamp", "step", "metrics", "log_id"),
    "configs": ("id", "run_id", "run_name", "config", "created_at"),
}
_W5_SHARED = {"project_metadata"}


class _NameRecorder:
    """Stands in for trackio's list of used run names: records the names its generator tries.

    ``generate_readable_name(used)`` tries ``<adjective>-<noun>-<number>`` for number 0, 1, ...
    until one is not ``in used``; saying "taken" to the first ``n`` tries yields in one call the
    names trackio gives the runs 0..n-1 of a project (as ``init`` without a name does).
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.names: list[str] = []

    def __contains__(self, name: object) -> bool:
        self.names.append(str(name))
        return len(self.names) < self.n


def w5_replicate(args: dict[str, Any]) -> c.Result:
    """Grow the W5 store from ``start`` to ``runs`` runs by copying rows trackio's API wrote.

    The store's first ``templates`` runs were built by ``w5_populate`` (trackio's API); run ``i``
    gets a copy of the ``metrics`` and ``configs`` rows of run ``i % templates``, with a fresh
    32-hex run id and ``log_id``, the name trackio's own generator gives the i-th run, config and
    metrics of index ``i`` from ``_common`` serialised as trackio does (``orjson.dumps`` of
    ``serialize_values``), and timestamps shifted past the previous block of runs: the rows
    ``w5_populate`` would have written, one SQL transaction instead of ``init``/``log``/``finish``
    per run. Each template is first checked against what the generator says it must hold (byte
    for byte), and a store with tables or columns this copy does not know fails
    (``SchemaChanged``).
    """
    import datetime as dt
    import uuid

    start, end, k = args["start"], args["runs"], args["templates"]
    path = os.path.abspath(args["db"])
    _trackio(os.path.dirname(path))
    import orjson
    from trackio.utils import generate_readable_name, serialize_values

    def config_of(i: int) -> dict[str, Any]:
        return {**c.w5_params(i), "team": f"t{i % 3}"}

    def blob(value: dict[str, Any]) -> bytes:
        return bytes(orjson.dumps(serialize_values(value)))

    t0 = time.perf_counter()
    recorder = _NameRecorder(end)
    generate_readable_name(recorder)  # takes any container with `in`
    names = recorder.names
    with c.write_transaction(path) as conn:
        cols = c.check_store(conn, "trackio", _W5_COPIED, _W5_SHARED)
        pos = {t: {col: n for n, col in enumerate(names_)} for t, names_ in cols.items()}
        configs = conn.execute("SELECT * FROM configs ORDER BY id").fetchall()
        logs = conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
        if len(configs) != start or logs != start or len(names) != end:
            raise c.SchemaChanged(
                f"expected {start} runs with one log each in project w5, found "
                f"{len(configs)} configs and {logs} metrics rows"
            )
        pc, pm = pos["configs"], pos["metrics"]
        templates: list[tuple[list[Any], dict[str, Any], list[Any]]] = []
        stamps: list[dt.datetime] = []
        for j, row in enumerate(configs[:k]):  # runs in creation order: template j is index j
            config = orjson.loads(row[pc["config"]])
            user = {key: v for key, v in config.items() if not key.startswith("_")}
            if user != config_of(j) or row[pc["run_name"]] != names[j]:
                raise c.SchemaChanged(f"template {j}: config or name differ from the generator's")
            logged = conn.execute(
                "SELECT * FROM metrics WHERE run_id = ?", (row[pc["run_id"]],)
            ).fetchall()
            if len(logged) != 1 or bytes(logged[0][pm["metrics"]]) != blob(c.w5_metrics(j)):
                raise c.SchemaChanged(f"template {j}: metrics rows differ from w5_metrics({j})")
            if logged[0][pm["step"]] != 0 or logged[0][pm["run_name"]] != names[j]:
                raise c.SchemaChanged(f"template {j}: unexpected metrics row")
            templates.append((list(row), config, list(logged[0])))
            stamps += [dt.datetime.fromisoformat(row[pc["created_at"]])]
            stamps += [dt.datetime.fromisoformat(logged[0][pm["timestamp"]])]
            stamps += [dt.datetime.fromisoformat(config["_Created"])]
        span = max(stamps) - min(stamps) + dt.timedelta(microseconds=1)

        def shifted(stamp: str, by: dt.timedelta) -> str:
            return (dt.datetime.fromisoformat(stamp) + by).isoformat()

        new_configs: list[tuple[Any, ...]] = []
        new_metrics: list[tuple[Any, ...]] = []
        for i in range(start, end):
            row, config, logged = templates[i % k]
            shift = (i // k) * span
            run_id, name = uuid.uuid4().hex, names[i]
            user = config_of(i)
            new_config = {key: user.get(key, v) for key, v in config.items()}
            new_config["_Created"] = shifted(config["_Created"], shift)
            r = list(row)
            r[pc["run_id"]], r[pc["run_name"]] = run_id, name
            r[pc["config"]] = blob(new_config)
            r[pc["created_at"]] = shifted(r[pc["created_at"]], shift)
            new_configs.append(tuple(r))
            m = list(logged)
            m[pm["run_id"]], m[pm["run_name"]] = run_id, name
            m[pm["metrics"]] = blob(c.w5_metrics(i))
            m[pm["timestamp"]] = shifted(m[pm["timestamp"]], shift)
            m[pm["log_id"]] = None if m[pm["log_id"]] is None else uuid.uuid4().hex
            new_metrics.append(tuple(m))
        for table, new_rows in (("configs", new_configs), ("metrics", new_metrics)):
            keep = [n for n, col in enumerate(cols[table]) if col != "id"]  # autoincrement
            names_ = ", ".join(f'"{cols[table][n]}"' for n in keep)
            marks = ",".join("?" * len(keep))
            conn.executemany(
                f'INSERT INTO "{table}" ({names_}) VALUES ({marks})',
                ([r[n] for n in keep] for r in new_rows),
            )
        if conn.execute("SELECT COUNT(DISTINCT run_id) FROM metrics").fetchone()[0] != end:
            raise c.SchemaChanged("run count after the copy is wrong")
    return {
        "replicate_s": time.perf_counter() - t0,
        "replicated_runs": end - start,
        "templates": k,
        "rows": len(new_configs) + len(new_metrics),
    }


def w5_query(args: dict[str, Any]) -> c.Result:
    """Only listing exists as API (``trackio.Api().runs(project)``)."""
    n = args["runs"]
    repeat = args.get("repeat", 5)
    trackio = _trackio(os.path.dirname(args["db"]))
    api = trackio.Api()
    t, rows = c.time_query(lambda: list(api.runs("w5")), repeat)
    assert len(rows) == n, len(rows)
    na = "not supported (no query API)"
    return {
        "list_ms": t * 1e3,
        "best_skipped": na,
        "threshold_skipped": na,
        "filter_expr_skipped": na,
    }


def w7_parent(args: dict[str, Any]) -> c.Result:
    trackio = _trackio(args["dir"])
    _init(trackio, "w7", name="setup")  # create the project db before the race
    trackio.finish()
    go = os.path.join(args["dir"], "w7.go")
    child_args = [
        {"index": i, "dir": args["dir"], "go": go, "points": args["points"]}
        for i in range(args["procs"])
    ]
    res = c.spawn_children(__file__, "w7_child", child_args, go)
    names = [f"proc-{i}" for i in range(args["procs"])]
    stored = _count_points(os.path.join(args["dir"], "w7.db"), names)
    return c.w7_result(args, res, stored)


def w7_child(args: dict[str, Any]) -> c.Result:
    trackio = _trackio(args["dir"])
    values = c.series_values(args["points"])
    c.wait_for_go(args["go"], args["index"])
    t0 = time.time()
    errors = 0
    try:
        _init(trackio, "w7", name=f"proc-{args['index']}")
        for v in values:
            trackio.log({"x": v})
        trackio.finish()
    except Exception as exc:
        print(f"trackio w7 child: {exc!r}"[:300], file=sys.stderr)
        errors += 1
    return {"t_start": t0, "t_end": time.time(), "errors": errors}


WORKLOADS: dict[str, c.Workload] = {
    "w2": w2_single,
    "w3": w3_bulk,
    "w4": w4_runs,
    "w5_populate": w5_populate,
    "w5_replicate": w5_replicate,
    "w5_query": w5_query,
    "w7": w7_parent,
    "w7_child": w7_child,
}

if __name__ == "__main__":
    c.main(WORKLOADS)
