"""Per-request access to the app's state (no module globals) and small shared helpers."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from starlette.requests import Request

from chachaml.errors import InvalidInput
from chachaml.server.settings import Settings
from chachaml.store import Store

__all__ = ["IdempotencyCache", "parse_tags", "settings_of", "store_of"]


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


class IdempotencyCache:
    """The responses of recently processed idempotency keys, bounded (oldest forgotten first).

    A key is remembered only after its request succeeded; a retry with the same key gets the
    first response back and is not applied again.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        # One lock per in-flight key: concurrent retries of one batch apply it once.
        self._inflight: dict[str, threading.Lock] = {}

    def key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._inflight.setdefault(key, threading.Lock())

    def get(self, key: str) -> Any:
        with self._lock:
            return self._seen.get(key)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._seen[key] = value
            self._seen.move_to_end(key)
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            self._inflight.pop(key, None)
