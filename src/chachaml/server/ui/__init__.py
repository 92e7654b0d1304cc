"""The web UI: server-rendered Jinja2 pages over the same service functions as the JSON API.

``chachaml.server.ui.install.install_ui(app)`` adds the page routers and the ``/static/`` route
to a server app; pages render with :func:`render`. Templates autoescape everything and fail on
undefined names; data for scripts travels as JSON in ``<script type="application/json">``
blocks (no inline script, so a strict Content-Security-Policy holds).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import markupsafe
from fastapi import APIRouter
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from chachaml import formatting
from chachaml.server.auth import PUBLIC
from chachaml.server.encoding import dumps
from chachaml.server.ui import security

__all__ = [
    "NAV_ITEMS",
    "StaticFile",
    "load_static",
    "make_environment",
    "render",
    "static_router",
    "static_url",
]

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"
NAV_ITEMS = (
    ("/runs", "Runs"),
    ("/experiments", "Experiments"),
    ("/models", "Models"),
    ("/pipelines", "Pipelines"),
    ("/alerts", "Alerts"),
    ("/search", "Search"),
    ("/chat", "Chat"),
)
KNOWN_STATUSES = frozenset({"running", "completed", "failed", "crashed", "killed"})
LONG_CACHE = "public, max-age=31536000, immutable"
_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}


class StaticFile(NamedTuple):
    body: bytes
    content_type: str
    digest: str  # first 12 hex characters of the sha256: the version in the URL


def load_static() -> dict[str, StaticFile]:
    files: dict[str, StaticFile] = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(STATIC_DIR).as_posix()
        body = path.read_bytes()
        ctype = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
        files[rel] = StaticFile(
            body, ctype or "application/octet-stream", hashlib.sha256(body).hexdigest()[:12]
        )
    return files


def static_url(files: Mapping[str, StaticFile], name: str) -> str:
    """``/static/<name>?v=<content hash>``: a new file version gets a new URL, so assets can be
    cached for a year."""
    found = files.get(name)
    if found is None:
        raise KeyError(f"no static file {name!r}")
    return f"/static/{name}?v={found.digest}"


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(timespec="seconds")


def _short_time(ms: int | None) -> str:
    return formatting.cell("start_time", {"start_time": ms}, short=True)


_SUFFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _short_value(value: Any) -> str:
    """A number to 4 significant digits, large ones with a k/M/G/T suffix (``61.73k``): the
    min/max lines of the metric cards. Anything else as :func:`formatting.fmt_value` writes it.

    >>> [_short_value(v) for v in (0.664477, 61728.3, 1234567.0, 12, 2.5e-7)]
    ['0.6645', '61.73k', '1.235M', '12', '2.5e-07']
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return formatting.fmt_value(value)
    if not math.isfinite(value):
        return formatting.fmt_value(value)
    size = abs(value)
    if 1e4 <= size < 1e15:
        scale, suffix = next((s, x) for s, x in _SUFFIXES if size >= s)
        return f"{value / scale:.4g}{suffix}"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def _tojson(value: Any) -> markupsafe.Markup:
    """JSON for a ``<script type="application/json">`` block: ``<``, ``>``, ``&`` and the
    quote characters escaped as unicode, so no string can end the block."""
    text = dumps(value).decode("utf-8")  # NaN and infinities as the API writes them
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, code)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return markupsafe.Markup(text)  # noqa: S704 - every markup-significant character is escaped


def make_environment(files: Mapping[str, StaticFile]) -> Environment:
    """The Jinja2 environment of the UI: autoescaping on for every template, undefined names
    an error, helpers for times, durations and values."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        fmt_time=formatting.fmt_time,
        fmt_duration=formatting.fmt_duration,
        fmt_value=formatting.fmt_value,
        fmt_short=_short_value,
        iso_time=_iso,
        short_time=_short_time,
        tojson=_tojson,
        pretty_json=lambda value: json.dumps(value, indent=2, ensure_ascii=False, default=str),
    )
    asset_urls = {
        "katex": static_url(files, "vendor/katex/katex.min.js"),
        "katex_css": static_url(files, "vendor/katex/katex.min.css"),
        "katex_auto": static_url(files, "vendor/katex/contrib/auto-render.min.js"),
    }
    env.globals.update(
        asset_urls=asset_urls,
        static=lambda name: static_url(files, name),
        nav_items=NAV_ITEMS,
        known_statuses=KNOWN_STATUSES,
    )
    return env


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    nav: str = "",
) -> HTMLResponse:
    """Render ``template`` with ``context`` plus ``request``, ``nav`` (the active menu entry,
    e.g. ``"runs"``), ``csrf_token``, ``can_write`` and ``signed_in``."""
    env: Environment = request.app.state.ui_env
    values = {
        "request": request,
        "nav": nav,
        "csrf_token": security.csrf_token(request),
        "can_write": security.can_write(request),
        "signed_in": security.signed_in(request),
        **(context or {}),
    }
    html = env.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)


static_router = APIRouter()


@static_router.get(
    "/static/{name:path}", dependencies=[PUBLIC], include_in_schema=False, name="static"
)
def static(request: Request, name: str, v: str | None = None) -> Response:
    """A bundled asset (only the files shipped in the package; nothing else is reachable).
    With the current ``?v=`` hash it may be cached for a year."""
    files: Mapping[str, StaticFile] = request.app.state.ui_static
    found = files.get(name)
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    etag = f'"{found.digest}"'
    headers = {
        "ETag": etag,
        "Cache-Control": LONG_CACHE if v == found.digest else "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.content_type, headers=headers)
