"""Server settings: one frozen value built by the CLI (or a test) and passed to ``create_app``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from chachaml.errors import InvalidInput

__all__ = ["LOOPBACK_HOSTS", "Settings", "parse_tokens"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

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

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from ``CHACHAML_STORE``/``CHACHAML_ARTIFACTS``/``CHACHAML_TOKENS``; keyword
        arguments that are not None win."""
        values: dict[str, object] = {
            "store_url": os.environ.get("CHACHAML_STORE") or None,
            "artifacts_url": os.environ.get("CHACHAML_ARTIFACTS") or None,
            "tokens": parse_tokens(os.environ.get("CHACHAML_TOKENS")),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
