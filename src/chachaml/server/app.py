"""The app factory: ``create_app(settings)`` builds a FastAPI app whose state (store, settings,
idempotency cache) lives on ``app.state``; nothing is global.

>>> from chachaml.server.app import create_app
>>> from chachaml.server.settings import Settings
>>> app = create_app(Settings(store_url="sqlite:///:memory:"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import chachaml
from chachaml.server import api_blobs, api_read, api_write
from chachaml.server.deps import IdempotencyCache
from chachaml.server.errors import error_response, install_handlers
from chachaml.server.settings import Settings
from chachaml.store import Store, open_store

__all__ = ["create_app"]

_JSON_TYPES = ("application/json",)


def _is_upload(scope: Scope) -> bool:
    path: str = scope["path"]
    return scope["method"] == "PUT" and (
        "/artifacts/" in path or path.startswith("/api/store/blobs/")
    )


class _Limits:
    """Refuses oversize bodies (413) and non-JSON bodies on JSON routes (415), before the app
    parses anything. Uploads get the artifact cap and any content type."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        upload = _is_upload(scope)
        cap = self.settings.max_artifact_bytes if upload else self.settings.max_body_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await error_response(400, "bad_request", "invalid Content-Length")(
                    scope, receive, send
                )
                return
            if int(length) > cap:
                await error_response(413, "too_large", f"request body is over {cap} bytes")(
                    scope, receive, send
                )
                return
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        has_body = length not in (None, "0") or "transfer-encoding" in headers
        if not upload and has_body and ctype not in _JSON_TYPES:
            await error_response(
                415, "unsupported_media_type", "request bodies must be application/json"
            )(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    from chachaml.server.errors import BodyTooLarge

                    raise BodyTooLarge(f"request body is over {cap} bytes")
            return message

        await self.app(scope, limited, send)


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    """Build the server app. ``store`` (optional) is used instead of opening
    ``settings.store_url``; the caller then owns (closes) it."""
    settings = settings or Settings.from_env()
    owned = store is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned:
                app.state.store.close()

    app = FastAPI(
        title="chachaml",
        version=chachaml.__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url="/api/docs/oauth2-redirect",
        lifespan=lifespan,
        description=(
            "JSON read/write API of a chachaml store. Errors are "
            '`{"error": {"code", "message"}}`; see docs/http-api.md.'
        ),
    )
    app.state.settings = settings
    app.state.store = (
        store if store is not None else open_store(settings.store_url, settings.artifacts_url)
    )
    app.state.idempotency = IdempotencyCache(settings.idempotency_keys)
    install_handlers(app)
    app.include_router(api_read.router)
    app.include_router(api_write.router)
    app.include_router(api_blobs.router)
    app.add_middleware(_Limits, settings=settings)
    return app


def server_info(app: Any) -> dict[str, Any]:
    """What the app serves (for the CLI banner)."""
    st: Store = app.state.store
    return {"store": st.url, "artifacts": st.artifacts_url}
