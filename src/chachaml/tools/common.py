"""What every tool module shares: the ``Tool`` record, schema fragments and compact results."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from chachaml import validate

__all__ = [
    "MAX_COMPARE_KEYS",
    "MAX_TEXT",
    "RUN_ID",
    "Tool",
    "as_result",
    "boolean",
    "cap_comparison",
    "clip",
    "integer",
    "jsonable",
    "name_arg",
    "obj",
    "page",
    "text_arg",
]

#: Longest string kept in a result before it is cut (with a marker saying how much was cut).
MAX_TEXT = 2000


class Tool(NamedTuple):
    """One agent tool: ``func(store=..., **arguments)`` returns a JSON-serialisable dict."""

    name: str
    description: str
    input_schema: dict[str, Any]
    write: bool
    func: Callable[..., dict[str, Any]]


# -- schema fragments --------------------------------------------------------------------------
RUN_ID: dict[str, Any] = {
    "type": "string",
    "minLength": 4,
    "maxLength": 32,
    "pattern": "^[0-9a-fA-F]{4,32}$",
    "description": "a run id (32 hex characters) or a unique prefix of at least 4 of them",
}


def name_arg(description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": validate.MAX_NAME_LENGTH,
        "description": description,
    }


def text_arg(description: str, max_length: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, "description": description}


def integer(description: str, *, minimum: int, maximum: int, default: int | None = None) -> Any:
    out: dict[str, Any] = {
        "type": "integer",
        "minimum": minimum,
        "maximum": maximum,
        "description": description,
    }
    if default is not None:
        out["default"] = default
    return out


def boolean(description: str, default: bool) -> dict[str, Any]:
    return {"type": "boolean", "default": default, "description": description}


def obj(properties: Mapping[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    """A tool's input schema: an object with exactly these properties."""
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(required),
        "additionalProperties": False,
    }


# -- results ------------------------------------------------------------------------------------
def jsonable(value: Any) -> Any:
    """Plain JSON data: dict subclasses become dicts, tuples lists, and NaN/±inf the strings
    ``"nan"``, ``"inf"``, ``"-inf"`` (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def as_result(value: Any) -> dict[str, Any]:
    """:func:`jsonable` of a mapping, typed as the dict a tool returns."""
    out = jsonable(value)
    if not isinstance(out, dict):  # pragma: no cover - every caller passes a mapping
        raise TypeError(f"a tool result must be a mapping, got {type(value).__name__}")
    return out


def clip(value: Any, limit: int = MAX_TEXT) -> Any:
    """``value`` with every string longer than ``limit`` cut, ending in a marker that says how
    many characters were left out."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}... [truncated: {len(value) - limit:,} more characters]"
    if isinstance(value, Mapping):
        return {k: clip(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [clip(v, limit) for v in value]
    return value


#: Keys kept per group (differ / partial / same) of a comparison's params and metrics.
MAX_COMPARE_KEYS = 100


def cap_comparison(found: Mapping[str, Any]) -> dict[str, Any]:
    """A comparison (``compare_runs``, ``diff_versions``) with at most
    :data:`MAX_COMPARE_KEYS` keys per group (sorted, so the same keys for every run) and at
    most 30 tags per run; ``keys_truncated`` says how many keys of which group were left out."""
    out = dict(found)
    cut: dict[str, int] = {}
    for section in ("params", "metrics"):
        groups = dict(out.get(section) or {})
        for group, values in groups.items():
            if isinstance(values, Mapping) and len(values) > MAX_COMPARE_KEYS:
                groups[group] = dict(sorted(values.items())[:MAX_COMPARE_KEYS])
                cut[f"{section}.{group}"] = len(values) - MAX_COMPARE_KEYS
        out[section] = groups
    runs = []
    for run in out.get("runs") or []:
        tags = run.get("tags") if isinstance(run, Mapping) else None
        if isinstance(tags, Mapping) and len(tags) > 30:
            runs.append({**run, "tags": dict(sorted(tags.items())[:30])})
            cut[f"tags of {run.get('id')}"] = len(tags) - 30
        else:
            runs.append(run)
    if "runs" in out:
        out["runs"] = runs
    if cut:
        out["keys_truncated"] = {k: f"{n} more not shown (see get_run)" for k, n in cut.items()}
    return out


def page(items: Sequence[Any], limit: int, offset: int = 0) -> dict[str, Any]:
    """``count``, ``truncated`` and ``next_offset`` of a page fetched with ``limit + 1``."""
    truncated = len(items) > limit
    return {
        "count": min(len(items), limit),
        "truncated": truncated,
        "next_offset": offset + limit if truncated else None,
    }
