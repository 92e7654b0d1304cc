"""Helpers shared by the workload scripts (standard library only: peers' venvs import it too).

A workload script is run as ``python bench/workloads/<lib>.py WORKLOAD JSON_ARGS`` in a fresh
process and prints exactly one JSON line on stdout: ``{"ok": true, ...figures}`` or
``{"ok": false, "error": "..."}`` / ``{"ok": false, "skipped": "..."}``. Anything the library
prints goes to stderr so it cannot corrupt that line.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

Result = dict[str, Any]
Workload = Callable[[dict[str, Any]], Result]

# W5 data: which fraction of runs a query returns is stated in the report.
MODELS = ("rf", "gbm", "lr", "svm")
GOLDEN = 0.6180339887498949
THRESHOLD = 0.9
FILTER_EXPR = "metrics.acc > 0.9 and (params.model = 'rf' or params.depth >= 5)"


def acc_of(i: int) -> float:
    """A low-discrepancy value in [0, 1): about 10 % of runs have acc > 0.9."""
    return (i * GOLDEN) % 1.0


def w5_params(i: int) -> dict[str, Any]:
    return {
        "model": MODELS[i % 4],
        "depth": (i * 7) % 10 + 1,
        "lr": round(0.001 * (i % 50 + 1), 6),
        "seed": i,
    }


def w5_metrics(i: int) -> dict[str, float]:
    acc = acc_of(i)
    return {"acc": acc, "loss": 1.0 - acc}


def w4_params(i: int) -> dict[str, Any]:
    return {f"p{j}": (i * 10 + j) * 0.5 for j in range(10)}


def w4_metrics(i: int) -> dict[str, float]:
    return {f"m{j}": (i + j) / 1000.0 for j in range(5)}


def w4_tags(i: int) -> dict[str, str]:
    return {"team": f"t{i % 3}", "stage": "bench"}


def series_values(n: int) -> list[float]:
    """Deterministic floats (precomputed so the loops time the library, not the arithmetic)."""
    return [((i * GOLDEN) % 1.0) * 10.0 for i in range(n)]


def expected_matches(n_runs: int) -> dict[str, int]:
    """How many runs each W5 query must return: every library is checked for the same answer."""
    threshold = sum(1 for i in range(n_runs) if acc_of(i) > THRESHOLD)
    expr = 0
    for i in range(n_runs):
        p = w5_params(i)
        if acc_of(i) > THRESHOLD and (p["model"] == "rf" or p["depth"] >= 5):
            expr += 1
    return {"threshold": threshold, "filter_expr": expr}


QUERY_BUDGET_S = 3.0
SLOW_CALL_S = 2.0


def time_query(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Warm the query once, then the fastest of ``repeat`` timed calls (seconds) and the result.

    The minimum, not the median: on a shared 2-core machine a call that lost its core to another
    process measures that process, and the minimum is what reproduces from run to run. A query
    slower than ``QUERY_BUDGET_S`` in total stops after two timed calls (MLflow needs seconds
    per call over 10,000 runs; repeating it seven times would only lengthen the run). The warm-up
    call is timed too: when it takes ``SLOW_CALL_S`` or more, what warming saves (milliseconds)
    is lost in its noise, so it counts as the first of those two timed calls instead of being
    thrown away.
    """
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times: list[float] = [first] if first >= SLOW_CALL_S else []
    for _ in range(repeat):
        if len(times) >= 2 and sum(times) > QUERY_BUDGET_S:
            break
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


# -- W5 store replication for the peers -----------------------------------------------------------
class SchemaChanged(RuntimeError):
    """The peer's store is not laid out as its ``w5_replicate`` expects: report, never guess."""


def table_columns(conn: sqlite3.Connection) -> dict[str, list[str]]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: [r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')] for t in names}


def check_store(
    conn: sqlite3.Connection,
    peer: str,
    copied: dict[str, tuple[str, ...]],
    shared: set[str],
) -> dict[str, list[str]]:
    """Columns of the ``copied`` tables, after checking the store holds nothing else.

    ``copied``: the per-run tables ``w5_replicate`` copies, with the columns it reads or rewrites
    (any other column is copied as it is). ``shared``: tables that may hold rows not tied to a
    run (schema version, the experiment). A missing table or column, or rows in any other table
    (data the copy would silently leave out), raise ``SchemaChanged``.
    """
    cols = table_columns(conn)
    for table, need in copied.items():
        if table not in cols:
            raise SchemaChanged(f"{peer} store has no table {table!r}")
        missing = [col for col in need if col not in cols[table]]
        if missing:
            raise SchemaChanged(f"{peer} table {table!r} lacks column(s) {missing}")
    for table in cols:
        if table in copied or table in shared or table == "sqlite_sequence":
            continue
        if conn.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone() is not None:
            raise SchemaChanged(
                f"{peer} wrote rows into table {table!r}, which w5_replicate does not copy"
            )
    return {t: cols[t] for t in copied}


@contextlib.contextmanager
def write_transaction(path: str) -> Iterator[sqlite3.Connection]:
    """A connection to ``path`` inside one ``BEGIN IMMEDIATE`` transaction: committed when the
    block completes, rolled back when it raises; closed either way."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


def w2_result(n: int, t0: float, t1: float, t2: float, t3: float) -> Result:
    """W2 figures from the clock at: start of run, first call, loop done, durable."""
    return {
        "start_ms": (t1 - t0) * 1e3,
        "loop_us_per_call": (t2 - t1) / n * 1e6,
        "end_ms": (t3 - t2) * 1e3,
        "durable_us_per_call": (t3 - t1) / n * 1e6,
        "points": n,
    }


def w7_result(args: dict[str, Any], res: Result, stored: int) -> Result:
    """W7 figures from ``spawn_children``'s result and the points found in the store."""
    expected = args["procs"] * args["points"]
    errors = sum(ch.get("errors", 1) for ch in res["children"]) + len(res["child_failures"])
    return {
        "procs": args["procs"],
        "errors": errors,
        "lost": expected - stored,
        "points_per_s": stored / res["wall_s"],
        "wall_s": res["wall_s"],
        "failures": res["child_failures"][:2],
    }


def db_bytes(path: str) -> int:
    """Size of a SQLite database after folding its WAL back in (file + any -wal left)."""
    conn = sqlite3.connect(path)
    try:
        with contextlib.suppress(sqlite3.DatabaseError):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    size = os.path.getsize(path)
    if os.path.exists(path + "-wal"):
        size += os.path.getsize(path + "-wal")
    return size


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything printed (by libraries, C code too) to stderr; keep the JSON line clean."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    real = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stdout = real
        os.dup2(saved, 1)
        os.close(saved)


def spawn_children(script: str, workload: str, args: list[dict[str, Any]], go_file: str) -> Result:
    """W7 helper: start one child per ``args`` item, release them together, collect results.

    Each child writes ``<go_file>.ready.<i>`` once imported and connected, then waits for
    ``go_file``; the wall time runs from the release to the last child's end.
    """
    procs = []
    for a in args:
        procs.append(
            subprocess.Popen(
                [sys.executable, script, workload, json.dumps(a)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + 300
    ready = [f"{go_file}.ready.{a['index']}" for a in args]
    while not all(os.path.exists(r) for r in ready):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            break
        time.sleep(0.01)
    with open(go_file, "w") as fh:
        fh.write("go")
    released = time.time()
    children = []
    failures = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        line = out.strip().splitlines()[-1] if out.strip() else ""
        try:
            children.append(json.loads(line))
        except ValueError:
            failures.append(err.strip()[-500:])
    ends = [c.get("t_end", released) for c in children]
    return {
        "released": released,
        "wall_s": (max(ends) if ends else time.time()) - released,
        "children": children,
        "child_failures": failures,
    }


def wait_for_go(go_file: str, index: int) -> None:
    with open(f"{go_file}.ready.{index}", "w") as fh:
        fh.write("ready")
    while not os.path.exists(go_file):
        time.sleep(0.001)


def main(workloads: dict[str, Workload]) -> None:
    """Dispatch ``argv[1]`` with the JSON ``argv[2]`` and print the one result line."""
    name = sys.argv[1]
    args = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    fn = workloads.get(name)
    if fn is None:
        result: Result = {"ok": False, "skipped": f"workload {name!r} not implemented"}
    else:
        try:
            with stdout_to_stderr():
                result = fn(args)
            result.setdefault("ok", True)
        except Exception as exc:
            traceback.print_exc()
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    # Skip interpreter teardown noise (atexit flushes already ran inside the workload).
    sys.exit(0)
