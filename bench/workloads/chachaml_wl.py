"""chachaml workloads. Durable = ``end_run`` returned (committed in WAL, ``synchronous=NORMAL``)."""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import _common as c

import chachaml as ml


def _store(path: str) -> ml.Store:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    store = ml.open_store(f"sqlite:///{path}")
    ml.use_store(store)
    return store


def w2_single(args: dict[str, Any]) -> c.Result:
    """N single ``log_metric`` calls (auto step), then ``end_run``."""
    n = args["n"]
    values = c.series_values(n)
    _store(os.path.join(args["dir"], "w2.db"))
    log_metric = ml.log_metric
    t0 = time.perf_counter()
    ml.start_run(experiment="w2")
    t1 = time.perf_counter()
    for v in values:
        log_metric("loss", v)
    t2 = time.perf_counter()
    ml.end_run()
    t3 = time.perf_counter()
    return c.w2_result(n, t0, t1, t2, t3)


def w3_bulk(args: dict[str, Any]) -> c.Result:
    """K keys x S steps with ``log_metric`` (or one ``log_metrics`` dict per step), then W6 size."""
    keys = [f"metric_{k}" for k in range(args["keys"])]
    steps = args["steps"]
    values = c.series_values(steps)
    variant = args.get("variant", "log_metric")
    base_path = os.path.join(args["dir"], "w6_empty.db")
    path = os.path.join(args["dir"], "w3.db")
    # The empty baseline: one run, no points.
    with ml.open_store(f"sqlite:///{base_path}") as base, ml.run(experiment="w3", store=base):
        pass
    _store(path)
    run = ml.start_run(experiment="w3")
    log_metric = ml.log_metric
    t1 = time.perf_counter()
    if variant == "log_metrics":
        log_metrics = ml.log_metrics
        for s in range(steps):
            v = values[s]
            log_metrics(dict.fromkeys(keys, v), step=s)
    else:
        for s in range(steps):
            v = values[s]
            for k in keys:
                log_metric(k, v, s)
    t2 = time.perf_counter()
    ml.end_run()
    t3 = time.perf_counter()
    n = steps * len(keys)
    ml.current_store().close()
    conn = sqlite3.connect(path)
    stored = conn.execute(
        "SELECT COUNT(*) FROM metrics m JOIN metric_series s ON s.id = m.series_id "
        "WHERE s.run_id = ?",
        (run.id,),
    ).fetchone()[0]
    conn.close()
    return {
        "loop_us_per_call": (t2 - t1) / n * 1e6,
        "end_ms": (t3 - t2) * 1e3,
        "durable_s": t3 - t1,
        "durable_us_per_point": (t3 - t1) / n * 1e6,
        "points_per_s": n / (t3 - t1),
        "points": n,
        "stored": stored,
        "bytes_per_point": (c.db_bytes(path) - c.db_bytes(base_path)) / n,
    }


def w4_runs(args: dict[str, Any]) -> c.Result:
    """R runs, each with 2 inline tags, 10 params and 5 metrics."""
    n = args["runs"]
    _store(os.path.join(args["dir"], "w4.db"))
    data = [(c.w4_tags(i), c.w4_params(i), c.w4_metrics(i)) for i in range(n)]
    t0 = time.perf_counter()
    for tags, params, metrics in data:
        with ml.run(experiment="w4", tags=tags):
            ml.log_params(params)
            ml.log_metrics(metrics)
    dt = time.perf_counter() - t0
    return {"runs_per_s": n / dt, "ms_per_run": dt / n * 1e3}


def w5_populate(args: dict[str, Any]) -> c.Result:
    """Build the W5 store (not a timed figure, reported for information)."""
    start, end = args.get("start", 0), args["runs"]
    _store(args["db"])
    t0 = time.perf_counter()
    for i in range(start, end):
        with ml.run(experiment="w5", name=f"run-{i}", tags={"team": f"t{i % 3}"}):
            ml.log_params(c.w5_params(i))
            ml.log_metrics(c.w5_metrics(i))
    return {"populate_runs_per_s": (end - start) / (time.perf_counter() - t0)}


def w5_query(args: dict[str, Any]) -> c.Result:
    """Warm queries over the W5 store: list all, best by metric, threshold, filter expression."""
    n = args["runs"]
    repeat = args.get("repeat", 5)
    _store(args["db"])
    expected = c.expected_matches(n)
    out: c.Result = {}
    t, rows = c.time_query(lambda: ml.runs(limit=None), repeat)
    out["list_ms"] = t * 1e3
    assert len(rows) == n, f"list returned {len(rows)} of {n}"
    t, best = c.time_query(lambda: ml.best_run("acc"), repeat)
    out["best_ms"] = t * 1e3
    assert best is not None
    assert best["metric_value"] == max(c.acc_of(i) for i in range(n))
    t, rows = c.time_query(
        lambda: ml.search_runs(metric="acc", op=">", value=c.THRESHOLD, limit=None), repeat
    )
    out["threshold_ms"] = t * 1e3
    assert len(rows) == expected["threshold"], f"threshold returned {len(rows)}"
    try:
        import chachaml.filters  # noqa: F401  (being written; skip until it exists)

        t, rows = c.time_query(lambda: ml.search_runs(c.FILTER_EXPR, limit=None), repeat)
        if len(rows) != expected["filter_expr"]:
            out["filter_expr_skipped"] = (
                f"wrong answer: {len(rows)} runs, expected {expected['filter_expr']}"
            )
        else:
            out["filter_expr_ms"] = t * 1e3
    except Exception as exc:
        out["filter_expr_skipped"] = f"not available ({type(exc).__name__}: {exc})"[:200]
    return out


def w7_parent(args: dict[str, Any]) -> c.Result:
    """P processes x N points into one store at once; count what landed."""
    path = os.path.join(args["dir"], "w7.db")
    with ml.open_store(f"sqlite:///{path}") as st:
        ml.runs(limit=1, store=st)  # create the schema before the race starts
    go = os.path.join(args["dir"], "w7.go")
    child_args = [
        {"index": i, "db": path, "go": go, "points": args["points"]} for i in range(args["procs"])
    ]
    res = c.spawn_children(__file__, "w7_child", child_args, go)
    ids = [ch["run_id"] for ch in res["children"] if ch.get("run_id")]
    conn = sqlite3.connect(path)
    marks = ",".join("?" * len(ids))
    stored = conn.execute(
        "SELECT COUNT(*) FROM metrics m JOIN metric_series s ON s.id = m.series_id "
        f"WHERE s.run_id IN ({marks})",
        ids,
    ).fetchone()[0]
    conn.close()
    return c.w7_result(args, res, stored)


def w7_child(args: dict[str, Any]) -> c.Result:
    ml.use_store(f"sqlite:///{args['db']}")
    ml.runs(limit=1)  # connected before the start signal
    values = c.series_values(args["points"])
    c.wait_for_go(args["go"], args["index"])
    t0 = time.time()
    errors = 0
    run_id = None
    try:
        run = ml.start_run(experiment="w7", name=f"proc-{args['index']}")
        run_id = run.id
        for v in values:
            ml.log_metric("x", v)
        ml.end_run()
    except Exception as exc:
        print(f"w7 child {args['index']}: {exc!r}", file=sys.stderr)
        errors += 1
    return {"t_start": t0, "t_end": time.time(), "errors": errors, "run_id": run_id}


def w8_populate(args: dict[str, Any]) -> c.Result:
    """One series of N points (the §12 chart target's data)."""
    n = args["points"]
    _store(args["db"])
    values = c.series_values(n)
    t0 = time.perf_counter()
    with ml.run(experiment="w8") as run:
        for v in values:
            ml.log_metric("loss", v)
    with open(args["db"] + ".run", "w") as fh:
        fh.write(run.id)
    return {"populate_points_per_s": n / (time.perf_counter() - t0)}


def w8_query(args: dict[str, Any]) -> c.Result:
    """``metric_history(max_points=1000)`` of the N-point series (library time, no server yet)."""
    _store(args["db"])
    with open(args["db"] + ".run") as fh:
        run_id = fh.read().strip()
    t, pts = c.time_query(
        lambda: ml.metric_history(run_id, "loss", max_points=args["max_points"]), args["repeat"]
    )
    assert 0 < len(pts) <= args["max_points"], len(pts)
    return {"history_ms": t * 1e3}


# -- W9/W10: the HTTP server (a `chachaml server` subprocess on loopback) -----------------------
@contextlib.contextmanager
def _server(db: str) -> Iterator[str]:
    """``chachaml server --store db`` in its own process; yields its URL once /healthz answers."""
    import httpx

    from chachaml.server.testing import free_port

    port = free_port()
    cmd = [sys.executable, "-m", "chachaml", "server", "--store", db, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-300:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)  # polling for readiness, not synchronising on a guess
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def w9_populate(args: dict[str, Any]) -> c.Result:
    """N runs (an ``acc`` metric each) plus one run with a P-point series, written through the
    store protocol in large batches (the server workloads time reads, not this)."""
    from chachaml.store.protocol import NewRun

    n, points = args["runs"], args["points"]
    store = _store(args["db"])
    meta = store.meta
    now = time.time_ns() // 1_000_000
    t0 = time.perf_counter()
    for lo in range(0, n, 1000):
        ids = [f"{i:032x}" for i in range(lo, min(n, lo + 1000))]
        for i, run_id in enumerate(ids, lo):
            meta.create_run(NewRun(run_id, f"exp{i % 10}", None, now + i, "bench"))
        meta.log_metrics([(r, "acc", 0, c.acc_of(i), now) for i, r in enumerate(ids, lo)])
    t1 = time.perf_counter()
    big = "f" * 32
    meta.create_run(NewRun(big, "big", None, now, "bench"))
    values = c.series_values(points)
    for lo in range(0, points, 100_000):
        hi = min(points, lo + 100_000)
        meta.log_metrics([(big, "loss", s, values[s], now) for s in range(lo, hi)])
    t2 = time.perf_counter()
    return {"populate_runs_per_s": n / (t1 - t0), "populate_points_per_s": points / (t2 - t1)}


def w9_query(args: dict[str, Any]) -> c.Result:
    """Loopback wall time (an upper bound of server time) of the runs page (100 of N runs with
    the total count), the same page filtered on a metric, and the downsampled history."""
    import httpx

    big = "f" * 32
    out: c.Result = {}
    with _server(args["db"]) as url, httpx.Client(base_url=url, timeout=120) as client:

        def get(path: str, params: dict[str, Any]) -> Any:
            response = client.get(path, params=params)
            response.raise_for_status()
            return response.json()

        page = {"limit": 100, "count": "true"}
        t, body = c.time_query(lambda: get("/api/runs", page), args["repeat"])
        assert body["count"] == args["runs"] + 1, body["count"]
        assert len(body["runs"]) == 100, len(body["runs"])
        out["runs_page_ms"] = t * 1e3
        flt = {**page, "filter": f"metrics.acc > {c.THRESHOLD}"}
        t, body = c.time_query(lambda: get("/api/runs", flt), args["repeat"])
        assert body["count"] == c.expected_matches(args["runs"])["threshold"], body["count"]
        out["runs_filtered_ms"] = t * 1e3
        hist = {"key": "loss", "max_points": args["max_points"]}
        url_h = f"/api/runs/{big}/metrics/history"
        t, body = c.time_query(lambda: get(url_h, hist), args["repeat"])
        assert 0 < len(body["points"]) <= args["max_points"], len(body["points"])
        out["history_ms"] = t * 1e3
    return out


def w10_remote(args: dict[str, Any]) -> c.Result:
    """``ml.log_metric`` loop through ``ml.use_store("http://...")`` into a fresh server
    subprocess; points/s until ``end_run`` returned (every batch acknowledged by the server)."""
    n = args["points"]
    values = c.series_values(n)
    os.environ["CHACHAML_OUTBOX_DIR"] = os.path.abspath(os.path.join(args["dir"], "outbox"))
    db = os.path.abspath(os.path.join(args["dir"], "w10.db"))
    with _server(db) as url:
        ml.use_store(url)
        log_metric = ml.log_metric
        t0 = time.perf_counter()
        run = ml.start_run(experiment="w10")
        for step, v in enumerate(values):
            log_metric("loss", v, step)
        ml.end_run()
        elapsed = time.perf_counter() - t0
        stored = ml.get_run(run.id)["metric_stats"]["loss"]["count"]  # type: ignore[index]
    assert stored == n, stored
    return {"points_per_s": n / elapsed}


# -- W11: alert checks ---------------------------------------------------------------------------
W11_METRICS = ("m0", "m1", "m2", "m3", "m4")


def w11_alerts(args: dict[str, Any]) -> c.Result:
    """``check_alerts`` with 100 rules over N runs that finished since the last check.

    The rules watch 5 metrics: 80 thresholds (20 each of ``> >= < <=``), 10 ``nan`` and 10
    ``missing``. Values are uniform in [0, 1); a threshold fires on ``breach`` of the runs
    (``> 1 - breach`` or ``< breach``); one run in 500 logs NaN for ``m0`` and one in 500 never
    logs ``m4``. Timed: the first check (it records every event) and a repeated check with no
    new runs."""
    import random

    from chachaml.store.protocol import NewRun

    n, breach = args["runs"], args["breach"]
    store = _store(os.path.join(args["dir"], "w11.db"))
    meta = store.meta
    ops = [(">", 1 - breach), (">=", 1 - breach), ("<", breach), ("<=", breach)]
    rules = [(op, thr) for op, thr in ops for _ in range(20)] + [("nan", None)] * 10
    rules += [("missing", None)] * 10
    for i, (op, thr) in enumerate(rules):
        ml.set_alert(f"rule-{i}", W11_METRICS[i % 5], op, thr)
    rng = random.Random(11)
    start = time.time_ns() // 1_000_000 + 1
    ids = [f"{i:032x}" for i in range(n)]
    for i, run_id in enumerate(ids):
        meta.create_run(NewRun(run_id, "w11", None, start + i, "bench"))
    points = []
    for i, run_id in enumerate(ids):
        for key in W11_METRICS:
            if key == "m4" and i % 500 == 0:
                continue
            value = math.nan if key == "m0" and i % 500 == 1 else rng.random()
            points.append((run_id, key, 0, value, start))
    for lo in range(0, len(points), 50_000):
        meta.log_metrics(points[lo : lo + 50_000])
    for i, run_id in enumerate(ids):
        meta.finish_run(run_id, "completed", start + i + 1, None)
    t0 = time.perf_counter()
    first = ml.check_alerts()
    t1 = time.perf_counter()
    again = ml.check_alerts()
    t2 = time.perf_counter()
    assert first["checked"] == len(rules)
    assert not again["triggered"]
    return {
        "first_check_ms": (t1 - t0) * 1e3,
        "repeat_check_ms": (t2 - t1) * 1e3,
        "events": len(first["triggered"]),
    }


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
    "w9_populate": w9_populate,
    "w9_query": w9_query,
    "w10": w10_remote,
    "w11": w11_alerts,
}

if __name__ == "__main__":
    c.main(WORKLOADS)
