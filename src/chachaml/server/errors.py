"""Exception handlers: every error leaves the server as ``{"error": {"code", "message"}}``.

``ChachamlError`` subclasses map to their own ``http_status``; request validation errors to 422;
HTTP errors raised by the framework (404 for unknown routes, 405, ...) keep their status; anything
unexpected is logged and becomes a JSON 500 (never an HTML page or a bare text body).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from chachaml.errors import ChachamlError
from chachaml.server.encoding import dumps

__all__ = ["BodyTooLarge", "Unauthorized", "install_handlers", "error_response"]

_log = logging.getLogger("chachaml.server")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
}


class BodyTooLarge(ChachamlError):
    """The request body is over the configured cap."""

    code = "too_large"
    exit_code = 2
    http_status = 413


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


def error_response(status: int, code: str, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = dumps({"error": {"code": code, "message": message}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


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
        return error_response(exc.http_status, exc.code, exc.message)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, "invalid_input", _describe_validation(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = _HTTP_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail))

    async def unexpected(request: Request, exc: Exception) -> Response:
        _log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal server error (logged on the server)")

    handlers: dict[Any, Any] = {
        ChachamlError: chachaml_error,
        RequestValidationError: validation_error,
        HTTPException: http_error,
        Exception: unexpected,
    }
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, handler)
