"""Bearer-token auth with two scopes, and the permission every route declares.

Routes declare ``dependencies=[READ]``, ``[WRITE]`` or ``[PUBLIC]``; a test walks ``app.routes``
and fails for any route without exactly one of them. With no tokens configured every request is
allowed (the server then binds loopback only unless ``--insecure``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from starlette.requests import Request

from chachaml.server.errors import Forbidden, Unauthorized
from chachaml.server.settings import hash_token

__all__ = ["PUBLIC", "PUBLIC_PATHS", "READ", "WRITE", "iter_routes", "route_permission"]

#: Framework routes without a dependency list (the OpenAPI schema): readable by anyone. There is
#: no Swagger UI/ReDoc page (they load assets from a CDN).
PUBLIC_PATHS = frozenset({"/api/openapi.json"})


def _scope_of(request: Request) -> str | None:
    tokens: dict[str, str] = request.app.state.settings.tokens
    if not tokens:
        return "write"
    header = request.headers.get("authorization", "")
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
