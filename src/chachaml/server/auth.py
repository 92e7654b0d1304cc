"""Bearer-token auth with two scopes, and the permission every route declares.

Routes declare ``dependencies=[READ]``, ``[WRITE]`` or ``[PUBLIC]``; a test walks ``app.routes``
and fails for any route without exactly one of them. With no tokens configured every request is
allowed (the server then binds loopback only unless ``--insecure``).

Browsers authenticate with a session cookie instead of the header: ``/login`` takes a token and
sets :data:`SESSION_COOKIE` (HttpOnly, SameSite=Strict), a signature over the token's hash made
with the app's random secret (``app.state.secret``). The cookie never holds the token, stops
working when the token is removed, and ends with the server process. A request with an
``Authorization`` header is judged by the header alone. The UI's security layer
(``server/ui/security.py``) requires a CSRF token on every cookie-authenticated write.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import Depends
from starlette.requests import Request

from chachaml.server.errors import Forbidden, Unauthorized
from chachaml.server.settings import hash_token

__all__ = [
    "PUBLIC",
    "PUBLIC_PATHS",
    "READ",
    "SESSION_COOKIE",
    "WRITE",
    "iter_routes",
    "route_permission",
    "session_cookie",
    "session_scope",
    "token_scope",
]

#: Framework routes without a dependency list (the OpenAPI schema): readable by anyone. There is
#: no Swagger UI/ReDoc page (they load assets from a CDN).
PUBLIC_PATHS = frozenset({"/api/openapi.json"})


#: The browser's session cookie (see the module docstring).
SESSION_COOKIE = "chachaml_session"


def session_cookie(secret: bytes, hashed: str) -> str:
    """The session cookie value for a token kept as ``hashed`` (``sha256:<hex>``)."""
    digest = hashed.removeprefix("sha256:")
    sig = hmac.new(secret, b"session|" + digest.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{digest}.{sig}"


def session_scope(request: Request) -> str | None:
    """The scope of the request's session cookie: ``"read"``/``"write"``, or None when there is
    no cookie, its signature is wrong (another server, an old process) or its token is gone."""
    raw = request.cookies.get(SESSION_COOKIE)
    secret: bytes | None = getattr(request.app.state, "secret", None)
    if not raw or secret is None or len(raw) > 200 or not raw.isascii():
        return None
    digest, _, _ = raw.partition(".")
    if not hmac.compare_digest(session_cookie(secret, "sha256:" + digest), raw):
        return None
    tokens: dict[str, str] = request.app.state.settings.tokens
    return tokens.get("sha256:" + digest)


def token_scope(request: Request) -> str | None:
    """``"read"``/``"write"`` for the request's credentials (``"write"`` when the server has no
    tokens), None when it has none that are valid."""
    try:
        return _scope_of(request)
    except Unauthorized:
        return None


def _scope_of(request: Request) -> str | None:
    tokens: dict[str, str] = request.app.state.settings.tokens
    if not tokens:
        return "write"
    header = request.headers.get("authorization")
    if header is None:
        scope = session_scope(request)
        if scope is not None:
            return scope
        header = ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("this server needs a bearer token: Authorization: Bearer <token>")
    scope = tokens.get(hash_token(token.strip()))
    if scope is None:
        raise Unauthorized("the bearer token is not valid for this server")
    return scope


def require_public() -> None:
    """No check (health, schema)."""


def require_read(request: Request) -> None:
    _scope_of(request)


def require_write(request: Request) -> None:
    if _scope_of(request) != "write":
        raise Forbidden("this token is read-only; writing needs a read-write token")


PUBLIC: Any = Depends(require_public)
READ: Any = Depends(require_read)
WRITE: Any = Depends(require_write)

_NAMES = {require_public: "public", require_read: "read", require_write: "write"}


def route_permission(route: Any) -> str | None:
    """``"public"``/``"read"``/``"write"`` for a route declaring exactly one, else None."""
    found = [
        _NAMES[dep.dependency]
        for dep in getattr(route, "dependencies", ())
        if getattr(dep, "dependency", None) in _NAMES
    ]
    return found[0] if len(found) == 1 else None


def iter_routes(routes: Any) -> Any:
    """Every route of an app, expanding included routers (newer FastAPI keeps them nested)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from iter_routes(inner.routes)
        else:
            yield route
