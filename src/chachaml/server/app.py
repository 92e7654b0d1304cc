"""The app factory: ``create_app(settings)`` builds a FastAPI app whose state (store, settings,
idempotency cache) lives on ``app.state``; nothing is global.

>>> from chachaml.server.app import create_app
>>> from chachaml.server.settings import Settings
>>> app = create_app(Settings(store_url="sqlite:///:memory:"))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import chachaml
from chachaml.server import (
    api_alerts,
    api_blobs,
    api_chat,
    api_pipelines,
    api_read,
    api_write,
    mcp_http,
)
from chachaml.server.bodies import Budget, json_problem, receive_with_timeout
from chachaml.server.deps import IdempotencyCache
from chachaml.server.errors import (
    BodyTimeout,
    BodyTooLarge,
    Redactor,
    ServerBusy,
    error_response,
    install_handlers,
)
from chachaml.server.settings import Settings, host_name
from chachaml.server.ui.install import install_ui
from chachaml.server.ui.security import install_security, is_page_path
from chachaml.store import Store, open_store

__all__ = ["create_app"]

_JSON_TYPES = ("application/json",)
_FORM_TYPE = "application/x-www-form-urlencoded"  # the web UI's forms (pages only)
_BODYLESS = ("GET", "HEAD", "OPTIONS")


def _is_upload(scope: Scope) -> bool:
    path: str = scope["path"]
    return scope["method"] == "PUT" and (
        "/artifacts/" in path or path.startswith("/api/store/blobs/")
    )


def _host_of(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"host":
            return str(value.decode("latin-1"))
    return None


class _Limits:
    """Before the app sees a request: refuses ``Host`` names not served (400, DNS rebinding),
    oversize bodies (413), non-JSON bodies on JSON routes (415) and bodies that stall (408).
    A JSON body is read here whole, within the app's in-memory body :class:`~.bodies.Budget`,
    and refused (422) when nested too deep or holding NUL or lone surrogates; uploads get the
    artifact cap, any content type, and stream on to their route."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.any_host = "*" in settings.allowed_hosts
        self.hosts = settings.allowed_hosts
        self.budget = Budget(settings.max_inflight_body_bytes)

    def _host_ok(self, scope: Scope) -> bool:
        host = _host_of(scope)
        if host is None:
            return False
        if host in self.hosts:  # the common case, exactly as sent
            return True
        return host_name(host) in self.hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if not self.any_host and not self._host_ok(scope):
            if scope["type"] == "http":
                await error_response(
                    400,
                    "bad_host",
                    "this server does not serve that Host name (start it with --allowed-host "
                    "NAME to add one)",
                    close=True,
                )(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http" or scope["method"] in _BODYLESS:
            await self.app(scope, receive, send)
            return
        upload = _is_upload(scope)
        cap = self.settings.max_artifact_bytes if upload else self.settings.max_body_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await error_response(400, "bad_request", "invalid Content-Length", close=True)(
                    scope, receive, send
                )
                return
            if int(length) > cap:
                await error_response(
                    413, "too_large", f"request body is over {cap} bytes", close=True
                )(scope, receive, send)
                return
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        has_body = length not in (None, "0") or "transfer-encoding" in headers
        form = ctype == _FORM_TYPE and is_page_path(scope["path"])
        if not upload and not form and has_body and ctype not in _JSON_TYPES:
            await error_response(
                415,
                "unsupported_media_type",
                "request bodies must be application/json",
                close=True,
            )(scope, receive, send)
            return
        if upload:
            await self.app(scope, self._limited(receive, cap), send)
        elif has_body:
            await self._json(
                scope,
                receive,
                send,
                cap,
                None if length is None else int(length),
                keyed="idempotency-key" in headers,
                form=form,
            )
        else:
            await self.app(scope, receive, send)

    def _limited(self, receive: Receive, cap: int) -> Receive:
        """``receive`` with the stall timeout and the cap (for streamed uploads)."""
        timeout = self.settings.body_timeout
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive_with_timeout(receive, timeout)
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLarge(f"request body is over {cap} bytes")
            return message

        return limited

    async def _json(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        cap: int,
        length: int | None,
        *,
        keyed: bool,
        form: bool = False,
    ) -> None:
        """Read a JSON body (or a UI form) whole (within the budget), check it, then hand it to
        the app."""
        try:
            reserved = await self.budget.acquire(
                cap if length is None else length, self.settings.body_timeout
            )
        except ServerBusy as exc:
            await error_response(503, exc.code, exc.message, close=True)(scope, receive, send)
            return
        try:
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                try:
                    message = await receive_with_timeout(receive, self.settings.body_timeout)
                except BodyTimeout as exc:
                    await error_response(408, exc.code, exc.message, close=True)(
                        scope, receive, send
                    )
                    return
                if message["type"] == "http.disconnect":
                    return  # nobody to answer; nothing was done
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > cap:
                    await error_response(
                        413, "too_large", f"request body is over {cap} bytes", close=True
                    )(scope, receive, send)
                    return
                if chunk:
                    chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
            del chunks
            problem = None if form else json_problem(body)
            if problem is not None:
                await error_response(422, "invalid_input", problem)(scope, receive, send)
                return
            if keyed:
                # What a retry is compared with: the exact bytes (hashing them costs far less
                # than re-serialising a large metric batch).
                scope.setdefault("state", {})["body_sha256"] = hashlib.sha256(body).hexdigest()
            delivered = False

            async def replay() -> Message:
                nonlocal delivered
                if not delivered:
                    delivered = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
        finally:
            self.budget.release(reserved)


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
        # No Swagger UI/ReDoc pages: they load scripts from a CDN (the server makes and causes
        # no requests to other origins); the schema stays at /api/openapi.json.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
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
    app.state.idempotency = IdempotencyCache(
        settings.idempotency_keys, settings.idempotency_ttl_seconds
    )
    st: Store = app.state.store
    app.state.redact = Redactor(
        {
            "<store>": [settings.store_url, st.url],
            "<artifacts>": [settings.artifacts_url, st.artifacts_url],
        }
    )
    install_handlers(app)
    app.include_router(api_read.router)
    app.include_router(api_write.router)
    app.include_router(api_blobs.router)
    app.include_router(api_pipelines.router)
    app.include_router(api_alerts.router)
    app.include_router(api_chat.router)
    install_ui(app)
    app.include_router(mcp_http.router)
    app.add_middleware(_Limits, settings=settings)
    install_security(app)  # last: its headers go on every answer, early refusals too
    return app


def server_info(app: Any) -> dict[str, Any]:
    """What the app serves (for the CLI banner)."""
    st: Store = app.state.store
    return {"store": st.url, "artifacts": st.artifacts_url}
