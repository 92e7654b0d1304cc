"""MLflow workloads, SQLite backend (``sqlite:///`` tracking URI, MLflow's default pragmas).

Durable = the call returned (MLflow commits every API call in its own transaction). Fastest bulk
API: ``MlflowClient.log_batch`` (at most 1,000 metrics per call). Run by the peer venv's python.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from typing import Any

import _common as c


def _setup(path: str) -> Any:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{os.path.abspath(path)}")
    return mlflow


def _metric(key: str, value: float, step: int) -> Any:
    from mlflow.entities import Metric

    return Metric(key, value, time.time_ns() // 1_000_000, step)


def w2_single(args: dict[str, Any]) -> c.Result:
    n = args["n"]
    values = c.series_values(n)
    mlflow = _setup(os.path.join(args["dir"], "w2.db"))
    mlflow.set_experiment("w2")
    t0 = time.perf_counter()
    mlflow.start_run()
    t1 = time.perf_counter()
    for i, v in enumerate(values):
        mlflow.log_metric("loss", v, step=i)
    t2 = time.perf_counter()
    mlflow.end_run()
    t3 = time.perf_counter()
    return c.w2_result(n, t0, t1, t2, t3)


def w3_bulk(args: dict[str, Any]) -> c.Result:
    """``log_batch`` of 1,000 ``Metric`` objects per call (built inside the timing)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    keys = [f"metric_{k}" for k in range(args["keys"])]
    steps = args["steps"]
    values = c.series_values(steps)
    base_path = os.path.abspath(os.path.join(args["dir"], "w6_empty.db"))
    path = os.path.abspath(os.path.join(args["dir"], "w3.db"))
    os.makedirs(args["dir"], exist_ok=True)
    base = MlflowClient(tracking_uri=f"sqlite:///{base_path}")
    exp = base.create_experiment("w3")
    base.set_terminated(base.create_run(exp).info.run_id)
    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    exp = client.create_experiment("w3")
    run_id = client.create_run(exp).info.run_id
    t1 = time.perf_counter()
    batch: list[Any] = []
    for s in range(steps):
        v = values[s]
        ts = time.time_ns() // 1_000_000
        for k in keys:
            batch.append(Metric(k, v, ts, s))
            if len(batch) == 1000:
                client.log_batch(run_id, metrics=batch)
                batch = []
    if batch:
        client.log_batch(run_id, metrics=batch)
    t2 = time.perf_counter()
    client.set_terminated(run_id)
    t3 = time.perf_counter()
    n = steps * len(keys)
    conn = sqlite3.connect(path)
    stored = conn.execute("SELECT COUNT(*) FROM metrics WHERE run_uuid = ?", (run_id,)).fetchone()[
        0
    ]
    conn.close()
    return {
        "end_ms": (t3 - t2) * 1e3,
        "durable_s": t3 - t1,
        "durable_us_per_point": (t3 - t1) / n * 1e6,
        "points_per_s": n / (t3 - t1),
        "points": n,
        "stored": stored,
        "bytes_per_point": (c.db_bytes(path) - c.db_bytes(base_path)) / n,
    }


def w4_runs(args: dict[str, Any]) -> c.Result:
    n = args["runs"]
    mlflow = _setup(os.path.join(args["dir"], "w4.db"))
    mlflow.set_experiment("w4")
    data = [(c.w4_tags(i), c.w4_params(i), c.w4_metrics(i)) for i in range(n)]
    t0 = time.perf_counter()
    for tags, params, metrics in data:
        with mlflow.start_run(tags=tags):
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
    dt = time.perf_counter() - t0
    return {"runs_per_s": n / dt, "ms_per_run": dt / n * 1e3}


def w5_populate(args: dict[str, Any]) -> c.Result:
    """Per run: ``create_run`` (with tags) + one ``log_batch`` + ``set_terminated``.

    ``bench/run.py`` builds only the first (1,000-run) W5 store this way; ``w5_replicate`` grows
    it to 10,000 runs by copying these rows.
    """
    from mlflow import MlflowClient
    from mlflow.entities import Param

    start, end = args.get("start", 0), args["runs"]
    path = os.path.abspath(args["db"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    found = client.get_experiment_by_name("w5")
    exp = found.experiment_id if found else client.create_experiment("w5")
    t0 = time.perf_counter()
    for i in range(start, end):
        run_id = client.create_run(exp, run_name=f"run-{i}", tags={"team": f"t{i % 3}"}).info.run_id
        client.log_batch(
            run_id,
            metrics=[_metric(k, v, 0) for k, v in c.w5_metrics(i).items()],
            params=[Param(k, str(v)) for k, v in c.w5_params(i).items()],
        )
        client.set_terminated(run_id)
    return {"populate_runs_per_s": (end - start) / (time.perf_counter() - t0)}


# Per-run tables MLflow writes in W5 (``create_run`` + ``log_batch`` + ``set_terminated``), with
# the columns the copy reads or rewrites; every other column is copied as MLflow wrote it.
_W5_COPIED = {
    "runs": ("run_uuid", "name", "experiment_id", "start_time", "end_time", "artifact_uri"),
    "tags": ("key", "value", "run_uuid"),
    "params": ("key", "value", "run_uuid"),
    "metrics": ("key", "value", "timestamp", "run_uuid", "step", "is_nan"),
    "latest_metrics": ("key", "value", "timestamp", "run_uuid", "step", "is_nan"),
}
_W5_SHARED = {"alembic_version", "experiments", "workspaces"}


def w5_replicate(args: dict[str, Any]) -> c.Result:
    """Grow the W5 store from ``start`` to ``runs`` runs by copying rows MLflow's API wrote.

    The store's first ``templates`` runs were built by ``w5_populate`` (MLflow's API); run ``i``
    gets a copy of every row of run ``i % templates`` in ``runs``, ``tags``, ``params``,
    ``metrics`` and ``latest_metrics``, with a fresh 32-hex run id (also inside
    ``artifact_uri``), name and ``mlflow.runName`` ``run-<i>``, ``team`` tag, params and metric
    values of index ``i`` from ``_common``, and times shifted past the previous block of runs: the
    rows ``w5_populate`` would have written, one SQL transaction instead of 3 API calls per run.
    Each template is first checked against what the generator says it must hold, and a store
    with tables or columns this copy does not know fails (``SchemaChanged``).
    """
    import uuid

    start, end, k = args["start"], args["runs"], args["templates"]
    path = os.path.abspath(args["db"])
    t0 = time.perf_counter()
    with c.write_transaction(path) as conn:
        cols = c.check_store(conn, "MLflow", _W5_COPIED, _W5_SHARED)
        found = conn.execute("SELECT experiment_id FROM experiments WHERE name = 'w5'").fetchone()
        if found is None:
            raise c.SchemaChanged("MLflow store has no experiment 'w5'")
        exp = found[0]
        names = dict(
            conn.execute("SELECT name, run_uuid FROM runs WHERE experiment_id = ?", (exp,))
        )
        if len(names) != start:
            raise c.SchemaChanged(f"expected {start} runs in experiment w5, found {len(names)}")
        ids = [names.get(f"run-{j}") for j in range(k)]
        if None in ids:
            raise c.SchemaChanged(f"template runs run-0..run-{k - 1} not all in the store")
        index = {rid: j for j, rid in enumerate(ids)}
        rows: dict[str, list[list[list[Any]]]] = {}
        for table, names_ in cols.items():
            at = names_.index("run_uuid")
            per_run: list[list[list[Any]]] = [[] for _ in range(k)]
            marks = ",".join("?" * k)
            sql = f'SELECT * FROM "{table}" WHERE run_uuid IN ({marks})'
            for row in conn.execute(sql, ids):
                per_run[index[row[at]]].append(list(row))
            rows[table] = per_run
        pos = {t: {col: n for n, col in enumerate(names_)} for t, names_ in cols.items()}

        def as_dict(table: str, j: int, val: str = "value") -> dict[str, Any]:
            p = pos[table]
            return {r[p["key"]]: r[p[val]] for r in rows[table][j]}

        times: list[int] = []
        for j in range(k):  # the templates hold what w5_populate writes for index j
            run = rows["runs"][j]
            want_m = c.w5_metrics(j)
            if len(run) != 1 or run[0][pos["runs"]["name"]] != f"run-{j}":
                raise c.SchemaChanged(f"template run-{j}: unexpected runs row(s)")
            if as_dict("params", j) != {key: str(v) for key, v in c.w5_params(j).items()}:
                raise c.SchemaChanged(f"template run-{j}: params differ from w5_params({j})")
            for table in ("metrics", "latest_metrics"):
                if as_dict(table, j) != want_m or set(as_dict(table, j, "step").values()) != {0}:
                    raise c.SchemaChanged(f"template run-{j}: {table} differ from w5_metrics({j})")
            tags = as_dict("tags", j)
            if tags.get("team") != f"t{j % 3}" or tags.get("mlflow.runName") != f"run-{j}":
                raise c.SchemaChanged(f"template run-{j}: tags differ: {tags}")
            times += [run[0][pos["runs"]["start_time"]], run[0][pos["runs"]["end_time"]]]
            times += [r[pos["metrics"]["timestamp"]] for r in rows["metrics"][j]]
        span = max(times) - min(times) + 1  # ms; block b of copies starts b spans later

        out: dict[str, list[tuple[Any, ...]]] = {t: [] for t in cols}
        for i in range(start, end):
            j = i % k
            old, new = ids[j], uuid.uuid4().hex
            shift = (i // k) * span
            params = {key: str(v) for key, v in c.w5_params(i).items()}
            metrics = c.w5_metrics(i)
            for table, per_run in rows.items():
                p = pos[table]
                for row in per_run[j]:
                    r = [v.replace(old, new) if isinstance(v, str) else v for v in row]
                    if table == "runs":
                        r[p["name"]] = f"run-{i}"
                        for col in ("start_time", "end_time"):
                            r[p[col]] = None if r[p[col]] is None else r[p[col]] + shift
                    elif table == "tags":
                        if r[p["key"]] == "team":
                            r[p["value"]] = f"t{i % 3}"
                        elif r[p["key"]] == "mlflow.runName":
                            r[p["value"]] = f"run-{i}"
                    elif table == "params":
                        r[p["value"]] = params[r[p["key"]]]
                    else:
                        r[p["value"]] = metrics[r[p["key"]]]
                        r[p["timestamp"]] += shift
                    out[table].append(tuple(r))
        for table, new_rows in out.items():
            listed = ", ".join(f'"{col}"' for col in cols[table])
            marks = ",".join("?" * len(cols[table]))
            conn.executemany(f'INSERT INTO "{table}" ({listed}) VALUES ({marks})', new_rows)
        total = conn.execute("SELECT COUNT(*) FROM runs WHERE experiment_id = ?", (exp,))
        if total.fetchone()[0] != end:
            raise c.SchemaChanged("run count after the copy is wrong")
    return {
        "replicate_s": time.perf_counter() - t0,
        "replicated_runs": end - start,
        "templates": k,
        "rows": sum(len(v) for v in out.values()),
    }


def w5_query(args: dict[str, Any]) -> c.Result:
    """``MlflowClient.search_runs`` (returns ``Run`` objects with params, metrics and tags)."""
    from mlflow import MlflowClient

    n = args["runs"]
    repeat = args.get("repeat", 5)
    client = MlflowClient(tracking_uri=f"sqlite:///{os.path.abspath(args['db'])}")
    exp = client.get_experiment_by_name("w5").experiment_id
    expected = c.expected_matches(n)
    out: c.Result = {}

    t, rows = c.time_query(lambda: client.search_runs([exp], max_results=n), repeat)
    out["list_ms"] = t * 1e3
    assert len(rows) == n, len(rows)
    t, rows = c.time_query(
        lambda: client.search_runs([exp], order_by=["metrics.acc DESC"], max_results=1), repeat
    )
    out["best_ms"] = t * 1e3
    t, rows = c.time_query(
        lambda: client.search_runs(
            [exp], filter_string=f"metrics.acc > {c.THRESHOLD}", max_results=n
        ),
        repeat,
    )
    out["threshold_ms"] = t * 1e3
    assert len(rows) == expected["threshold"], len(rows)
    try:
        t, rows = c.time_query(
            lambda: client.search_runs([exp], filter_string=c.FILTER_EXPR, max_results=n), repeat
        )
        if len(rows) != expected["filter_expr"]:
            out["filter_expr_skipped"] = f"wrong answer: {len(rows)} runs"
        else:
            out["filter_expr_ms"] = t * 1e3
    except Exception as exc:
        out["filter_expr_skipped"] = f"not supported ({type(exc).__name__})"
    return out


def w7_parent(args: dict[str, Any]) -> c.Result:
    from mlflow import MlflowClient

    path = os.path.abspath(os.path.join(args["dir"], "w7.db"))
    os.makedirs(args["dir"], exist_ok=True)
    MlflowClient(tracking_uri=f"sqlite:///{path}").create_experiment("w7")  # schema first
    go = os.path.join(args["dir"], "w7.go")
    child_args = [
        {"index": i, "db": path, "go": go, "points": args["points"]} for i in range(args["procs"])
    ]
    res = c.spawn_children(__file__, "w7_child", child_args, go)
    ids = [ch["run_id"] for ch in res["children"] if ch.get("run_id")]
    conn = sqlite3.connect(path)
    marks = ",".join("?" * len(ids))
    stored = conn.execute(
        f"SELECT COUNT(*) FROM metrics WHERE run_uuid IN ({marks})", ids
    ).fetchone()[0]
    conn.close()
    return c.w7_result(args, res, stored)


def w7_child(args: dict[str, Any]) -> c.Result:
    """``log_batch`` of 1,000 points at a time; a failed call counts as an error."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{args['db']}")
    exp = client.get_experiment_by_name("w7").experiment_id
    values = c.series_values(args["points"])
    c.wait_for_go(args["go"], args["index"])
    t0 = time.time()
    errors = 0
    run_id = None
    try:
        run_id = client.create_run(exp, run_name=f"proc-{args['index']}").info.run_id
        for lo in range(0, len(values), 1000):
            batch = [_metric("x", values[s], s) for s in range(lo, min(lo + 1000, len(values)))]
            try:
                client.log_batch(run_id, metrics=batch)
            except Exception as exc:
                print(f"mlflow w7 child: {exc!r}"[:300], file=sys.stderr)
                errors += 1
        client.set_terminated(run_id)
    except Exception as exc:
        print(f"mlflow w7 child: {exc!r}"[:300], file=sys.stderr)
        errors += 1
    return {"t_start": t0, "t_end": time.time(), "errors": errors, "run_id": run_id}


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
