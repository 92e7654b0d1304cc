"""The MCP server: the agent tools of :mod:`chachaml.tools` over the official MCP Python SDK.

``chachaml mcp --store URL`` serves it over stdio; ``chachaml server`` mounts the same server as
streamable HTTP at ``/mcp`` (see :mod:`chachaml.server.mcp_http`). Every tool result carries the
structured JSON (``structuredContent``) and a short text rendering; a failing call (bad
arguments, unknown run, unknown tool) is a tool error (``isError``) whose text says why, and the
server keeps serving. Write tools are listed and callable only when writes are allowed.

Runs and models are also resources: ``chachaml://runs/{run_id}`` and
``chachaml://models/{name}`` (JSON; the name percent-encoded, as ``urllib.parse.quote``).

>>> server = build_server(store, allow_writes=False)        # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote, unquote

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from chachaml import tools
from chachaml.store import Store
from chachaml.tools import ToolError
from chachaml.version import __version__

__all__ = ["INSTRUCTIONS", "RESOURCES_LISTED", "build_server", "serve_stdio"]

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "chachaml is an experiment tracker: runs (params, metrics, tags, artifacts) grouped into "
    "experiments, a model registry with stages, pipelines and metric alerts. Start with "
    'list_runs or search_runs (filter expressions like "metrics.acc > 0.9 and '
    "params.model = 'rf'\"), then get_run, compare_runs or best_run. Run ids may be given as a "
    "unique prefix of at least 4 hex characters. Listings are paged: follow next_offset while "
    "truncated is true."
)
RESOURCES_LISTED = 20  # recent runs offered by resources/list (any run can be read by URI)
_RUN_URI = "chachaml://runs/"
_MODEL_URI = "chachaml://models/"


def _tool(tool: tools.Tool) -> types.Tool:
    return types.Tool(
        name=tool.name,
        description=tool.description,
        input_schema=tool.input_schema,
        annotations=types.ToolAnnotations(
            read_only_hint=not tool.write,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )


def _error(code: str, message: str) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=f"error ({code}): {message}")],
        structured_content={"error": {"code": code, "message": message}},
        is_error=True,
    )


def run_tool(
    store: Store, name: str, arguments: Any, *, allow_writes: bool
) -> types.CallToolResult:
    """One tool call as an MCP result: structured content plus text, or a tool error. Never
    raises for a failing call (an unexpected exception is logged and reported as an error)."""
    try:
        result = tools.call_tool(name, arguments, store=store, allow_writes=allow_writes)
        text = tools.render_text(name, result)
    except ToolError as exc:
        return _error(exc.code, exc.message)
    except Exception as exc:  # a bug or a store failure: report it, keep serving
        log.exception("tool %s failed", name)
        return _error("internal_error", f"{type(exc).__name__}: {exc}")
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=result)


def _read(store: Store, uri: str) -> str:
    if uri.startswith(_RUN_URI):
        found = tools.call_tool("get_run", {"run_id": uri[len(_RUN_URI) :]}, store=store)
    elif uri.startswith(_MODEL_URI):
        name = unquote(uri[len(_MODEL_URI) :])  # listed percent-encoded; a raw name works too
        found = tools.call_tool("get_model", {"name": name}, store=store)
    else:
        raise ToolError(f"unknown resource {uri[:200]!r}: use {_RUN_URI}ID or {_MODEL_URI}NAME")
    return json.dumps(found, ensure_ascii=False)


def _resources(store: Store) -> list[types.Resource]:
    runs = tools.call_tool("list_runs", {"limit": RESOURCES_LISTED}, store=store)["runs"]
    models = tools.call_tool("list_models", {"limit": RESOURCES_LISTED}, store=store)["models"]
    out = [
        types.Resource(
            uri=f"{_RUN_URI}{r['id']}",
            name=f"run {r['id'][:8]} {r['experiment']}/{r['name'] or '-'}",
            mime_type="application/json",
        )
        for r in runs
    ]
    out += [
        types.Resource(
            # Percent-encoded: a name may hold spaces, '/', '?' or '#', which a URI may not.
            uri=f"{_MODEL_URI}{quote(m['name'], safe='')}",
            name=f"model {m['name']}",
            mime_type="application/json",
        )
        for m in models
    ]
    return out


def build_server(store: Store, *, allow_writes: bool) -> Server[Any]:
    """A low-level MCP server offering the tools (write tools only with ``allow_writes``) and
    the run/model resources of ``store``."""
    listed = [_tool(t) for t in tools.tool_specs(allow_writes=allow_writes)]

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        name, arguments = params.name, params.arguments
        return await anyio.to_thread.run_sync(
            lambda: run_tool(store, name, arguments, allow_writes=allow_writes)
        )

    async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
        found = await anyio.to_thread.run_sync(lambda: _resources(store))
        return types.ListResourcesResult(resources=found)

    async def list_templates(ctx: Any, params: Any) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=_RUN_URI + "{run_id}", name="run", mime_type="application/json"
                ),
                types.ResourceTemplate(
                    uri_template=_MODEL_URI + "{name}", name="model", mime_type="application/json"
                ),
            ]
        )

    async def read_resource(
        ctx: Any, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            text = await anyio.to_thread.run_sync(lambda: _read(store, uri))
        except ToolError as exc:
            raise MCPError(code=types.INVALID_PARAMS, message=exc.message) from exc
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="application/json", text=text)]
        )

    return Server(
        "chachaml",
        version=__version__,
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )


def serve_stdio(store: Store, *, allow_writes: bool) -> None:
    """Serve the tools of ``store`` over stdin/stdout until stdin closes."""
    server = build_server(store, allow_writes=allow_writes)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(main)
