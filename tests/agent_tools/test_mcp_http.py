"""The MCP server as streamable HTTP at ``/mcp`` on ``chachaml server``, behind its tokens: a
read token sees and calls only the read tools, a write token every tool; no token or a bad one
is refused, and so is a Host name the server does not serve."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from agent_store import Populated
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_cases import READ_CASES, WRITE_CASES

from chachaml import tools
from chachaml.server.settings import Settings, parse_tokens
from chachaml.server.testing import LiveServer

READ_TOKEN = "mcp-read-token-1"
WRITE_TOKEN = "mcp-write-token-2"


@pytest.fixture(scope="module")
def live(backend: Populated) -> Iterator[LiveServer]:
    settings = Settings(tokens=parse_tokens(f"{READ_TOKEN}:read,{WRITE_TOKEN}:write"))
    with LiveServer.start(settings, store=backend.store) as server:
        yield server


def _run(url: str, token: str, body: Any) -> Any:
    async def main() -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            return await body(client)

    return anyio.run(main)


def test_a_read_token_gets_the_read_tools_only(live: LiveServer, backend: Populated) -> None:
    async def body(client: Client) -> list[str]:
        listed = await client.list_tools()
        assert [t.name for t in listed.tools] == [t.name for t in tools.TOOLS if not t.write]
        failures = []
        for label, case in READ_CASES:
            result = await client.call_tool(case.tool, case.args(backend.ids))
            try:
                assert not result.is_error, result.content
                case.check(result.structured_content, backend.ids, backend.store)
            except AssertionError as exc:
                failures.append(f"{label}: {exc}")
        for _, case in WRITE_CASES:
            refused = await client.call_tool(case.tool, case.args(backend.ids))
            assert refused.is_error and "read-only" in refused.content[0].text
        return failures

    assert _run(f"{live.url}/mcp", READ_TOKEN, body) == []
    assert "verdict" not in backend.store.meta.get_tags(backend.ids["r2"])


def test_a_write_token_gets_every_tool(live: LiveServer, backend: Populated) -> None:
    async def body(client: Client) -> None:
        listed = await client.list_tools()
        assert [t.name for t in listed.tools] == [t.name for t in tools.TOOLS]
        for _, case in WRITE_CASES:
            result = await client.call_tool(case.tool, case.args(backend.ids))
            assert not result.is_error, result.content
            case.check(result.structured_content, backend.ids, backend.store)
        bad = await client.call_tool("get_run", {"run_id": "0" * 32})
        assert bad.is_error and "does not exist" in bad.content[0].text

    _run(f"{live.url}/mcp", WRITE_TOKEN, body)


def _post(url: str, token: str | None, host: str | None = None, body: Any = None) -> httpx.Response:
    """POST one JSON-RPC message (default: initialize) to ``url``/mcp."""
    headers = {"Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if host is not None:
        headers["Host"] = host
    message = body or {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    return httpx.post(f"{url}/mcp", json=message, headers=headers)


def test_no_token_a_bad_token_or_a_foreign_host_is_refused(live: LiveServer) -> None:
    assert _post(live.url, None).status_code == 401
    assert _post(live.url, "not-a-valid-token").status_code == 401
    foreign = _post(live.url, READ_TOKEN, host="evil.example")
    assert foreign.status_code == 400 and foreign.json()["error"]["code"] == "bad_host"
    ok = _post(live.url, READ_TOKEN)
    assert ok.status_code == 200 and ok.json()["result"]["serverInfo"]["name"] == "chachaml"


def test_malformed_requests_are_refused_and_the_endpoint_keeps_serving(live: LiveServer) -> None:
    broken = httpx.post(
        f"{live.url}/mcp",
        content=b'{"jsonrpc": "2.0", "id": 1, "method":',
        headers={
            "Authorization": f"Bearer {READ_TOKEN}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
    )
    assert 400 <= broken.status_code < 500
    assert _post(live.url, READ_TOKEN, body={"jsonrpc": "2.0", "id": 2}).status_code >= 400
    huge = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "search_runs", "arguments": {"filter": "x" * 1_000_000}},
    }
    answer = _post(live.url, READ_TOKEN, body=huge)
    assert answer.status_code == 200 and answer.json()["result"]["isError"] is True
    assert _post(live.url, READ_TOKEN).status_code == 200


def test_get_is_405_at_once_instead_of_an_event_stream_held_open(live: LiveServer) -> None:
    """Stateless: no server-sent messages exist, so a GET used to hang on an empty stream."""
    headers = {"Authorization": f"Bearer {READ_TOKEN}", "Accept": "text/event-stream"}
    answer = httpx.get(f"{live.url}/mcp", headers=headers, timeout=10)
    assert answer.status_code == 405 and "POST" in answer.headers["allow"]
    assert answer.json()["error"]["code"] == "method_not_allowed"
    assert httpx.get(f"{live.url}/mcp", timeout=10).status_code == 401  # tokens still first
    assert _post(live.url, READ_TOKEN).status_code == 200
