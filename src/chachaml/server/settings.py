"""Server settings: one frozen value built by the CLI (or a test) and passed to ``create_app``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from chachaml.errors import InvalidInput

__all__ = [
    "LOOPBACK_HOSTS",
    "LOOPBACK_NAMES",
    "Settings",
    "allowed_hosts",
    "host_name",
    "parse_tokens",
]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: ``Host`` header names (port stripped, lowercase, IPv6 in brackets) always accepted.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})

SCOPES = ("read", "write")


def parse_tokens(spec: str | None) -> dict[str, str]:
    """``"tok1:write,tok2:read"`` → ``{"tok1": "write", "tok2": "read"}`` (no scope = write).

    A token given as ``sha256:<hex>`` is already hashed (how tokens are persisted in config).
    """
    out: dict[str, str] = {}
    if not spec:
        return out
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        token, sep, scope = item.rpartition(":")
        if not sep or scope not in SCOPES:
            token, scope = item, "write"
        if token.startswith("sha256:"):
            hashed = token
        else:
            if len(token) < 8:
                raise InvalidInput("tokens must be at least 8 characters long")
            hashed = hash_token(token)
        out[hashed] = scope
    return out


def hash_token(token: str) -> str:
    """The form tokens are kept in (memory and any persisted config): ``sha256:<hex>``."""
    import hashlib

    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def host_name(value: str) -> str:
    """The name part of a ``Host`` header or an address, normalised for comparison: lowercase,
    port and trailing dot removed, IPv6 in brackets (``"[::1]:8080"`` → ``"[::1]"``,
    ``"::1"`` → ``"[::1]"``, ``"LocalHost:80"`` → ``"localhost"``)."""
    text = value.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        return text[: end + 1] if end > 0 else text
    if text.count(":") > 1:  # a bare IPv6 address (no port possible without brackets)
        return f"[{text}]"
    name, sep, port = text.rpartition(":")
    if sep and port.isdigit():
        text = name
    return text[:-1] if text.endswith(".") and len(text) > 1 else text


def allowed_hosts(names: str | Iterable[str] = (), bind_host: str | None = None) -> frozenset[str]:
    """The ``Host`` names a server accepts: loopback, the address it binds (unless a wildcard)
    and ``names`` (an iterable or a comma-separated string; ``"*"`` allows any)."""
    items = names.split(",") if isinstance(names, str) else list(names)
    out = set(LOOPBACK_NAMES)
    if bind_host:
        out.add(host_name(bind_host))
    for raw in items:
        item = str(raw).strip()
        if item:
            out.add("*" if item == "*" else host_name(item))
    return frozenset(out)


@dataclass(frozen=True)
class Settings:
    """Everything the app needs. ``tokens`` maps *hashed* tokens to ``"read"``/``"write"``;
    empty means no authentication."""

    store_url: str | None = None
    artifacts_url: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    max_body_bytes: int = 16 * 1024 * 1024
    max_artifact_bytes: int = 5 * 1024 * 1024 * 1024
    max_page_size: int = 1000
    max_batch_points: int = 100_000
    default_history_points: int = 2000
    idempotency_keys: int = 100_000
    #: How long a processed idempotency key is remembered (a retry later is applied again).
    idempotency_ttl_seconds: float = 24 * 3600
    #: ``Host`` header names served (see :func:`allowed_hosts`; ``"*"`` = any). The default,
    #: loopback only, stops DNS-rebinding pages from talking to a local server.
    allowed_hosts: frozenset[str] = LOOPBACK_NAMES
    #: Seconds a request body may send nothing before the request is dropped (408).
    body_timeout: float = 30.0
    #: Bytes of JSON request bodies held in memory at once, across all requests; a body waits
    #: (up to ``body_timeout``, then 503) until it fits. A body over it runs alone.
    max_inflight_body_bytes: int = 24 * 1024 * 1024

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from ``CHACHAML_STORE``/``CHACHAML_ARTIFACTS``/``CHACHAML_TOKENS``/
        ``CHACHAML_ALLOWED_HOSTS``; keyword arguments that are not None win."""
        values: dict[str, object] = {
            "store_url": os.environ.get("CHACHAML_STORE") or None,
            "artifacts_url": os.environ.get("CHACHAML_ARTIFACTS") or None,
            "tokens": parse_tokens(os.environ.get("CHACHAML_TOKENS")),
            "allowed_hosts": allowed_hosts(os.environ.get("CHACHAML_ALLOWED_HOSTS", "")),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
