"""Run listings sorted by a metric or a param over 100,000 runs on SQLite (SPEC §12: the /runs
page sorts by any column; a page of 50 rows should take <= 50 ms of server time).

Builds the store once into ``bench/.cache/sort/`` (``filter_bench.populate``: 3 params, metrics
``acc`` and ``loss`` per run) and reuses it afterwards; prints the median of warm calls of
``store.list_runs`` (the storage call behind ``ml.search_runs`` and the /runs page) per case.

    python bench/sort_bench.py [--runs 100000] [--repeat 15] [--rebuild] [--explain] [--compare]

``--compare`` also times each case with the index walk switched off (``list_runs_sql``: every
matching run gets its sort value and all are sorted, the plan before the walk) and checks that
both return the same page.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import chachaml as ml
from chachaml import query
from chachaml.store import sqlquery
from chachaml.store.protocol import RunQuery
from filter_bench import populate

CACHE = Path(__file__).resolve().parent / ".cache" / "sort"
FILTER = "params.model = 'rf' or params.depth >= 5"
DEEP = 20_000


def cases() -> list[tuple[str, RunQuery]]:
    def q(order: list[tuple[str, bool]], flt: str | None = None, offset: int = 0) -> RunQuery:
        return RunQuery(order_by=order, filter=flt, limit=50, offset=offset)

    out: list[tuple[str, RunQuery]] = [
        ("default (newest first)", q([])),
        ("default + filter", q([], FILTER)),
        ("default offset 20000", q([], offset=DEEP)),
        (
            "metrics.acc desc, experiment exp-1",
            RunQuery(order_by=[("metrics.acc", True)], experiment="exp-1", limit=50),
        ),
        ("metrics.acc desc, name = 'run-7'", q([("metrics.acc", True)], "name = 'run-7'")),
    ]
    for label, order in (
        ("metrics.acc desc", [("metrics.acc", True)]),
        ("metrics.acc asc", [("metrics.acc", False)]),
        ("metrics.loss.min asc", [("metrics.loss.min", False)]),
        ("params.lr desc", [("params.lr", True)]),
        ("params.lr asc", [("params.lr", False)]),
    ):
        out.append((label, q(order)))
        out.append((f"{label} + filter", q(order, FILTER)))
        out.append((f"{label} offset {DEEP}", q(order, offset=DEEP)))
    return out


def store_for(n_runs: int, rebuild: bool) -> ml.Store:
    path = CACHE / f"runs-{n_runs}"
    if rebuild and path.exists():
        shutil.rmtree(path)
    fresh = not (path / "store.db").exists()
    if fresh:
        path.mkdir(parents=True, exist_ok=True)
    store = ml.open_store(str(path / "store.db"), artifacts=str(path / "artifacts"))
    if fresh:
        t = time.perf_counter()
        populate(store, n_runs)
        print(f"populated {n_runs} runs in {time.perf_counter() - t:.1f} s ({path})")
    return store


def no_split(query: RunQuery, *, dialect: str, walk: int) -> sqlquery.MetricSplit | None:
    return None


def timed(store: ml.Store, run_query: RunQuery, repeat: int) -> tuple[float, list[Any]]:
    """Median warm ms of ``store.meta.list_runs(run_query)`` and its rows."""
    rows = store.meta.list_runs(run_query)  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        store.meta.list_runs(run_query)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached store")
    parser.add_argument("--explain", action="store_true", help="print SQLite query plans")
    parser.add_argument(
        "--compare", action="store_true", help="also time the one-statement sort (the old plan)"
    )
    args = parser.parse_args()
    store = store_for(args.runs, args.rebuild)
    with store:
        query.search_runs(limit=1, store=store)  # opens and migrates the store
        db = sqlite3.connect(str(CACHE / f"runs-{args.runs}" / "store.db"))
        for label, run_query in cases():
            if args.explain:
                walk = max(2000, 2 * (run_query.offset + 50))
                split = sqlquery.metric_split(run_query, dialect="sqlite", walk=walk)
                statements = (
                    [sqlquery.list_runs_sql(run_query, dialect="sqlite")]
                    if split is None
                    else [
                        split.boundary,
                        split.head((db.execute(*split.boundary).fetchone() or [None])[0]),
                    ]
                )
                print(f"-- {label}")
                for sql, params in statements:
                    for row in db.execute("EXPLAIN QUERY PLAN " + sql, params):
                        print("   ", row[3])
            ms, rows = timed(store, run_query, args.repeat)
            line = f"{label:36} {ms:8.1f} ms"
            if args.compare:
                walk_on = sqlquery.metric_split
                sqlquery.metric_split = no_split
                try:
                    old_ms, old_rows = timed(store, run_query, args.repeat)
                finally:
                    sqlquery.metric_split = walk_on
                assert [r["id"] for r in rows] == [r["id"] for r in old_rows], label
                line += f"   one-statement sort {old_ms:8.1f} ms"
            print(line + f"  ({len(rows)} rows)", flush=True)
        db.close()


if __name__ == "__main__":
    main()
