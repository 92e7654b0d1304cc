"""Filter-expression search over 10,000 runs on SQLite (SPEC §9 acceptance: <= 50 ms, warm).

Standalone: builds a temporary store, then times
``ml.search_runs("metrics.acc > 0.9 and (params.model = 'rf' or params.depth >= 5)", limit=None)``
and prints the median of 20 warm calls.

    python bench/filter_bench.py [--runs 10000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import chachaml as ml
from chachaml.store.protocol import NewRun

FILTER = "metrics.acc > 0.9 and (params.model = 'rf' or params.depth >= 5)"
MODELS = ("rf", "gbm", "svm", "knn")


def populate(store: ml.Store, n_runs: int, seed: int = 0) -> None:
    """``n_runs`` finished runs with 3 params, 2 metrics (5 points each) and a tag."""
    rng = random.Random(seed)
    meta = store.meta
    start = 1_700_000_000_000
    points = []
    for i in range(n_runs):
        run_id = uuid.uuid4().hex
        t0 = start + i * 1000
        meta.create_run(NewRun(run_id, f"exp-{i % 5}", f"run-{i}", t0, "bench", tags={"team": "a"}))
        meta.log_params(
            run_id,
            {
                "model": f'"{rng.choice(MODELS)}"',
                "depth": str(rng.randint(1, 10)),
                "lr": repr(rng.choice((0.1, 0.01, 0.001))),
            },
        )
        for step in range(5):
            points.append((run_id, "acc", step, rng.random(), t0 + step))
            points.append((run_id, "loss", step, rng.random(), t0 + step))
        meta.finish_run(run_id, "completed", t0 + 500, None)
    meta.log_metrics(points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = ml.open_store(str(Path(tmp) / "bench.db"), artifacts=str(Path(tmp) / "art"))
        with store:
            t = time.perf_counter()
            populate(store, args.runs)
            print(f"populated {args.runs} runs in {time.perf_counter() - t:.1f} s")
            found = ml.search_runs(FILTER, limit=None, store=store)  # warm-up
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                ml.search_runs(FILTER, limit=None, store=store)
                times.append((time.perf_counter() - t) * 1000)
            print(f"filter: {FILTER}")
            print(f"matches: {len(found)} of {args.runs} runs")
            print(
                f"search_runs median of {args.repeat}: {statistics.median(times):.1f} ms "
                f"(min {min(times):.1f} ms, target <= 50 ms)"
            )


if __name__ == "__main__":
    main()
