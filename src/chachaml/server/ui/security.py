"""Browser-facing security of the server app: response headers, CSRF tokens, cross-site write
refusal and the form reader of UI routes.

- Every response gets ``X-Content-Type-Options: nosniff``; HTML responses also a strict
  Content-Security-Policy (no inline script or style, nothing from another origin), a
  same-origin referrer policy and ``X-Frame-Options: DENY``. A header a route set itself (the
  sandbox policy of artifact downloads) is kept.
- **Cross-site writes are refused** before any route runs: a POST/PUT/PATCH/DELETE whose
  ``Sec-Fetch-Site`` is ``cross-site``/``same-site`` (or, from browsers that do not send it,
  whose ``Origin`` is not this server) gets 403. Non-browser clients send neither header.
- **CSRF** (signed double submit): a random nonce lives in the ``chachaml_csrf`` cookie
  (HttpOnly, SameSite=Strict); the token in forms and in the ``X-CSRF-Token`` header is an HMAC
  of that nonce and the session cookie under the app's random secret. Every state-changing UI
  form is checked (:func:`checked_form`), and so is every JSON API write authenticated by the
  session cookie instead of a bearer header.

>>> from chachaml.server.ui.security import CSP
>>> "script-src 'self'" in CSP and "unsafe-inline" not in CSP
True
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import Depends, FastAPI
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chachaml.errors import InvalidInput
from chachaml.server.auth import SESSION_COOKIE, session_scope, token_scope
from chachaml.server.errors import Forbidden, error_response

__all__ = [
    "CSP",
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "CheckedForm",
    "CsrfFailed",
    "SecurityHeaders",
    "can_write",
    "check_csrf",
    "checked_form",
    "csrf_token",
    "install_security",
    "is_page_path",
    "safe_next",
    "signed_in",
]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_HTML_HEADERS = (
    ("content-security-policy", CSP),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
)
CSRF_COOKIE = "chachaml_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM_FIELDS = 200
_NONCE = re.compile(r"[0-9a-f]{32}")
_STATE_KEY = "csrf_nonce"


class CsrfFailed(Forbidden):
    """A state-changing request without a valid CSRF token (or from another site)."""

    code = "csrf_failed"


def is_page_path(path: str) -> bool:
    """True for browser routes (HTML answers), False for the JSON API, health and MCP."""
    return not (
        path == "/api"
        or path.startswith(("/api/", "/mcp"))
        or path in ("/healthz", "/api/openapi.json")
    )


def install_security(app: FastAPI) -> None:
    """Give ``app`` its random secret (CSRF tokens, session cookies) and the header/CSRF
    middleware. Call it after every other ``add_middleware``: it must wrap them all, so that
    their early answers (413, 415, ...) get the headers too."""
    app.state.secret = secrets.token_bytes(32)
    app.add_middleware(SecurityHeaders)


def _sign(secret: bytes, nonce: str, session: str) -> str:
    msg = f"csrf|{nonce}|{session}".encode("utf-8", "replace")
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def _token_ok(secret: bytes | None, cookies: dict[str, str], token: str | None) -> bool:
    nonce = cookies.get(CSRF_COOKIE, "")
    if secret is None or not token or not _NONCE.fullmatch(nonce) or len(token) > 200:
        return False
    expected = _sign(secret, nonce, cookies.get(SESSION_COOKIE, ""))
    return hmac.compare_digest(expected.encode(), token.encode("utf-8", "replace"))


def _cross_site(headers: Any) -> bool:
    """True when a browser says the request comes from another site."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return str(site).lower() in ("cross-site", "same-site")
    origin = headers.get("origin")
    if origin is None:
        return False  # not a browser (or a very old one): nothing to judge by
    try:
        netloc = urlsplit(origin).netloc.lower()
    except ValueError:
        return True
    return not netloc or netloc != str(headers.get("host", "")).lower()


def _cookie_authenticated(conn: HTTPConnection) -> bool:
    """Whether auth will judge this request by its session cookie (see ``auth._scope_of``)."""
    settings = conn.app.state.settings
    return (
        bool(settings.tokens)
        and "authorization" not in conn.headers
        and SESSION_COOKIE in conn.cookies
    )


class SecurityHeaders:
    """ASGI middleware: refuses cross-site writes and cookie-authenticated API writes without a
    CSRF header, keeps a CSRF nonce per browser and adds the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        unsafe = scope["method"] not in SAFE_METHODS
        page = is_page_path(scope["path"])
        refusal: str | None = None
        if unsafe and _cross_site(conn.headers):
            refusal = "cross-site requests may not change anything on this server"
        elif (
            unsafe
            and not page
            and _cookie_authenticated(conn)
            and not _token_ok(
                getattr(conn.app.state, "secret", None),
                conn.cookies,
                conn.headers.get(CSRF_HEADER),
            )
        ):
            refusal = (
                "a write authenticated by the session cookie needs the page's X-CSRF-Token "
                "header (or use Authorization: Bearer <token>)"
            )
        nonce = conn.cookies.get(CSRF_COOKIE, "")
        fresh = page and not _NONCE.fullmatch(nonce)
        if fresh:
            nonce = secrets.token_hex(16)
        scope.setdefault("state", {})[_STATE_KEY] = nonce
        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                if headers.get("content-type", "").startswith("text/html"):
                    for name, value in _HTML_HEADERS:
                        headers.setdefault(name, value)
                    if fresh:
                        headers.append("set-cookie", _nonce_cookie(nonce, secure))
            await send(message)

        if refusal is not None:
            answer = error_response(403, CsrfFailed.code, refusal)
            await answer(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def _nonce_cookie(nonce: str, secure: bool) -> str:
    return f"{CSRF_COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Strict" + (
        "; Secure" if secure else ""
    )


def csrf_token(request: Request) -> str:
    """The CSRF token for forms and ``X-CSRF-Token`` headers of this browser."""
    secret: bytes = request.app.state.secret
    nonce = request.scope.get("state", {}).get(_STATE_KEY) or request.cookies.get(CSRF_COOKIE, "")
    return _sign(secret, nonce, request.cookies.get(SESSION_COOKIE, ""))


def check_csrf(request: Request, form_token: str | None) -> None:
    """Raise :class:`CsrfFailed` (403) unless ``form_token`` (or the ``X-CSRF-Token`` header)
    is this browser's CSRF token."""
    secret: bytes | None = getattr(request.app.state, "secret", None)
    cookies = dict(request.cookies)
    if _token_ok(secret, cookies, form_token) or _token_ok(
        secret, cookies, request.headers.get(CSRF_HEADER)
    ):
        return
    raise CsrfFailed(
        "the form's security token is missing or out of date (was the server restarted?); "
        "reload the page and try again"
    )


def can_write(request: Request) -> bool:
    """Whether this request may change data (no tokens configured, or a read-write token)."""
    return token_scope(request) == "write"


def signed_in(request: Request) -> bool:
    """Whether the browser has a valid session cookie (a page may then offer to sign out)."""
    return session_scope(request) is not None


async def checked_form(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form POST, after the CSRF check (the dependency of every
    state-changing UI route). A repeated field keeps its last value."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await request.body()
    if body and ctype != "application/x-www-form-urlencoded":
        raise InvalidInput("this form takes application/x-www-form-urlencoded bodies")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=False,
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"the form body is not valid URL-encoded UTF-8 ({exc})") from exc
    fields = dict(pairs)
    check_csrf(request, fields.pop(CSRF_FIELD, None))
    return fields


#: Route parameter type of a form POST: ``form: CheckedForm``.
CheckedForm = Annotated[dict[str, str], Depends(checked_form)]


def safe_next(value: str | None, default: str = "/runs") -> str:
    """A local path to go to after a form (never another site: ``//host``, ``/\\host`` and
    absolute URLs fall back to ``default``)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(c in value for c in "\\\r\n\t\x00") or len(value) > 2000:
        return default
    return value
