"""Server benchmarks (SPEC §12, issue "HTTP server"): prints three numbers.

1. ``GET /api/runs?limit=100&count=true`` over 100,000 runs (server time, loopback round trip);
2. ``GET .../metrics/history?max_points=2000`` of a 1,000,000-point series;
3. remote batched logging through ``ml.use_store("http://...")``: points/s including the final
   flush at run end.

Usage: ``python bench/server_bench.py [--runs 100000] [--points 1000000] [--remote 500000]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

import chachaml as ml
from chachaml.server.settings import Settings
from chachaml.server.testing import LiveServer
from chachaml.store.protocol import NewRun


def _timed_get(client: httpx.Client, url: str, params: dict[str, object], repeat: int = 7) -> float:
    """Median wall time (ms) of a GET on loopback: an upper bound of the server time."""
    client.get(url, params=params).raise_for_status()  # warm caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        client.get(url, params=params).raise_for_status()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def populate(db: Path, n_runs: int, n_points: int) -> str:
    """``n_runs`` runs with a param, a tag and a metric each, plus one run with ``n_points``."""
    with ml.store(str(db)) as st:
        meta = st.meta
        t0 = time.perf_counter()
        now = time.time_ns() // 1_000_000
        for i in range(n_runs):
            rid = f"{i:032x}"
            meta.create_run(NewRun(rid, f"exp{i % 10}", None, now + i, "bench"))
            if i % 1000 == 999:
                meta.log_metrics(
                    [(f"{j:032x}", "acc", 0, j / n_runs, now) for j in range(i - 999, i + 1)]
                )
        print(f"  populated {n_runs:,} runs in {time.perf_counter() - t0:.1f} s")
        big = "f" * 32
        meta.create_run(NewRun(big, "big", None, now, "bench"))
        t0 = time.perf_counter()
        chunk = 200_000
        for start in range(0, n_points, chunk):
            meta.log_metrics(
                [
                    (big, "loss", s, 1.0 / (s + 1), now)
                    for s in range(start, min(n_points, start + chunk))
                ]
            )
        print(f"  logged {n_points:,} points in {time.perf_counter() - t0:.1f} s")
        return big


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--remote", type=int, default=500_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["CHACHAML_OUTBOX_DIR"] = str(root / "outbox")
        big = populate(root / "bench.db", args.runs, args.points)
        with (
            LiveServer.start(Settings(store_url=str(root / "bench.db"))) as live,
            httpx.Client(base_url=live.url, timeout=120) as client,
        ):
            listing = _timed_get(client, "/api/runs", {"limit": 100, "count": "true"})
            page = client.get("/api/runs", params={"limit": 100, "count": "true"}).json()
            assert page["count"] == args.runs + 1
            assert len(page["runs"]) == 100
            print(f"runs listing ({args.runs:,} runs, page 100 + count): {listing:.1f} ms")
            filtered = _timed_get(
                client, "/api/runs", {"limit": 100, "count": "true", "filter": "metrics.acc > 0.5"}
            )
            print(f"runs listing with a metric filter + count: {filtered:.1f} ms")
            url = f"/api/runs/{big}/metrics/history"
            history = _timed_get(client, url, {"key": "loss", "max_points": 2000})
            got = client.get(url, params={"key": "loss", "max_points": 2000}).json()["points"]
            assert 0 < len(got) <= 2000
            print(f"history of {args.points:,} points -> {len(got)} points: {history:.1f} ms")

            with ml.store(live.url):
                t0 = time.perf_counter()
                with ml.run(experiment="remote-bench"):
                    for step in range(args.remote):
                        ml.log_metric("loss", 1.0 / (step + 1), step)
                elapsed = time.perf_counter() - t0
            print(
                f"remote batched logging: {args.remote / elapsed:,.0f} points/s "
                f"({args.remote:,} points in {elapsed:.2f} s, durable at run end)"
            )


if __name__ == "__main__":
    main()
