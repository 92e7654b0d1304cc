"""``chachaml mcp`` over stdio with the MCP SDK's own client, on SQLite, PostgreSQL and the
remote store: every tool gives the Python API's answer, bad calls are tool errors, raw garbage
on stdin does not stop the server, and ``--read-only`` hides and refuses the write tools."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import anyio
from agent_store import Populated, child_env, server_command
from mcp import Client, StdioServerParameters
from mcp_cases import READ_CASES, WRITE_CASES

import chachaml as ml
from chachaml import tools

ALL_TOOLS = [t.name for t in tools.TOOLS]
READ_TOOLS = [t.name for t in tools.TOOLS if not t.write]


def _params(backend: Populated, *extra: str) -> StdioServerParameters:
    command = server_command(backend.url, *extra)
    return StdioServerParameters(command=command[0], args=command[1:], env=child_env(backend.env))


def test_every_tool_over_stdio_equals_the_python_api(backend: Populated) -> None:
    failures: list[str] = []

    async def main() -> None:
        async with Client(_params(backend), read_timeout_seconds=60) as client:
            listed = await client.list_tools()
            assert [t.name for t in listed.tools] == ALL_TOOLS
            by_name = {t.name: t for t in listed.tools}
            assert by_name["search_runs"].input_schema["properties"]["status"]["enum"][0] == (
                "running"
            )
            assert by_name["add_tag"].annotations.read_only_hint is False
            assert by_name["get_run"].annotations.read_only_hint is True
            for label, case in READ_CASES + WRITE_CASES:
                result = await client.call_tool(case.tool, case.args(backend.ids))
                try:
                    assert not result.is_error, result.content
                    structured = result.structured_content
                    case.check(structured, backend.ids, backend.store)
                    assert result.content[0].text == tools.render_text(case.tool, structured)
                except AssertionError as exc:
                    failures.append(f"{label}: {exc}")

    anyio.run(main)
    assert failures == []


def test_resources_list_and_read_runs_and_models(backend: Populated) -> None:
    async def main() -> None:
        async with Client(_params(backend, "--read-only"), read_timeout_seconds=60) as client:
            found = await client.list_resources()
            uris = [str(r.uri) for r in found.resources]
            assert f"chachaml://runs/{backend.ids['r1']}" in uris
            assert "chachaml://models/churn" in uris
            read = await client.read_resource(f"chachaml://runs/{backend.ids['r1']}")
            body = json.loads(read.contents[0].text)
            assert body["params"]["model"] == "gbm" and body["id"] == backend.ids["r1"]

    anyio.run(main)


def test_read_only_server_hides_and_refuses_write_tools(backend: Populated) -> None:
    async def main() -> None:
        async with Client(_params(backend, "--read-only"), read_timeout_seconds=60) as client:
            listed = await client.list_tools()
            assert [t.name for t in listed.tools] == READ_TOOLS
            result = await client.call_tool(
                "add_tag", {"run_id": backend.ids["r0"], "key": "x", "value": "y"}
            )
            assert result.is_error and "read-only" in result.content[0].text
            assert "x" not in backend.store.meta.get_tags(backend.ids["r0"])

    anyio.run(main)


class RawServer:
    """The server as a subprocess spoken to in raw JSON-RPC lines."""

    def __init__(self, backend: Populated) -> None:
        self.proc = subprocess.Popen(
            server_command(backend.url),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=child_env(backend.env),
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def send(self, raw: str | bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(raw if isinstance(raw, bytes) else raw.encode())
        self.proc.stdin.write(b"\n")
        self.proc.stdin.flush()

    def request(self, id_: int, method: str, params: dict[str, Any]) -> None:
        self.send(json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}))

    def response(self, id_: int, timeout: float = 30) -> dict[str, Any]:
        """The response with id ``id_`` (other messages read on the way are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no response {id_} in time (server alive: {self.alive})"
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            message = json.loads(line)
            if message.get("id") == id_:
                return dict(message)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.reader.join(timeout=20)
            assert self.proc.stdout is not None
            self.proc.stdout.close()


def test_hostile_input_gets_errors_and_the_server_keeps_serving(backend: Populated) -> None:
    server = RawServer(backend)
    try:
        server.request(
            1,
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        )
        assert server.response(1)["result"]["serverInfo"]["name"] == "chachaml"
        server.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        # Not JSON, cut-off JSON, a bare array, a message without method, invalid UTF-8.
        for garbage in (
            "this is not json",
            '{"jsonrpc": "2.0", "id": 2, "method":',
            "[]",
            '{"id": 3}',
            b"\xff\xfe{}",
        ):
            server.send(garbage)
        server.request(4, "no/such/method", {})
        assert server.response(4)["error"]["code"] == -32601
        server.request(5, "tools/call", {"arguments": {}})  # no tool name
        assert "error" in server.response(5)
        bad_calls: list[tuple[dict[str, Any], str]] = [
            ({"name": "drop_tables", "arguments": {}}, "unknown tool 'drop_tables'"),
            ({"name": "get_run", "arguments": {"run_id": 42}}, "run_id must be a string"),
            ({"name": "list_runs", "arguments": {"limit": "ten"}}, "limit must be an integer"),
            (
                {"name": "search_runs", "arguments": {"filter": "x" * 1_000_000}},
                "the maximum is 10,000",
            ),
            ({"name": "get_run", "arguments": {"run_id": "0" * 32}}, "does not exist"),
            ({"name": "search_runs", "arguments": {"filter": "acc >>"}}, "column"),
        ]
        for i, (params, words) in enumerate(bad_calls, start=10):
            server.request(i, "tools/call", params)
            result = server.response(i)["result"]
            assert result["isError"] is True, result
            assert words in result["content"][0]["text"], result
        server.request(99, "tools/call", {"name": "list_runs", "arguments": {"limit": 100}})
        good = server.response(99)["result"]
        assert good.get("isError") is not True
        assert good["structuredContent"]["count"] == ml.count_runs(store=backend.store)
        assert server.alive
    finally:
        server.close()


def test_a_missing_sqlite_store_is_an_error_not_a_new_empty_store(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    done = subprocess.run(
        server_command(str(missing)),
        check=False,
        capture_output=True,
        text=True,
        env=child_env({}),
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert done.returncode == 4 and "no store at" in done.stderr
    assert not missing.exists()


def test_the_text_rendering_is_short_and_names_the_runs(backend: Populated) -> None:
    result = tools.call_tool("search_runs", {"filter": "metrics.acc > 0.8"}, store=backend.store)
    text = tools.render_text("search_runs", result)
    lines = text.splitlines()
    assert lines[0] == "2 run(s)"
    assert {line[:8] for line in lines[1:]} == {backend.ids["r0"][:8], backend.ids["r1"][:8]}
    assert "acc=0.91 " in text  # numbers rounded to 4 significant digits
