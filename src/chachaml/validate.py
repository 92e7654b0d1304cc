"""Input validation shared by every entry point (Python API, CLI, and later HTTP and MCP).

Each function either returns a normalised value or raises :class:`InvalidInput` with a message
that names the argument, what was wrong, and what is accepted.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from chachaml.errors import InvalidInput

MAX_KEY_LENGTH = 250
MAX_NAME_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 5000
MAX_PARAM_BYTES = 64 * 1024
MAX_NOTE_BYTES = 1024 * 1024
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: Nesting levels accepted in a param value (and any other free-form JSON value).
MAX_JSON_DEPTH = 100

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What no stored text may hold: NUL (PostgreSQL refuses it, C tools truncate at it) and lone
# UTF-16 surrogates (not encodable as UTF-8).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")

RUN_STATUSES = ("running", "completed", "failed", "killed", "crashed")
FINAL_STATUSES = ("completed", "failed", "killed", "crashed")
# Statuses accepted by queries: `archived` selects archived runs whatever their status.
QUERY_STATUSES = (*RUN_STATUSES, "archived")


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text (a NUL character or a lone surrogate), or None."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    at = found.start()
    if found.group() == "\x00":
        return f"contains a NUL character (at position {at})"
    return f"contains a lone surrogate U+{ord(found.group()):04X} (at position {at}): not UTF-8"


def text(value: object, what: str, *, limit: int | None = None) -> str:
    """Validate free text (notes, descriptions, error text, dataset fields): a string that may
    hold newlines and tabs but no NUL and no lone surrogate, of at most ``limit`` characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, got {type(value).__name__}")
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters long; the limit is {limit}")
    problem = text_problem(value)
    if problem is not None:
        raise InvalidInput(f"{what} {problem}")
    return value


def optional_text(value: object, what: str, *, limit: int | None = None) -> str | None:
    return None if value is None else text(value, what, limit=limit)


def key(value: object, what: str = "key") -> str:
    """Validate a param/metric/tag key: a non-empty string of at most 250 printable characters."""
    if not isinstance(value, str):
        raise InvalidInput(
            f"{what} must be a string, got {type(value).__name__} {_describe(value)}"
        )
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"{what} is {len(value)} characters long; the limit is {MAX_KEY_LENGTH} "
            f"(key starts with {value[:30]!r})"
        )
    if _CONTROL.search(value):
        raise InvalidInput(f"{what} {_describe(value)} contains a control character")
    problem = text_problem(value)
    if problem is not None:
        raise InvalidInput(f"{what} {problem}")
    return value


def name(value: object, what: str = "name") -> str:
    """Validate a run/experiment name (same rules as keys)."""
    return key(value, what)


def optional_name(value: object, what: str = "name") -> str | None:
    return None if value is None else name(value, what)


def run_id(value: object) -> str:
    """Validate a run id: 32 lowercase hex characters (a uuid4 hex)."""
    if not isinstance(value, str):
        raise InvalidInput(f"run id must be a string, got {type(value).__name__}")
    if not _RUN_ID.match(value):
        raise InvalidInput(
            f"run id {_describe(value)} is malformed: expected 32 lowercase hex characters "
            "(the `id` of a run dict), or a unique prefix of at least 4 of them"
        )
    return value


def optional_int64(value: object, what: str) -> int | None:
    """None, or an integer in the int64 range (times in epoch ms, pids); bools are refused."""
    if value is None:
        return None
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        raise InvalidInput(f"{what} must be an integer in the int64 range, got {_describe(value)}")
    return value


def metric_value(value: object, metric: str) -> float:
    """Coerce a metric value to float; NaN and infinities are allowed, strings and bools are not."""
    if type(value) is float:
        return value
    if isinstance(value, (bool, str, bytes)):
        raise InvalidInput(
            f"metric {metric!r} value must be a number, got {type(value).__name__} "
            f"{_describe(value)}"
        )
    try:
        return float(value)  # type: ignore[arg-type]  # ints, numpy scalars, 0-d tensors
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(
            f"metric {metric!r} value must be a number, got {type(value).__name__} "
            f"{_describe(value)}"
        ) from exc


def step(value: object, metric: str) -> int:
    """Validate an explicit metric step: an integer in the int64 range."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidInput(
            f"metric {metric!r} step must be an integer, got {type(value).__name__} "
            f"{_describe(value)}"
        )
    result = int(value.__index__())
    if not INT64_MIN <= result <= INT64_MAX:
        raise InvalidInput(f"metric {metric!r} step {result} is outside the int64 range")
    return result


def _jsonable(value: Any, path: str, depth: int = 0, what: str = "param") -> Any:
    """Normalise a param value to plain JSON types (numpy scalars/arrays and tuples included);
    strings (keys too) must be storable text and nesting at most ``MAX_JSON_DEPTH`` deep."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise InvalidInput(f"{what} {path} {problem}")
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth >= MAX_JSON_DEPTH and isinstance(value, (Mapping, list, tuple)):
        shown = path if len(path) <= 60 else path[:57] + "..."
        raise InvalidInput(
            f"{what} {shown} is nested more than {MAX_JSON_DEPTH} levels deep; flatten it or "
            "log it as an artifact"
        )
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidInput(f"{what} {path} has a non-string key {_describe(k)}")
            problem = text_problem(k)
            if problem is not None:
                raise InvalidInput(f"{what} {path} has a key that {problem}")
            out[k] = _jsonable(v, f"{path}.{k}", depth + 1, what)
        return out
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{path}[{i}]", depth + 1, what) for i, v in enumerate(value)]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist) and type(value).__module__.startswith("numpy"):
        return _jsonable(tolist(), path, depth, what)
    raise InvalidInput(
        f"{what} {path} has a value of type {type(value).__name__} that is not "
        "JSON-serialisable; log a str, number, bool, None, list or dict (e.g. str(value))"
    )


def json_value(value: object, what: str) -> Any:
    """Validate a free-form JSON value (e.g. a run's ``env``): plain JSON types, storable
    strings, at most ``MAX_JSON_DEPTH`` levels deep; returns it normalised."""
    return _jsonable(value, "value", 0, what)


def param_json(param: str, value: object) -> str:
    """Encode a param value as canonical JSON text (sorted keys, compact)."""
    plain = _jsonable(value, repr(param))
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) > MAX_PARAM_BYTES:
        raise InvalidInput(
            f"param {param!r} is {len(text.encode())} bytes as JSON; the limit is "
            f"{MAX_PARAM_BYTES} (log large values as an artifact instead)"
        )
    return text


def tag_value(tag: str, value: object) -> str:
    """Tags are strings; bools become "true"/"false" and numbers their decimal text."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = repr(value)
    else:
        raise InvalidInput(
            f"tag {tag!r} value must be a string, number or bool, got {type(value).__name__}"
        )
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidInput(
            f"tag {tag!r} value is {len(text)} characters; the limit is {MAX_TAG_VALUE_LENGTH}"
        )
    problem = text_problem(text)
    if problem is not None:
        raise InvalidInput(f"tag {tag!r} value {problem}")
    return text


def mapping(value: object, what: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a dict, got {type(value).__name__}")
    return value


def tags(value: object) -> dict[str, str]:
    """Validate a dict of tags and return normalised string values."""
    return {key(k, "tag key"): tag_value(k, v) for k, v in mapping(value, "tags").items()}


def note(value: object, what: str = "note") -> str:
    """A markdown note or description: any text (newlines, tabs) without NUL or lone
    surrogates, at most 1 MiB as UTF-8."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a markdown string, got {type(value).__name__}")
    text(value, what)
    if len(value.encode()) > MAX_NOTE_BYTES:
        raise InvalidInput(f"{what} is larger than {MAX_NOTE_BYTES} bytes")
    return value


def error_text(value: object) -> str | None:
    """The error text of a failed run (any text without NUL or lone surrogates), or None."""
    return optional_text(value, "error")


def status(value: object, allowed: tuple[str, ...] = QUERY_STATUSES) -> str:
    if value not in allowed:
        raise InvalidInput(f"status {_describe(value)} is not one of: {', '.join(allowed)}")
    return str(value)


def limit(value: object, what: str = "limit", *, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{what} must be a non-negative integer, got {_describe(value)}")
    return value


def finite_number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{what} must be a number, got {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result):
        raise InvalidInput(f"{what} must be finite, got {result}")
    return result
