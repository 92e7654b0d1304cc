"""The HTTP client of the remote store: one httpx client per store (imported lazily), retries
with exponential backoff on connection errors and 502/503/504, and the server's JSON error shape
mapped back onto chachaml's exceptions.

Retried writes are idempotent: every POST/PUT/PATCH/DELETE carries an ``Idempotency-Key`` that
stays the same across the retries of one call, so the server applies a write whose answer was
lost once and replays its first answer to the retry. Writes the server does not key are
naturally idempotent (a client-chosen run id, PUT of a note, setting tags) or say which error a
retry may meet when the lost attempt did apply (``lost_ok``: e.g. ``NotFound`` for a DELETE).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from chachaml.artifacts import names
from chachaml.errors import (
    AlreadyExists,
    ChachamlError,
    IdempotencyKeyReused,
    InUse,
    InvalidFilter,
    InvalidInput,
    NotFound,
    ParamConflict,
    StoreUnavailable,
)

__all__ = ["LOST", "Http", "Unreachable", "error_from", "quote_name", "quote_part"]

RETRIES = 4
BACKOFF = 0.1  # seconds, doubled per retry, capped at 2 s
_RETRY_STATUS = frozenset({502, 503, 504})
_MAYBE_APPLIED_STATUS = frozenset({502, 504})  # a gateway gave up; the server may have applied it
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENCY_HEADER = "Idempotency-Key"
_ERRORS: dict[str, type[ChachamlError]] = {
    "not_found": NotFound,
    "invalid_input": InvalidInput,
    "invalid_filter": InvalidInput,
    "already_exists": AlreadyExists,
    "idempotency_key_reused": IdempotencyKeyReused,
    "in_use": InUse,
    "param_conflict": ParamConflict,
    "store_unavailable": StoreUnavailable,
}


class Unreachable(StoreUnavailable):
    """The server did not answer (after retries)."""


class _Lost:
    def __repr__(self) -> str:
        return "LOST"


#: What :meth:`Http.send` returns when a retry met an error listed in ``lost_ok`` after an
#: attempt whose answer was lost: the lost attempt most likely did the work.
LOST: Any = _Lost()


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
        try:
            import httpx
        except ImportError as exc:
            raise InvalidInput(
                f"a remote store ({base_url}) needs httpx: pip install 'chachaml[remote]'"
            ) from exc

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
        # Failures before the request left this process: the server cannot have applied it.
        self._not_sent_errors: tuple[type[BaseException], ...] = (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.PoolTimeout,
        )

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
        lost_ok: tuple[type[ChachamlError], ...] = (),
    ) -> Any:
        """Send a request, retrying transport errors and 502/503/504; return the decoded JSON
        body, or raise the error the server described (``Unreachable`` if it never answered).

        A write gets an ``Idempotency-Key`` header (unless ``headers`` has one) that all its
        retries share. When a retry follows an attempt that may have been applied (its answer
        was lost) and the server answers with one of ``lost_ok``, :data:`LOST` is returned
        instead of raising: the caller decides whether the lost attempt did the work."""
        hdrs = dict(headers or {})
        if method.upper() in _WRITES and not any(
            k.lower() == IDEMPOTENCY_HEADER.lower() for k in hdrs
        ):
            hdrs[IDEMPOTENCY_HEADER] = uuid.uuid4().hex
        if body is not None:
            content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            hdrs["Content-Type"] = "application/json"
        delay = BACKOFF
        last: BaseException | None = None
        maybe_applied = False  # did an earlier attempt possibly reach the server?
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
                if not isinstance(exc, self._not_sent_errors):
                    maybe_applied = True
                if hasattr(content, "seek"):
                    content.seek(0)
                continue
            if resp.status_code in _RETRY_STATUS:
                last = error_from(resp.status_code, resp.content)
                maybe_applied = maybe_applied or resp.status_code in _MAYBE_APPLIED_STATUS
                if hasattr(content, "seek"):
                    content.seek(0)
                continue
            if resp.status_code >= 400:
                err = error_from(resp.status_code, resp.content)
                if maybe_applied and isinstance(err, lost_ok):
                    return LOST
                raise err
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
