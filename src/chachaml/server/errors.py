"""Exception handlers: every error leaves the server as ``{"error": {"code", "message"}}``.

``ChachamlError`` subclasses map to their own ``http_status``; request validation errors to 422;
HTTP errors raised by the framework (404 for unknown routes, 405, ...) keep their status; anything
unexpected is logged with a request id and becomes a JSON 500 that says only "internal error" and
that id (never an HTML page, a traceback or a bare text body).

Messages never reveal where the server keeps its data: the store URL, the artifact location and
the directories they live in are replaced by ``<store>``/``<artifacts>``/``<server>`` (see
:class:`Redactor`).
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from chachaml.errors import ChachamlError
from chachaml.server.encoding import dumps

__all__ = [
    "BodyTimeout",
    "BodyTooLarge",
    "Redactor",
    "ServerBusy",
    "Unauthorized",
    "error_response",
    "install_handlers",
]

_log = logging.getLogger("chachaml.server")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    408: "timeout",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
}


class BodyTooLarge(ChachamlError):
    """The request body is over the configured cap."""

    code = "too_large"
    exit_code = 2
    http_status = 413


class BodyTimeout(ChachamlError):
    """The client sent nothing of its request body for ``Settings.body_timeout`` seconds."""

    code = "timeout"
    exit_code = 2
    http_status = 408


class ServerBusy(ChachamlError):
    """Too many large request bodies are being processed; retry later."""

    code = "busy"
    exit_code = 3
    http_status = 503


class UnsupportedMediaType(ChachamlError):
    code = "unsupported_media_type"
    exit_code = 2
    http_status = 415


class Unauthorized(ChachamlError):
    """No valid bearer token (401) or a token without the needed scope (403)."""

    code = "unauthorized"
    exit_code = 2
    http_status = 401


class Forbidden(ChachamlError):
    code = "forbidden"
    exit_code = 2
    http_status = 403


def error_response(status: int, code: str, message: str, *, close: bool = False) -> Response:
    """The JSON error response. ``close`` adds ``Connection: close`` (for answers sent before
    the request body was read: the connection cannot be reused)."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    headers["X-Content-Type-Options"] = "nosniff"  # also on answers no middleware sees (500)
    if close:
        headers["Connection"] = "close"
    body = dumps({"error": {"code": code, "message": message}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


class Redactor:
    """Replaces the server's own locations in error messages: the store URL (which may carry a
    password), the artifact location, their directories, the working directory, the home
    directory and the Python installation (paths of tracebacks)."""

    def __init__(self, stores: dict[str, list[str | None]]) -> None:
        pairs: dict[str, str] = {}
        for label, values in stores.items():
            for value in values:
                for form in _forms(value):
                    pairs.setdefault(form, label)
        for label, path in (
            ("<python>", sys.prefix),
            ("<python>", sys.base_prefix),
            ("<python>", os.path.dirname(os.path.dirname(__file__))),
            ("<server>", os.getcwd()),
            ("<server>", os.path.expanduser("~")),
        ):
            for form in _forms(path):
                pairs.setdefault(form, label)
        # Longest first, so that a file is replaced before the directory holding it.
        self._pairs = sorted(
            ((k, v) for k, v in pairs.items() if len(k) > 1), key=lambda kv: -len(kv[0])
        )

    def __call__(self, message: str) -> str:
        for secret, label in self._pairs:
            if secret in message:
                message = message.replace(secret, label)
        return message


def _forms(value: str | None) -> list[str]:
    """The spellings a location may appear under in a message: as given, without a
    ``file://``/``sqlite:///`` scheme, absolute and resolved."""
    if not value or value in (":memory:", "sqlite:///:memory:"):
        return []
    out = [value]
    path = value
    for prefix in ("sqlite:///", "file://"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
    if "://" not in path:
        out += [path, os.path.abspath(path), os.path.realpath(path)]
        out += [os.path.dirname(os.path.abspath(path)), os.path.dirname(os.path.realpath(path))]
    return [p for p in out if p and p not in ("/", os.sep)]


def _redact(request: Request, message: str) -> str:
    redactor: Redactor | None = getattr(request.app.state, "redact", None)
    return message if redactor is None else redactor(message)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    async def chachaml_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ChachamlError)
        close = isinstance(exc, (BodyTooLarge, BodyTimeout))
        return error_response(exc.http_status, exc.code, _redact(request, exc.message), close=close)

    async def client_gone(request: Request, exc: Exception) -> Response:
        # The client went away mid-body: one line, no traceback (the answer reaches no one).
        _log.warning(
            "client disconnected during %s %s; nothing stored", request.method, request.url.path
        )
        return error_response(400, "bad_request", "the client disconnected", close=True)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, "invalid_input", _describe_validation(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = _HTTP_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, _redact(request, str(exc.detail)))

    async def unexpected(request: Request, exc: Exception) -> Response:
        request_id = uuid.uuid4().hex[:16]
        _log.error(
            "internal error (request id %s) on %s %s",
            request_id,
            request.method,
            request.url.path,
            exc_info=exc,
        )
        return error_response(500, "internal", f"internal error (request id {request_id})")

    handlers: dict[Any, Any] = {
        ChachamlError: chachaml_error,
        RequestValidationError: validation_error,
        HTTPException: http_error,
        ClientDisconnect: client_gone,
        Exception: unexpected,
    }
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, _page_aware(handler))


def _page_aware(handler: Any) -> Any:
    """``handler``, whose JSON answer ``app.state.error_page(request, response)`` (set by the web
    UI) may turn into an HTML page for browser routes; the API's answers stay as they are."""

    async def handle(request: Request, exc: Exception) -> Response:
        response: Response = await handler(request, exc)
        page = getattr(request.app.state, "error_page", None)
        if page is None:
            return response
        try:
            return page(request, response)  # type: ignore[no-any-return]
        except Exception:  # an error page must not hide the error
            _log.exception("rendering the error page of %s failed", request.url.path)
            return response

    return handle
