"""``/experiments``: explicit and derived experiments with run counts, last activity,
description and owner, and (for writers) a form to describe one.

JSON twins: ``GET /api/experiments``; the form writes like ``POST /api/experiments``.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from chachaml import annotate
from chachaml.errors import InvalidInput
from chachaml.server.auth import READ, WRITE
from chachaml.server.deps import store_of
from chachaml.server.ui import render
from chachaml.server.ui.markdown import render_markdown
from chachaml.server.ui.security import CheckedForm

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _page(
    request: Request, *, error: str | None = None, draft: dict[str, str] | None = None
) -> Response:
    found = annotate.experiments(store=store_of(request))
    for e in found:
        e["runs_url"] = "/runs?experiment=" + quote(e["name"], safe="")
        e["description_html"] = render_markdown(e["description"] or "")
    context = {"experiments": found, "error": error, "draft": draft or {}}
    return render(
        request, "experiments.html", context, nav="experiments", status_code=422 if error else 200
    )


@router.get("/experiments", dependencies=[READ])
def experiments_page(request: Request) -> Response:
    """Every experiment, most recently active first."""
    return _page(request)


@router.post("/experiments", dependencies=[WRITE])
def describe_experiment(request: Request, form: CheckedForm) -> Response:
    """Create an experiment or set its description/owner (empty fields are left as they
    are)."""
    name = form.get("name", "").strip()
    description = form.get("description", "").replace("\r\n", "\n")
    owner = form.get("owner", "").strip()
    try:
        if not name:
            raise InvalidInput("an experiment needs a name")
        annotate.create_experiment(
            name, description or None, owner or None, store=store_of(request)
        )
    except InvalidInput as exc:
        draft = {"name": name, "description": description, "owner": owner}
        return _page(request, error=exc.message, draft=draft)
    return RedirectResponse("/experiments", status_code=303)
