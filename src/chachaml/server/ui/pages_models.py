"""``/models`` (every model with its production version) and ``/models/{name}`` (versions with
stage badges, stage changes with a confirmation step, version diff, markdown description).

One address per model, whatever its name holds (``/``, ``?``, ``#``, ...): the name is the whole
rest of the path, and the sub-views are query parameters — ``?v1=1&v2=3`` (diff),
``?promote=3&stage=production`` (the confirmation page). Changes are a form POST to the same
address with ``action=promote`` (needs ``confirm=yes``, which only the confirmation page and the
script's confirm dialog send) or ``action=describe``.

JSON twins: ``GET /api/models``, ``GET /api/models/{name}`` (versions and stage history),
``GET /api/models/{name}/diff?v1=&v2=``; writes ``POST /api/models/{name}/versions/{v}/stage``
and ``PUT /api/models/{name}/description``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from chachaml import registry
from chachaml.errors import InvalidInput, NotFound
from chachaml.server.auth import READ, WRITE
from chachaml.server.deps import store_of
from chachaml.server.errors import Forbidden
from chachaml.server.ui import render
from chachaml.server.ui.markdown import render_markdown
from chachaml.server.ui.security import CheckedForm, can_write

__all__ = ["model_url", "router"]

router = APIRouter(include_in_schema=False)

Version = Annotated[int | None, Query(ge=1, le=2**62)]
StageQuery = Annotated[str | None, Query(max_length=50)]


def model_url(name: str, **query: object) -> str:
    """The page of model ``name`` (any characters), with optional query parameters."""
    url = "/models/" + quote(name, safe="")
    pairs = {k: str(v) for k, v in query.items() if v is not None}
    return url + ("?" + urlencode(pairs) if pairs else "")


@router.get("/models", dependencies=[READ])
def models_page(request: Request) -> Response:
    """Every model: production version, latest version, version count."""
    found = registry.models(store=store_of(request))
    for m in found:
        m["url"] = model_url(m["name"])
    return render(request, "models.html", {"models": found}, nav="models")


def _model_context(request: Request, name: str) -> dict[str, Any]:
    found = registry.model(name, store=store_of(request))
    versions = list(found["versions"])
    for v in versions:
        v["description_html"] = render_markdown(v["description"] or "")
    newest = versions[-1]["version"] if versions else None
    production = found.get("production_version")
    return {
        "model": found,
        "name": name,
        "url": model_url(name),
        "versions": list(reversed(versions)),
        "history": list(reversed(found["history"])),
        "description_html": render_markdown(found.get("description") or ""),
        "stages": registry.STAGES,
        "default_v1": production or (versions[0]["version"] if versions else None),
        "default_v2": newest,
        "json_url": "/api/models/" + quote(name, safe=""),
        "error": None,
        "draft": None,
    }


def _model_page(request: Request, name: str, *, error: str | None = None, **extra: Any) -> Response:
    context = _model_context(request, name)
    context.update(error=error, **extra)
    return render(request, "model.html", context, nav="models", status_code=422 if error else 200)


@router.get("/models/{name:path}", dependencies=[READ])
def model_page(
    request: Request,
    name: str,
    v1: Version = None,
    v2: Version = None,
    promote: Version = None,
    stage: StageQuery = None,
) -> Response:
    """One model; ``?v1=&v2=`` compares two versions, ``?promote=&stage=`` asks to confirm a
    stage change."""
    if not name:
        return RedirectResponse("/models", status_code=303)
    st = store_of(request)
    if promote is not None:
        return _confirm_page(request, name, promote, stage)
    if v1 is not None or v2 is not None:
        if v1 is None or v2 is None:
            return _model_page(request, name, error="choose two versions to compare")
        diff = registry.diff_versions(name, v1, v2, store=st)
        a, b = diff["versions"]
        context = {
            "name": name,
            "url": model_url(name),
            "diff": diff,
            "a": a,
            "b": b,
            "json_url": f"/api/models/{quote(name, safe='')}/diff?v1={v1}&v2={v2}",
        }
        return render(request, "model_diff.html", context, nav="models")
    return _model_page(request, name)


def _confirm_page(request: Request, name: str, version: int, stage: str | None) -> Response:
    if not can_write(request):
        raise Forbidden("this token is read-only; changing a stage needs a read-write token")
    if stage not in registry.STAGES:
        return _model_page(
            request, name, error=f"choose a stage: one of {', '.join(registry.STAGES)}"
        )
    st = store_of(request)
    found = registry.get_version(name, version, store=st)
    current = registry.version_in_stage(name, "production", store=st)
    context = {
        "name": name,
        "url": model_url(name),
        "version": found,
        "stage": stage,
        "replaced": current
        if stage == "production" and current and current["version"] != version
        else None,
    }
    return render(request, "model_promote.html", context, nav="models")


def _version_field(form: dict[str, str]) -> int:
    text = form.get("version", "").strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 2**62:
        raise InvalidInput(f"version must be a positive whole number, got {text[:20]!r}")
    return int(text)


@router.post("/models/{name:path}", dependencies=[WRITE])
def model_action(request: Request, name: str, form: CheckedForm) -> Response:
    """``action=promote`` (with ``version``, ``stage`` and ``confirm=yes``; without the
    confirmation it asks first) or ``action=describe`` (with ``description``)."""
    st = store_of(request)
    action = form.get("action")
    if action == "promote":
        try:
            version = _version_field(form)
        except InvalidInput as exc:
            return _model_page(request, name, error=exc.message)
        stage = form.get("stage", "")
        if form.get("confirm") != "yes":
            return RedirectResponse(model_url(name, promote=version, stage=stage), 303)
        try:
            registry.promote(name, version, stage, store=st)
        except (InvalidInput, NotFound) as exc:
            return _model_page(request, name, error=exc.message)
        return RedirectResponse(model_url(name) + f"#v{version}", status_code=303)
    if action == "describe":
        text = form.get("description", "").replace("\r\n", "\n")
        try:
            registry.set_model_description(name, text, store=st)
        except InvalidInput as exc:
            return _model_page(request, name, error=exc.message, draft=text)
        return RedirectResponse(model_url(name) + "#description", status_code=303)
    return _model_page(request, name, error="unknown action: use the page's forms")
