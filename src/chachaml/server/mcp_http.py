"""The MCP server at ``/mcp`` as streamable HTTP (stateless, JSON responses), behind the
server's bearer tokens (the ``Authorization`` header; the web UI's session cookie is not
accepted here): a read-only token gets the read tools only, a read-write token (or a server
without tokens) every tool. The route sits behind the app's Host allow-list and body
limits like every other route; the MCP SDK is imported on the first request, so the server
runs without it (``/mcp`` then answers 501). GET answers 405: a stateless server has no
stream of its own to offer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from chachaml.server.auth import READ, token_scope
from chachaml.server.errors import Unauthorized, error_response

__all__ = ["PATH", "router"]

PATH = "/mcp"

router = APIRouter()


class _Delegate(Response):
    """A response that hands the request, unread, to the MCP SDK's ASGI handling."""

    def __init__(self, server: Any) -> None:
        super().__init__()
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

        # Stateless: a fresh transport per request, so nothing outlives it (no app lifespan
        # hook, no session table to grow).
        manager = StreamableHTTPSessionManager(app=self.server, json_response=True, stateless=True)
        async with manager.run():
            await manager.handle_request(scope, receive, send)


def _server(request: Request, allow_writes: bool) -> Any:
    servers: dict[bool, Any] | None = getattr(request.app.state, "mcp_servers", None)
    if servers is None:
        servers = request.app.state.mcp_servers = {}
    if allow_writes not in servers:
        from chachaml import mcp_server

        servers[allow_writes] = mcp_server.build_server(
            request.app.state.store, allow_writes=allow_writes
        )
    return servers[allow_writes]


@router.api_route(
    PATH, methods=["GET", "POST", "DELETE"], dependencies=[READ], include_in_schema=False
)
async def mcp_endpoint(request: Request) -> Response:
    """MCP over streamable HTTP; the tools offered depend on the token's scope."""
    if request.app.state.settings.tokens and "authorization" not in request.headers:
        # MCP clients send a bearer token; a browser's session cookie is not accepted here.
        raise Unauthorized("/mcp needs a bearer token: Authorization: Bearer <token>")
    if request.method == "GET":
        # A stateless server never sends a message of its own: the SDK would hold a GET's
        # event stream open for good (one idle connection and task per GET). The MCP spec's
        # answer for a server without that stream is 405.
        response = error_response(
            405, "method_not_allowed", "this MCP endpoint is stateless: send requests by POST"
        )
        response.headers["Allow"] = "POST, DELETE"
        return response
    allow_writes = token_scope(request) == "write"
    try:
        server = _server(request, allow_writes)
    except ImportError:
        return error_response(
            501, "not_available", "the MCP endpoint needs the MCP SDK: pip install 'chachaml[mcp]'"
        )
    return _Delegate(server)
