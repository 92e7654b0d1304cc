"""The MCP ``search_runs`` round trip over stdio on a 10,000-run SQLite store (issue 14
benchmark line: <= 50 ms, warm).

Standalone: builds a temporary store (``filter_bench.populate``: 10,000 finished runs with 3
params, 2 metrics of 5 points and a tag), starts ``python -m chachaml mcp --store ...`` with the
MCP SDK's stdio client, and times ``search_runs`` (a filter expression, the default page of 20
runs, newest first; ``--order-by`` adds a sort) from the client's call to its parsed result:
median and p95 of the warm calls. Each round trip alternates with the same tool called
in-process (``chachaml.tools.call_tool``), so the two see the same machine load and their
difference is what MCP and stdio add.

    python bench/mcp_roundtrip.py [--runs 10000] [--repeat 50] [--order-by 'metrics.acc desc']
                                  [--json PATH]   # also write the figures for bench/run.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

import chachaml as ml
from chachaml import tools
from filter_bench import FILTER, populate


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _line(what: str, times: list[float]) -> str:
    return (
        f"{what}: median {statistics.median(times):.1f} ms, p95 {_p95(times):.1f} ms, "
        f"min {min(times):.1f} ms ({len(times)} warm calls)"
    )


async def _measure(
    store: ml.Store, db: str, args: dict[str, Any], repeat: int
) -> tuple[list[float], list[float], int]:
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "chachaml", "mcp", "--store", db, "--read-only"]
    )
    async with Client(server) as client:
        first = await client.call_tool("search_runs", args)  # warm-up: caches, first query
        assert not first.is_error, first.content
        tools.call_tool("search_runs", args, store=store)
        stdio, local = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            result = await client.call_tool("search_runs", args)
            stdio.append((time.perf_counter() - t) * 1000)
            assert not result.is_error, result.content
            assert result.structured_content == first.structured_content
            t = time.perf_counter()
            tools.call_tool("search_runs", args, store=store)
            local.append((time.perf_counter() - t) * 1000)
        return stdio, local, int(first.structured_content["count"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--order-by", help="also sort, e.g. 'metrics.acc desc' (a costlier query)")
    parser.add_argument("--json", help="write the figures to this file (bench/frontdoors.py)")
    opts = parser.parse_args()
    args: dict[str, Any] = {"filter": FILTER}
    if opts.order_by:
        args["order_by"] = opts.order_by
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        with ml.open_store(db, artifacts=str(Path(tmp) / "art")) as store:
            t = time.perf_counter()
            populate(store, opts.runs)
            print(f"populated {opts.runs} runs in {time.perf_counter() - t:.1f} s")
            matches = ml.count_runs(FILTER, store=store)
            stdio, local, page = anyio.run(_measure, store, db, args, opts.repeat)
        print(f"search_runs {args}: {matches} of {opts.runs} runs match; a page holds {page}")
        print(_line("MCP stdio round trip", stdio) + "  (target <= 50 ms)")
        print(_line("in-process call_tool", local))
        extra = statistics.median([a - b for a, b in zip(stdio, local, strict=True)])
        print(f"what MCP over stdio adds (median of the paired differences): {extra:.1f} ms")
    if opts.json:
        lines = [
            {
                "name": f"MCP `search_runs` round trip over stdio, {opts.runs:,} runs (median)",
                "value": statistics.median(stdio),
                "unit": "ms",
                "target": 50.0,
                "higher_better": False,
            },
            {
                "name": "… of which MCP + stdio (median of paired differences)",
                "value": extra,
                "unit": "ms",
                "target": None,
                "higher_better": False,
            },
        ]
        Path(opts.json).write_text(json.dumps({"lines": lines}))


if __name__ == "__main__":
    main()
