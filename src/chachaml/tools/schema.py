"""A small, strict validator for the JSON Schemas of the agent tools.

Only what the tool schemas use: ``type`` (one JSON type), ``enum``, ``minimum``/``maximum``,
``minLength``/``maxLength``, ``pattern``, ``items``/``minItems``/``maxItems``, object
``properties``/``required``/``additionalProperties`` and ``maxProperties``. Every error names
the argument and says what was expected, in words a model can act on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from chachaml.errors import InvalidInput

__all__ = ["check_arguments", "json_type"]

_PYTHON = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}


def json_type(value: object) -> str:
    """The JSON type name of a decoded JSON value (for error messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _matches(pattern: str, value: str) -> bool:
    """JSON Schema's (ECMA-262) reading of ``pattern``: a ``$`` ends the string, it does not
    also match before a final newline as Python's does (``"abcd\\n"`` is no run id)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.search(pattern, value) is not None


def _check(value: Any, schema: Mapping[str, Any], where: str) -> Any:
    wanted = schema.get("type")
    if wanted is not None:
        ok = isinstance(value, _PYTHON[wanted]) and not (
            wanted in ("integer", "number") and isinstance(value, bool)
        )
        if wanted == "integer" and isinstance(value, float) and value.is_integer():
            value, ok = int(value), True  # 5.0 is the integer 5 in JSON
        if not ok:
            article = "an" if wanted[0] in "aeiou" else "a"
            raise InvalidInput(f"{where} must be {article} {wanted}, got {json_type(value)}")
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(repr(c) for c in schema["enum"])
        raise InvalidInput(f"{where} must be one of {choices}; got {_short(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"{where} must be a finite number, got {value}")
        if "minimum" in schema and value < schema["minimum"]:
            raise InvalidInput(f"{where} must be at least {schema['minimum']}, got {value}")
        if "maximum" in schema and value > schema["maximum"]:
            raise InvalidInput(f"{where} must be at most {schema['maximum']}, got {value}")
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise InvalidInput(
                f"{where} is {len(value):,} characters long; the maximum is {schema['maxLength']:,}"
            )
        if "minLength" in schema and len(value) < schema["minLength"]:
            raise InvalidInput(f"{where} must have at least {schema['minLength']} character(s)")
        if "pattern" in schema and not _matches(schema["pattern"], value):
            expected = schema.get("description", schema["pattern"])
            raise InvalidInput(f"{where} {_short(value)} is malformed (expected: {expected})")
    if isinstance(value, (list, tuple)):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise InvalidInput(f"{where} has {len(value)} items; at most {schema['maxItems']}")
        if "minItems" in schema and len(value) < schema["minItems"]:
            raise InvalidInput(f"{where} needs at least {schema['minItems']} item(s)")
        items = schema.get("items")
        if items is not None:
            value = [_check(v, items, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and wanted == "object":
        value = _check_object(value, schema, where)
    return value


def _check_object(value: dict[str, Any], schema: Mapping[str, Any], where: str) -> dict[str, Any]:
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        raise InvalidInput(f"{where} has {len(value)} entries; at most {schema['maxProperties']}")
    props: Mapping[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidInput(f"{where} keys must be strings")
        if key in props:
            out[key] = _check(item, props[key], f"{where}.{key}" if where else key)
        elif extra is False:
            known = ", ".join(props) or "none"
            raise InvalidInput(
                f"unknown argument {_short(key)}{f' in {where}' if where else ''}; "
                f"accepted: {known}"
            )
        elif isinstance(extra, Mapping):
            out[key] = _check(item, extra, f"{where}[{key!r}]" if where else repr(key))
        else:
            out[key] = item
    return out


def check_arguments(arguments: object, schema: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a tool call's ``arguments`` against its input ``schema``; returns them with
    defaults filled in. A ``null`` for an optional argument means "not given"."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise InvalidInput(f"arguments must be a JSON object, got {json_type(arguments)}")
    required = schema.get("required", [])
    given = {k: v for k, v in arguments.items() if not (v is None and k not in required)}
    for key in required:
        if given.get(key) is None:
            raise InvalidInput(f"missing required argument {key!r}")
    out = _check_object(given, schema, "")
    for key, prop in schema.get("properties", {}).items():
        if key not in out and "default" in prop:
            out[key] = prop["default"]
    return out
