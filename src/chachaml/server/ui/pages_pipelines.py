"""``/pipelines`` (newest first, filter by name and status, pages) and ``/pipelines/{id}`` (the
step table: status, duration, run links, the errors of failed steps). Unfinished pipelines
(running, pending and skipped steps without times) show as they are.

JSON twins: ``GET /api/pipelines`` (same ``name``/``status``/``limit``/``offset``) and
``GET /api/pipelines/{id}``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from chachaml import pipeline_api
from chachaml.server.auth import READ
from chachaml.server.deps import store_of
from chachaml.server.ui import render
from chachaml.server.ui.markdown import render_markdown

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
STATUSES = ("running", "completed", "failed", "killed", "crashed")
Filter = Annotated[str | None, Query(max_length=250)]


def _url(name: str | None, status: str | None, offset: int) -> str:
    pairs = [("name", name), ("status", status), ("offset", str(offset) if offset else None)]
    query = urlencode([(k, v) for k, v in pairs if v])
    return "/pipelines" + (f"?{query}" if query else "")


@router.get("/pipelines", dependencies=[READ])
def pipelines_page(
    request: Request,
    name: Filter = None,
    status: Filter = None,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    """Pipelines with their status and progress."""
    name = name or None
    status = status or None
    found = pipeline_api.pipelines(
        PAGE_SIZE + 1, name, status, offset=offset, store=store_of(request)
    )
    more = len(found) > PAGE_SIZE
    shown = found[:PAGE_SIZE]
    pager = {
        "prev_url": _url(name, status, max(0, offset - PAGE_SIZE)) if offset else None,
        "next_url": _url(name, status, offset + PAGE_SIZE) if more else None,
        "label": f"{offset + 1} to {offset + len(shown)}" if shown else "none",
    }
    api_query = urlencode(
        [(k, v) for k, v in (("name", name), ("status", status)) if v]
        + [("limit", str(PAGE_SIZE)), ("offset", str(offset))]
    )
    context = {
        "pipelines": shown,
        "pager": pager,
        "name": name or "",
        "status": status or "",
        "statuses": STATUSES,
        "json_url": f"/api/pipelines?{api_query}",
    }
    return render(request, "pipelines.html", context, nav="pipelines")


@router.get("/pipelines/{pipeline_id}", dependencies=[READ])
def pipeline_page(request: Request, pipeline_id: str) -> Response:
    """One pipeline and its steps in order."""
    found = dict(pipeline_api.pipeline(pipeline_id, store=store_of(request)))
    context = {
        "p": found,
        "steps": found["steps"],
        "description_html": render_markdown(found.get("description") or ""),
        "json_url": f"/api/pipelines/{found['id']}",
    }
    return render(request, "pipeline.html", context, nav="pipelines")
