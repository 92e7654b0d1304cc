"""Web UI performance (SPEC §12, issue 13), measured in a real browser (Debian's chromium).

Builds, or reuses from ``bench/.cache/ui/`` (kept between runs: building takes minutes), a
SQLite store of 100,000 finished runs (3 params, 2 metrics of 5 points, a tag each;
``filter_bench.populate``) plus one run with a
1,000,000-point ``loss`` series, then measures:

- ``/runs`` HTML over 100,000 runs: the median of N in-process requests (starlette's
  ``TestClient``, so no socket; an upper bound of the server time). Target <= 50 ms.
- time to chart: navigation start → the 1,000,000-point run's chart holds data, read in the page
  (``performance.now()`` when the chart's uPlot first holds points), cold browser
  context each time; median of 5. Target <= 1,000 ms.
- total bytes of a cold ``/runs`` load (every response, headers + body as transferred, assets
  included, fresh context = empty cache). Target <= 300 KB.
- requests to any other origin during those loads. Target 0.

Prints a table and exits 1 when a target is missed.

    .venv/bin/python bench/ui_bench.py [--runs 100000] [--points 1000000] [--repeat 20]
                                       [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chachaml as ml
import filter_bench
from chachaml.server.testing import CHROMIUM_ARGS, chromium_path
from chachaml.store.protocol import NewRun

WORK = Path(__file__).resolve().parent / ".cache" / "ui"
BIG_RUN = "b" * 32

#: The time (ms since navigation start) once the chart of ``loss`` plots points, else false.
#: Charts are ``window.chachaml.charts.all`` (charts.js): ``key`` and ``plot`` (uPlot).
CHART_READY_JS = """
() => {
  const all = (window.chachaml && window.chachaml.charts && window.chachaml.charts.all) || [];
  const c = all.find((c) => c.key === 'loss');
  const u = c && c.plot;
  if (!(u && u.data && u.data[0] && u.data[0].length > 0)) return false;
  return {t: performance.now(), points: u.data[0].length};
}
"""


def build(db: Path, runs: int, points: int) -> None:
    """The store: ``runs`` runs, and the big run with ``points`` points of ``loss``."""
    store = ml.open_store(str(db), artifacts=str(db.parent / "artifacts"))
    with store:
        filter_bench.populate(store, runs)
        meta = store.meta
        t0 = 1_700_000_000_000
        meta.create_run(NewRun(BIG_RUN, "big", "million-points", t0, "bench"))
        for lo in range(0, points, 100_000):
            hi = min(points, lo + 100_000)
            meta.log_metrics(
                [
                    (BIG_RUN, "loss", s, math.sin(s / 5000.0) + s / 1e6, t0 + s)
                    for s in range(lo, hi)
                ]
            )
        meta.finish_run(BIG_RUN, "completed", t0 + points, None)


def store_path(runs: int, points: int) -> Path:
    """The cached store for these sizes, built when missing (or built by an older layout)."""
    folder = WORK / f"runs{runs}-points{points}"
    db, marker = folder / "ui.db", folder / "complete.json"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        t = time.perf_counter()
        print(f"building {runs:,} runs + a {points:,}-point series in {folder} ...", flush=True)
        build(db, runs, points)
        marker.write_text(json.dumps({"runs": runs, "points": points}))
        print(f"built in {time.perf_counter() - t:.0f} s", flush=True)
    return db


def runs_html_ms(db: Path, repeat: int) -> tuple[float, float, int]:
    """Median and min (ms) of in-process ``GET /runs``, and the HTML size."""
    from fastapi.testclient import TestClient

    from chachaml.server.app import create_app
    from chachaml.server.settings import Settings

    settings = Settings(store_url=str(db), artifacts_url=str(db.parent / "artifacts"))
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        first = client.get("/runs")
        if first.status_code != 200 or "text/html" not in first.headers.get("content-type", ""):
            raise SystemExit(f"/runs answered {first.status_code}: {first.text[:300]}")
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            client.get("/runs")
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times), len(first.content)


def browser_figures(db: Path, repeat: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from chachaml.server.settings import Settings
    from chachaml.server.testing import LiveServer

    chromium = chromium_path() or "/usr/bin/chromium"
    settings = Settings(store_url=str(db), artifacts_url=str(db.parent / "artifacts"))
    out: dict[str, Any] = {"foreign": []}
    with LiveServer.start(settings) as live, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        origin = live.url

        def watch(page: Any) -> None:
            def on_request(request: Any) -> None:
                url = request.url
                if urlsplit(url).scheme in ("http", "https", "ws", "wss") and not url.startswith(
                    origin + "/"
                ):
                    out["foreign"].append(url)

            page.on("request", on_request)

        # Cold /runs: a fresh context has an empty cache; sum what came over the wire.
        ctx = browser.new_context()
        page = ctx.new_page()
        watch(page)
        finished: list[Any] = []
        # A lambda, not the bound method: Playwright sets an attribute on the handler.
        page.on("requestfinished", lambda request: finished.append(request))  # noqa: PLW0108
        page.goto(origin + "/runs", wait_until="load")
        page.wait_for_load_state("networkidle")
        total = 0
        for request in finished:
            sizes = request.sizes()
            total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        out["cold_runs_bytes"] = total
        out["cold_runs_requests"] = len(finished)
        ctx.close()

        # Time to chart of the 1,000,000-point run, cold each time.
        times, plotted = [], 0
        for _ in range(repeat):
            ctx = browser.new_context()
            page = ctx.new_page()
            watch(page)
            page.goto(origin + f"/runs/{BIG_RUN}", wait_until="commit")
            ready = page.wait_for_function(CHART_READY_JS, polling="raf", timeout=30_000)
            value = ready.json_value()
            times.append(value["t"])
            plotted = value["points"]
            ctx.close()
        out["chart_ms"] = statistics.median(times)
        out["chart_ms_max"] = max(times)
        out["chart_points"] = plotted
        browser.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20, help="timed /runs requests")
    parser.add_argument("--loads", type=int, default=5, help="cold browser loads of the chart")
    parser.add_argument("--quick", action="store_true", help="2,000 runs and 100k points")
    parser.add_argument("--json", help="write the figures to this file (bench/frontdoors.py)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.points, args.repeat, args.loads = 2_000, 100_000, 5, 2

    db = store_path(args.runs, args.points)
    median, fastest, html_bytes = runs_html_ms(db, args.repeat)
    fig = browser_figures(db, args.loads)
    rows = [
        (
            f"/runs HTML over {args.runs:,} runs (median of {args.repeat}, in-process)",
            f"{median:.1f} ms (min {fastest:.1f}, {html_bytes / 1024:.0f} KB HTML)",
            "<= 50 ms",
            median <= 50,
        ),
        (
            f"run page with a {args.points:,}-point metric: navigation -> chart "
            f"(median of {args.loads}, cold)",
            f"{fig['chart_ms']:.0f} ms (max {fig['chart_ms_max']:.0f}, "
            f"{fig['chart_points']} points plotted)",
            "<= 1000 ms",
            fig["chart_ms"] <= 1000,
        ),
        (
            "cold /runs load, all responses (headers + bodies)",
            f"{fig['cold_runs_bytes'] / 1024:.1f} KB in {fig['cold_runs_requests']} requests",
            "<= 300 KB",
            fig["cold_runs_bytes"] <= 300 * 1024,
        ),
        (
            "requests to other origins",
            str(len(fig["foreign"])) + (f" ({fig['foreign'][:3]})" if fig["foreign"] else ""),
            "0",
            not fig["foreign"],
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':<44}  {'target':<10}  ok")
    for name, result, target, ok in rows:
        print(f"{name:<{width}}  {result:<44}  {target:<10}  {'yes' if ok else 'NO'}")
    if args.json:
        lines = [
            {
                "name": f"Web UI: `/runs` HTML over {args.runs:,} runs (median, in-process)",
                "value": median,
                "unit": "ms",
                "target": 50.0,
                "higher_better": False,
            },
            {
                "name": f"Web UI: run page with a {args.points:,}-point metric, navigation → "
                "chart (median, cold)",
                "value": fig["chart_ms"],
                "unit": "ms",
                "target": 1000.0,
                "higher_better": False,
            },
            {
                "name": "Web UI: cold `/runs` load, all responses",
                "value": fig["cold_runs_bytes"] / 1024,
                "unit": "KB",
                "target": 300.0,
                "higher_better": False,
            },
            {
                "name": "Web UI: requests to other origins",
                "value": float(len(fig["foreign"])),
                "unit": "",
                "target": 0.0,
                "higher_better": False,
            },
        ]
        Path(args.json).write_text(json.dumps({"lines": lines}))
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
