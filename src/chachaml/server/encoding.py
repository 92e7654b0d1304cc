"""JSON in and out of the API, including NaN and ±infinity.

Standard JSON has no NaN/Infinity. The API accepts metric values as numbers, as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, or as the bare non-standard tokens. Responses carry
non-finite floats as those strings, unless the request sends ``X-Chachaml-Nan: tokens`` (what the
Python remote store does): then they are bare ``NaN``/``Infinity`` tokens, which keeps a param
whose value is the *string* ``"NaN"`` distinct from a float NaN.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["NAN_HEADER", "dumps", "json_response", "wants_tokens"]

NAN_HEADER = "x-chachaml-nan"
_NAMES = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else _NAMES[repr(value)]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def dumps(value: Any, *, tokens: bool = False) -> bytes:
    """UTF-8 JSON bytes; non-finite floats as strings unless ``tokens``."""
    if tokens:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    else:
        try:  # fast path: most payloads have no NaN
            text = json.dumps(
                value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str
            )
        except ValueError:
            text = json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"), default=str)
    return text.encode("utf-8")


def wants_tokens(request: Request) -> bool:
    return request.headers.get(NAN_HEADER, "").lower() == "tokens"


def json_response(request: Request, value: Any, status_code: int = 200) -> Response:
    """A JSON response honouring the request's NaN convention."""
    return Response(
        dumps(value, tokens=wants_tokens(request)),
        status_code=status_code,
        media_type="application/json",
    )
