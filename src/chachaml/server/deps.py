"""Per-request access to the app's state (no module globals) and small shared helpers."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NamedTuple, TypeVar

from fastapi import Header
from pydantic import BaseModel
from starlette.requests import Request

from chachaml.errors import IdempotencyKeyReused, InvalidInput
from chachaml.server.encoding import dumps
from chachaml.server.settings import Settings
from chachaml.store import Store

__all__ = [
    "IdempotencyCache",
    "IdempotencyHeader",
    "check_key",
    "fingerprint",
    "idempotent",
    "parse_tags",
    "settings_of",
    "store_of",
]

T = TypeVar("T")
DEFAULT_TTL_SECONDS = 24 * 3600.0  # a key is honoured for a day after its request succeeded
DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # stored answers, in encoded JSON bytes
MAX_KEY_CHARS = 200

#: The ``Idempotency-Key`` request header of a write route (optional, 1 to 200 characters).
IdempotencyHeader = Annotated[
    str | None,
    Header(
        max_length=MAX_KEY_CHARS,
        description="Any unique string per write: a retry with the same key and request is "
        "answered from memory and not applied again; the same key with another request is "
        "refused (422 idempotency_key_reused).",
    ),
]


def store_of(request: Request) -> Store:
    st: Store = request.app.state.store
    return st


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def parse_tags(pairs: list[str]) -> dict[str, str] | None:
    """``["k=v", ...]`` → ``{"k": "v"}`` (None when empty)."""
    if not pairs:
        return None
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInput(f"tag filter {pair[:50]!r} must look like key=value")
        out[key] = value
    return out


class _Entry(NamedTuple):
    fingerprint: str
    value: Any
    size: int
    expires: float


class IdempotencyCache:
    """The answers of recently processed idempotency keys, bounded in count, in bytes and in
    time (oldest forgotten first; an entry expires ``ttl`` seconds after it was stored).

    A key is remembered only after its request succeeded, together with a fingerprint of the
    request (method, path, query and canonical body): a retry of the same request gets the first
    answer back and is not applied again; the same key with another request is refused
    (``IdempotencyKeyReused``). Concurrent requests with one key are serialised by a per-key
    lock that exists only while someone holds or waits for it, so failed requests (unknown runs,
    bad bodies) leave nothing behind.
    """

    def __init__(
        self,
        capacity: int,
        ttl: float = DEFAULT_TTL_SECONDS,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 0 or ttl <= 0 or max_bytes < 0:
            raise InvalidInput("idempotency cache: capacity, ttl and max_bytes must be positive")
        self.capacity = capacity
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._clock = clock
        self._seen: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        # key -> [lock, holders and waiters]; removed when the last one leaves.
        self._inflight: dict[str, list[Any]] = {}

    @contextmanager
    def key_lock(self, key: str) -> Iterator[None]:
        """Hold the lock of ``key``: concurrent retries of one request apply it once."""
        with self._lock:
            slot = self._inflight.get(key)
            if slot is None:
                slot = self._inflight[key] = [threading.Lock(), 0]
            slot[1] += 1
        try:
            with slot[0]:
                yield
        finally:
            with self._lock:
                slot[1] -= 1
                if slot[1] == 0:
                    del self._inflight[key]

    def inflight(self) -> int:
        """How many keys currently have a lock (held or waited for)."""
        with self._lock:
            return len(self._inflight)

    def waiting(self, key: str) -> int:
        """How many requests hold or wait for ``key`` right now."""
        with self._lock:
            slot = self._inflight.get(key)
            return 0 if slot is None else int(slot[1])

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._seen)

    def _expire(self) -> None:
        now = self._clock()
        while self._seen:
            oldest = next(iter(self._seen.values()))
            if oldest.expires > now:
                break
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        _, entry = self._seen.popitem(last=False)
        self._bytes -= entry.size

    def lookup(self, key: str, fingerprint: str) -> Any:
        """The stored answer of ``key`` (None if unknown or expired); ``IdempotencyKeyReused``
        if the key was used for a different request."""
        with self._lock:
            self._expire()
            entry = self._seen.get(key)
        if entry is None:
            return None
        if entry.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used for a different request (another body, "
                "path or run); use a new key for every distinct write"
            )
        return entry.value

    def get(self, key: str) -> Any:
        """The stored answer of ``key`` regardless of the request (None if unknown)."""
        with self._lock:
            self._expire()
            entry = self._seen.get(key)
            return None if entry is None else entry.value

    def put(self, key: str, fingerprint: str, value: Any, size: int = 0) -> None:
        with self._lock:
            old = self._seen.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            size += len(key) + len(fingerprint)
            self._seen[key] = _Entry(fingerprint, value, size, self._clock() + self.ttl)
            self._bytes += size
            while self._seen and (len(self._seen) > self.capacity or self._bytes > self.max_bytes):
                self._drop_oldest()
            self._expire()


def fingerprint(request: Request, body: BaseModel | None) -> str:
    """A digest of the request: method, path, sorted query and the body. With an
    ``Idempotency-Key`` header the body counts by its exact bytes (hashed as it arrives, so a
    large metric batch is not re-serialised), as a retry resends them; a key in the JSON body
    compares the canonical JSON (sorted keys). Any other request does not match."""
    raw = getattr(request.state, "body_sha256", None)
    canonical = json.dumps(
        [
            request.method,
            request.url.path,
            sorted(request.query_params.multi_items()),
            raw if raw is not None else None if body is None else body.model_dump(),
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=repr,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is not None and not 0 < len(key) <= MAX_KEY_CHARS:
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} characters")
    return key


def idempotent(
    request: Request, key: str | None, body: BaseModel | None, apply: Callable[[], T]
) -> tuple[T, bool]:
    """Run ``apply`` once per idempotency ``key``; returns ``(answer, replayed)``.

    Without a key ``apply`` simply runs. With one, a repeat of the same request (same
    fingerprint) gets the stored answer and ``apply`` does not run again; a different request
    under the same key is refused (422 ``idempotency_key_reused``). Failures are not remembered:
    a retry of a failed request runs again.
    """
    key = check_key(key)
    if key is None:
        return apply(), False
    cache: IdempotencyCache = request.app.state.idempotency
    digest = fingerprint(request, body)
    with cache.key_lock(key):
        seen = cache.lookup(key, digest)
        if seen is not None:
            return seen, True
        answer = apply()
        cache.put(key, digest, answer, len(dumps(answer)))
        return answer, False
