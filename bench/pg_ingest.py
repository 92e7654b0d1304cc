"""PostgreSQL vs SQLite metric ingestion, end to end through ``ml.run``.

100,000 points (10 keys x 10,000 steps) are logged with ``log_metric`` inside one run; the clock
stops when the run has ended, i.e. when every point is committed. Prints points/s per backend.

    .venv/bin/python bench/pg_ingest.py [--pg postgresql://postgres@127.0.0.1:5432/test]

A throwaway schema is created in the PostgreSQL database and dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid

import chachaml as ml

KEYS, STEPS = 10, 10_000


def ingest(url: str, artifacts: str) -> float:
    """Points per second for one run of KEYS x STEPS points into ``url``."""
    keys = [f"metric_{k}" for k in range(KEYS)]
    with ml.open_store(url, artifacts=artifacts) as st:
        st.meta.applied_migrations()  # open and migrate before the clock starts
        start = time.perf_counter()
        with ml.run(store=st, experiment="bench") as run:
            for step in range(STEPS):
                for key in keys:
                    run.log_metric(key, step * 0.001, step=step)
        elapsed = time.perf_counter() - start
        stored = sum(s["count"] for s in st.meta.metric_summaries([run.id])[run.id].values())
    assert stored == KEYS * STEPS, stored
    return KEYS * STEPS / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pg",
        default=os.environ.get("CHACHAML_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in args.pg else "?"
    pg_url = f"{args.pg}{sep}options=-csearch_path%3D{schema}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = {
                "sqlite": max(
                    ingest(os.path.join(tmp, f"b{i}.db"), os.path.join(tmp, "a"))
                    for i in range(args.repeat)
                ),
                "postgresql": max(
                    ingest(pg_url, os.path.join(tmp, "a")) for _ in range(args.repeat)
                ),
            }
    finally:
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    print(f"{KEYS * STEPS:,} points ({KEYS} keys x {STEPS:,} steps), best of {args.repeat}:")
    for name, rate in results.items():
        print(f"  {name:<11} {rate:>12,.0f} points/s")


if __name__ == "__main__":
    main()
