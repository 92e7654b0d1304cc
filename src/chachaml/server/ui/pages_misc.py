"""The pages around the others: ``/`` (the newcomer's page of an empty store, else the runs),
``/login`` and ``/logout`` (servers with tokens), and the HTML error pages of browser routes
(the JSON API keeps its ``{"error": {...}}`` answers).

The JSON twin of the empty-store page is ``GET /api/runs?limit=1`` (an empty ``runs`` list).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from chachaml import query
from chachaml.server.auth import PUBLIC, READ, SESSION_COOKIE, session_cookie
from chachaml.server.deps import settings_of, store_of
from chachaml.server.settings import hash_token
from chachaml.server.ui import render
from chachaml.server.ui.security import CheckedForm, is_page_path, safe_next

__all__ = ["error_page", "render_empty_store", "router", "store_is_empty"]

router = APIRouter(include_in_schema=False)

#: How long the browser keeps the session cookie (it also ends when the server restarts).
SESSION_SECONDS = 7 * 24 * 3600
_TITLES = {
    400: "Bad request",
    401: "Sign in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Conflict",
    413: "Too large",
    422: "Invalid input",
    500: "Internal error",
}


def store_is_empty(request: Request) -> bool:
    """True when the store has no runs at all (archived ones included)."""
    return not query.search_runs(limit=1, include_archived=True, store=store_of(request))


def render_empty_store(request: Request) -> Response:
    """The newcomer's page: how to log a first run (for ``/`` and ``/runs`` on an empty
    store)."""
    base_url = str(request.base_url).rstrip("/")
    return render(request, "empty.html", {"base_url": base_url}, nav="runs")


@router.get("/", dependencies=[READ])
def home(request: Request) -> Response:
    """The runs, or the first-run instructions when the store is empty."""
    if store_is_empty(request):
        return render_empty_store(request)
    return RedirectResponse("/runs", status_code=303)


def _login_page(request: Request, next_url: str, error: str | None, status: int) -> Response:
    return render(
        request,
        "login.html",
        {"next_url": next_url, "error": error},
        status_code=status,
    )


@router.get("/login", dependencies=[PUBLIC])
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form (only on servers with tokens; elsewhere there is nothing to sign in
    to)."""
    target = safe_next(next)
    if not settings_of(request).tokens:
        return RedirectResponse(target, status_code=303)
    return _login_page(request, target, None, 200)


@router.post("/login", dependencies=[PUBLIC])
def login(request: Request, form: CheckedForm) -> Response:
    """Check the token and keep the session in an HttpOnly, SameSite=Strict cookie."""
    target = safe_next(form.get("next"))
    tokens = settings_of(request).tokens
    if not tokens:
        return RedirectResponse(target, status_code=303)
    token = form.get("token", "").strip()
    hashed = hash_token(token) if token else None
    if hashed is None or hashed not in tokens:
        return _login_page(request, target, "That token is not valid for this server.", 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_cookie(request.app.state.secret, hashed),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", dependencies=[PUBLIC])
def logout(request: Request, form: CheckedForm) -> Response:
    """Forget the session cookie."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _error_of(response: Response) -> tuple[str, str]:
    try:
        body: Any = json.loads(bytes(response.body))
        return str(body["error"]["code"]), str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return "error", ""


def error_page(request: Request, response: Response) -> Response:
    """The HTML form of an error answer on a browser route (``app.state.error_page``): a 401
    sends the browser to ``/login``; anything else renders the error (404: the not-found page).
    API routes keep the JSON answer."""
    if not is_page_path(request.url.path):
        return response
    status = response.status_code
    if status == 401:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)
    code, message = _error_of(response)
    template = "404.html" if status == 404 else "error.html"
    page = render(
        request,
        template,
        {
            "status": status,
            "title": _TITLES.get(status, "Error"),
            "code": code,
            "message": message,
        },
        status_code=status,
    )
    for name in ("connection", "allow", "retry-after"):
        if name in response.headers:
            page.headers[name] = response.headers[name]
    return page
