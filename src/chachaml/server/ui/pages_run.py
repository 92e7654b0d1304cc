"""``/runs/{id}``: one run (header, params, metric cards and charts, artifacts, datasets, tags,
note, environment) and its forms (tags add/remove, note save/preview).

JSON twins: ``GET /api/runs/{id}`` (everything but the charts), ``GET
/api/runs/{id}/metrics/history`` (the charts: downsampled, or only new points with
``after_step`` while the run is live), ``GET /api/runs/{id}/artifacts``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from chachaml import query, runs_api
from chachaml.errors import InvalidInput
from chachaml.server.auth import READ, WRITE
from chachaml.server.deps import settings_of, store_of
from chachaml.server.ui import previews, render
from chachaml.server.ui.markdown import render_markdown
from chachaml.server.ui.security import CheckedForm

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

MAX_NOTE_CHARS = 100_000
MAX_CHILDREN_SHOWN = 200
ENV_FIELDS = ("python", "implementation", "platform", "hostname", "chachaml", "user", "pid", "cwd")


def _related(run: dict[str, Any], request: Request) -> dict[str, Any]:
    """Summaries of the run's parent and (first 200) children, for names and statuses."""
    store = store_of(request)
    ids = list(run.get("children") or [])[:MAX_CHILDREN_SHOWN]
    if run.get("parent_run_id"):
        ids.append(run["parent_run_id"])
    if not ids:
        return {"parent": None, "children": []}
    found = {
        r["id"]: r
        for r in query.search_runs(ids=ids, limit=len(ids), include_archived=True, store=store)
    }
    parent_id = run.get("parent_run_id")
    return {
        "parent": found.get(parent_id) if parent_id else None,
        "children": [found[i] for i in ids if i in found and i != parent_id],
    }


def _artifacts(run: dict[str, Any], request: Request) -> list[dict[str, Any]]:
    store = store_of(request)
    out = []
    for i, row in enumerate(run.get("artifacts") or []):
        shown = (
            previews.preview(store, row)
            if i < previews.MAX_PREVIEWS
            else previews.Preview("download")
        )
        out.append(
            {"row": row, "url": previews.artifact_url(run["id"], row["name"]), "preview": shown}
        )
    return out


@router.get("/runs/{run_id}", dependencies=[READ])
def run_page(request: Request, run_id: str) -> Response:
    """One run. Charts fetch downsampled histories (~2,000 points per key) and, while the run
    is running, only the points after the last step they have."""
    store = store_of(request)
    run = query.get_run(run_id, store=store)
    if run["id"] != run_id:  # a unique prefix: go to the full address
        return RedirectResponse(f"/runs/{run['id']}", status_code=303)
    env = run.get("env") or {}
    chart = {
        "run": {
            "id": run["id"],
            "name": run.get("name") or run["id"][:8],
            "status": run["status"],
            "start_time": run["start_time"],
        },
        "keys": sorted(run.get("metric_stats") or {}),
        "counts": {k: s.get("count") for k, s in (run.get("metric_stats") or {}).items()},
        "points": settings_of(request).default_history_points,
    }
    context = {
        "run": run,
        "env": env,
        "env_fields": [(k, env[k]) for k in ENV_FIELDS if env.get(k) not in (None, "")],
        "git": env.get("git") or None,
        "related": _related(run, request),
        "params": sorted((run.get("params") or {}).items()),
        "metric_stats": sorted((run.get("metric_stats") or {}).items()),
        "tags": sorted((run.get("tags") or {}).items()),
        "artifacts": _artifacts(run, request),
        "note_html": render_markdown(run.get("note")),
        "chart": chart,
    }
    return render(request, "run.html", context, nav="runs")


def _back(run_id: str, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/runs/{run_id}#{anchor}", status_code=303)


def _field(form: dict[str, str], name: str, *, required: bool = True) -> str:
    value = form.get(name, "")
    if required and not value.strip():
        raise InvalidInput(f"the form needs a non-empty {name!r}")
    return value


@router.post("/runs/{run_id}/tags", dependencies=[WRITE])
def add_tag(request: Request, run_id: str, form: CheckedForm) -> Response:
    """Add (or replace) one tag, then back to the run page."""
    run_id = query.find_run_id(run_id, store=store_of(request))
    key = _field(form, "key").strip()
    runs_api.add_tag(run_id, key, form.get("value", ""), store=store_of(request))
    return _back(run_id, "tags")


@router.post("/runs/{run_id}/tags/delete", dependencies=[WRITE])
def remove_tag(request: Request, run_id: str, form: CheckedForm) -> Response:
    """Remove one tag, then back to the run page."""
    run_id = query.find_run_id(run_id, store=store_of(request))
    runs_api.remove_tag(run_id, _field(form, "key"), store=store_of(request))
    return _back(run_id, "tags")


@router.post("/runs/{run_id}/note", dependencies=[WRITE])
def save_note(request: Request, run_id: str, form: CheckedForm) -> Response:
    """Replace the run's note (markdown), then back to the run page."""
    run_id = query.find_run_id(run_id, store=store_of(request))
    note = _field(form, "note", required=False)
    if len(note) > MAX_NOTE_CHARS:
        raise InvalidInput(f"a note is at most {MAX_NOTE_CHARS} characters")
    runs_api.set_note(run_id, note.replace("\r\n", "\n"), store=store_of(request))
    return _back(run_id, "note")


@router.post("/runs/{run_id}/note/preview", dependencies=[WRITE])
def preview_note(request: Request, run_id: str, form: CheckedForm) -> Response:
    """The sanitised HTML of a note draft (the editor's preview); stores nothing."""
    query.find_run_id(run_id, store=store_of(request))
    note = _field(form, "note", required=False)[:MAX_NOTE_CHARS]
    return HTMLResponse(str(render_markdown(note)))
