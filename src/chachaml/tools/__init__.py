"""The agent tool layer: every tool an agent (the MCP server, the chat loop) may call, as a
plain function over the public API with a precise JSON Schema and a JSON-serialisable result.

>>> import chachaml as ml
>>> from chachaml import tools
>>> with ml.store("sqlite:///:memory:") as st:
...     with ml.run(experiment="iris"):
...         ml.log_metric("acc", 0.9)
...     found = tools.call_tool("search_runs", {"filter": "metrics.acc > 0.5"}, store=st)
...     found["count"], found["runs"][0]["metrics"]
(1, {'acc': 0.9})

``call_tool`` validates the arguments against the tool's schema first (unknown tool, unknown,
missing or wrong-typed argument, out of bounds: a :class:`ToolError` naming the argument), then
runs the tool; chachaml errors from the services (``NotFound``, ``InvalidInput``,
``InvalidFilter``, ...) become a ``ToolError`` with the same message and ``code``. Results are
compact: pages of at most 100 runs with ``truncated`` and ``next_offset``, long strings cut with
a marker saying how much was cut. Write tools run only with ``allow_writes=True``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from chachaml.errors import ChachamlError, InvalidInput
from chachaml.store import Store
from chachaml.tools.catalog import OTHER_TOOLS
from chachaml.tools.common import Tool
from chachaml.tools.runs import RUN_TOOLS
from chachaml.tools.schema import check_arguments

__all__ = ["TOOLS", "Tool", "ToolError", "call_tool", "get_tool", "render_text", "tool_specs"]


class ToolError(InvalidInput):
    """A tool call failed; ``message`` says why in words a model can act on, ``code`` is the
    underlying error's code (``invalid_input``, ``not_found``, ...)."""

    code = "tool_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


_ORDER = (
    "list_runs",
    "search_runs",
    "get_run",
    "best_run",
    "compare_runs",
    "get_metric_history",
    "get_tags",
    "get_datasets",
    "export_runs",
    "list_experiments",
    "list_models",
    "get_model",
    "get_model_version",
    "diff_model_versions",
    "list_artifacts",
    "read_artifact",
    "list_pipelines",
    "get_pipeline",
    "list_alerts",
    "alert_history",
    "create_experiment",
    "add_tag",
    "set_note",
    "promote_model",
)
_BY_NAME = {t.name: t for t in (*RUN_TOOLS, *OTHER_TOOLS)}
#: Every tool in a stable order: the read tools, then the write tools.
TOOLS: tuple[Tool, ...] = tuple(_BY_NAME[n] for n in _ORDER)
assert len(TOOLS) == len(_BY_NAME), "a tool is missing from _ORDER"


def tool_specs(*, allow_writes: bool) -> list[Tool]:
    """The tools to offer: every tool, or only the read tools when writes are not allowed."""
    return [t for t in TOOLS if allow_writes or not t.write]


def get_tool(name: object, *, allow_writes: bool = False) -> Tool:
    """The tool called ``name``; ``ToolError`` if there is none (or it writes and writes are
    not allowed)."""
    tool = _BY_NAME.get(name) if isinstance(name, str) else None
    if tool is None:
        shown = name if isinstance(name, str) and len(name) <= 80 else repr(name)[:80]
        offered = ", ".join(t.name for t in tool_specs(allow_writes=allow_writes))
        raise ToolError(f"unknown tool {shown!r}; the tools are: {offered}", "unknown_tool")
    if tool.write and not allow_writes:
        raise ToolError(f"tool {tool.name!r} writes, and this session is read-only", "read_only")
    return tool


def call_tool(
    name: str,
    arguments: Mapping[str, Any] | None,
    *,
    store: Store | None = None,
    allow_writes: bool = False,
) -> dict[str, Any]:
    """Validate ``arguments`` against tool ``name``'s schema, run it on ``store`` (default: the
    current store) and return its JSON-serialisable result."""
    tool = get_tool(name, allow_writes=allow_writes)
    try:
        args = check_arguments(
            dict(arguments) if isinstance(arguments, Mapping) else arguments, tool.input_schema
        )
        return tool.func(store, **args)
    except ToolError:
        raise
    except ChachamlError as exc:
        raise ToolError(exc.message, exc.code) from exc


# -- text rendering -----------------------------------------------------------------------------
MAX_RENDER = 4000


def _when(ms: Any) -> str:
    if not isinstance(ms, int):
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _values(values: Mapping[str, Any], limit: int = 6) -> str:
    items = [f"{k}={_short(v)}" for k, v in list(values.items())[:limit]]
    return " ".join(items) + (" ..." if len(values) > limit else "")


def _run_line(run: Mapping[str, Any]) -> str:
    head = f"{str(run.get('id'))[:8]} {run.get('experiment')}/{run.get('name') or '-'}"
    line = f"{head} {run.get('status')} {_when(run.get('start_time'))}"
    if run.get("metrics"):
        line += f" | {_values(run['metrics'])}"
    if run.get("params"):
        line += f" | {_values(run['params'], 4)}"
    return line


def _footer(result: Mapping[str, Any]) -> str:
    if result.get("truncated"):
        nxt = result.get("next_offset")
        return f"\n(more match{f'; next page: offset={nxt}' if nxt is not None else ''})"
    return ""


def render_text(name: str, result: Mapping[str, Any]) -> str:
    """A short text rendering of a tool result (for the text content of an MCP result and for
    logs); the structured result is the full answer."""
    if name in ("list_runs", "search_runs"):
        runs = result.get("runs") or []
        lines = [f"{result.get('count', len(runs))} run(s)"] + [_run_line(r) for r in runs]
        text = "\n".join(lines) + _footer(result)
    elif name == "best_run":
        run = result.get("run")
        text = (
            f"no run logged {result.get('metric')!r}"
            if run is None
            else f"best {result.get('metric')} = {_short(result.get('value'))} (step "
            f"{result.get('step')}): {_run_line(run)}"
        )
    elif name == "get_run":
        text = (
            _run_line(result)
            + "\n"
            + json.dumps(
                {k: result.get(k) for k in ("params", "metrics", "tags", "note", "error")},
                default=str,
            )
        )
    else:
        text = json.dumps(result, default=str, ensure_ascii=False)
    if len(text) > MAX_RENDER:
        text = text[:MAX_RENDER] + f"... [truncated: {len(text) - MAX_RENDER:,} more characters]"
    return text
