"""``/compare?ids=…``: params diff (differing first), metrics side by side, overlaid curves per
metric and a sweep view (a param against a chosen metric).

JSON twin: ``GET /api/compare?ids=…`` (``comparison.compare_runs``); the curves come from
``GET /api/runs/{id}/metrics/history`` per run.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from chachaml import comparison
from chachaml.errors import ChachamlError, InvalidInput, NotFound
from chachaml.server.auth import READ
from chachaml.server.deps import settings_of, store_of
from chachaml.server.ui import render

__all__ = ["MAX_RUNS", "router"]

router = APIRouter(include_in_schema=False)

MAX_RUNS = 100  # as GET /api/compare
COLORS = (
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#9333ea",
    "#ea580c",
    "#0891b2",
    "#db2777",
    "#65a30d",
    "#4f46e5",
    "#a16207",
)  # fmt: skip  (the same order as charts.js)


def _ids(request: Request) -> list[str]:
    out: list[str] = []
    for value in request.query_params.getlist("ids"):
        out += [v.strip() for v in value.split(",") if v.strip()]
    return list(dict.fromkeys(out))


def _rows(groups: dict[str, dict[str, Any]], order: list[str]) -> list[dict[str, Any]]:
    """Param rows, differing first, then partial, then same; each with one cell per run."""
    rows = []
    for kind in ("differ", "partial", "same"):
        for key, values in groups.get(kind, {}).items():
            rows.append({"key": key, "kind": kind, "cells": [values.get(i) for i in order]})
    return rows


@router.get("/compare", dependencies=[READ])
def compare_page(request: Request) -> Response:
    """Compare the runs in ``ids`` (repeat it, or separate ids with commas)."""
    ids = _ids(request)
    error = None
    status = 400
    result: dict[str, Any] | None = None
    if not ids:
        error = "Select runs on the Runs page (or pass ?ids=<run id>&ids=<run id>) to compare."
    elif len(ids) > MAX_RUNS:
        error = f"Compare takes at most {MAX_RUNS} runs; {len(ids)} were given."
    else:
        try:
            result = comparison.compare_runs(ids, store=store_of(request))
        except NotFound as exc:
            error, status = str(exc), 404
        except (InvalidInput, ChachamlError) as exc:
            error = str(exc)
    if result is None:
        context: dict[str, Any] = {
            "error": error,
            "runs": [],
            "params": [],
            "metrics": [],
            "chart": None,
        }
        code = status if ids else 200
        return render(request, "compare.html", context, nav="runs", status_code=code)
    order: list[str] = result["run_ids"]
    runs = [{**r, "color": COLORS[i % len(COLORS)]} for i, r in enumerate(result["runs"])]
    metric_rows = _rows(result["metrics"], order)
    metric_keys = sorted(row["key"] for row in metric_rows)
    param_rows = _rows(result["params"], order)
    sweep_params = [r["key"] for r in param_rows if r["kind"] != "same"] or [
        r["key"] for r in param_rows
    ]
    chart = {
        "runs": [
            {"id": r["id"], "label": r.get("name") or r["id"][:8], "start": r["start_time"]}
            for r in runs
        ],
        "keys": metric_keys,
        "points": settings_of(request).default_history_points,
        "params": {row["key"]: row["cells"] for row in param_rows},
        "metrics": {
            row["key"]: [None if c is None else c.get("last") for c in row["cells"]]
            for row in metric_rows
        },
        "sweep_params": sweep_params,
    }
    context = {
        "error": None,
        "runs": runs,
        "params": param_rows,
        "metrics": metric_rows,
        "counts": {k: len(result["params"][k]) for k in ("differ", "partial", "same")},
        "chart": chart,
        "ids_query": "&".join(f"ids={i}" for i in order),
    }
    return render(request, "compare.html", context, nav="runs")
