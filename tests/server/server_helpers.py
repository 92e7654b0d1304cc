"""Helpers shared by the server tests (a module of its own: every test folder has a conftest)."""

from __future__ import annotations

from typing import Any

READ_TOKEN = "read-token-123"
WRITE_TOKEN = "write-token-456"


def assert_error(resp: Any, status: int, code: str | None = None) -> None:
    """``resp`` has ``status`` and exactly the ``{"error": {"code", "message"}}`` body."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    if code is not None:
        assert body["error"]["code"] == code


#: The base URL of in-process test clients: a loopback Host, as a browser on this machine sends.
LOCAL = "http://127.0.0.1"
