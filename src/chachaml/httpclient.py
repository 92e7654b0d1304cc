"""The HTTP client of the remote store: one httpx client per store (imported lazily), retries
with exponential backoff on connection errors and 502/503/504, and the server's JSON error shape
mapped back onto chachaml's exceptions."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from chachaml.artifacts import names
from chachaml.errors import (
    AlreadyExists,
    ChachamlError,
    InUse,
    InvalidFilter,
    InvalidInput,
    NotFound,
    ParamConflict,
    StoreUnavailable,
)

__all__ = ["Http", "Unreachable", "error_from", "quote_name", "quote_part"]

RETRIES = 4
BACKOFF = 0.1  # seconds, doubled per retry, capped at 2 s
_RETRY_STATUS = frozenset({502, 503, 504})
_ERRORS: dict[str, type[ChachamlError]] = {
    "not_found": NotFound,
    "invalid_input": InvalidInput,
    "invalid_filter": InvalidInput,
    "already_exists": AlreadyExists,
    "in_use": InUse,
    "param_conflict": ParamConflict,
    "store_unavailable": StoreUnavailable,
}


class Unreachable(StoreUnavailable):
    """The server did not answer (after retries)."""


def error_from(status: int, body: bytes) -> ChachamlError:
    try:
        err = json.loads(body)["error"]
        code, message = str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        code, message = "error", body[:200].decode("utf-8", "replace") or f"HTTP {status}"
    cls = _ERRORS.get(code)
    if cls is InvalidInput and code == "invalid_filter":
        return InvalidFilter(message)
    if cls is not None:
        return cls(message)
    if status in (401, 403):
        return StoreUnavailable(f"the server refused the request ({status}): {message}")
    if status < 500:
        return InvalidInput(message)
    return StoreUnavailable(f"the server failed ({status}): {message}")


class Http:
    """One httpx client per store, shared by the metadata and artifact halves."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60.0) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        headers = {"X-Chachaml-Nan": "tokens", "User-Agent": "chachaml-remote"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
        )
        self._transport_errors: tuple[type[BaseException], ...] = (httpx.TransportError,)

    def close(self) -> None:
        self.client.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: Any = None,
        content: Any = None,
        headers: Mapping[str, str] | None = None,
        retries: int = RETRIES,
    ) -> Any:
        """Send a request, retrying transport errors and 502/503/504; return the decoded JSON
        body, or raise the error the server described (``Unreachable`` if it never answered)."""
        hdrs = dict(headers or {})
        if body is not None:
            content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            hdrs["Content-Type"] = "application/json"
        delay = BACKOFF
        last: BaseException | None = None
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            try:
                resp = self.client.request(
                    method, path, params=params, content=content, headers=hdrs
                )
            except self._transport_errors as exc:
                last = exc
                if hasattr(content, "seek"):
                    content.seek(0)
                continue
            if resp.status_code in _RETRY_STATUS:
                last = error_from(resp.status_code, resp.content)
                continue
            if resp.status_code >= 400:
                raise error_from(resp.status_code, resp.content)
            ctype = resp.headers.get("content-type", "")
            if ctype.startswith("application/json"):
                return json.loads(resp.content)
            return resp.content
        raise Unreachable(f"chachaml server {self.base_url} is unreachable: {last}")

    def get_or_none(self, path: str, params: Any = None) -> Any:
        try:
            return self.send("GET", path, params=params)
        except NotFound:
            return None


def quote_part(value: str) -> str:
    return quote(value, safe="")


def quote_name(name: str) -> str:
    """An artifact name for a URL path: validated here (a client never sends ``..``), with
    slashes kept so the server's path parameter sees the name as given."""
    return quote(names.validate(name), safe="/")
