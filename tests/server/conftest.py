"""Fixtures for the HTTP server tests: an app on a fresh SQLite store, driven in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient
from server_helpers import LOCAL, READ_TOKEN, WRITE_TOKEN

from chachaml.server.app import create_app
from chachaml.server.settings import Settings, parse_tokens


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(store_url=str(tmp_path / "srv.db"), artifacts_url=str(tmp_path / "srv-blobs"))


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=LOCAL, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def auth_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        store_url=str(tmp_path / "auth.db"),
        tokens=parse_tokens(f"{READ_TOKEN}:read,{WRITE_TOKEN}:write"),
    )
    with TestClient(create_app(settings), base_url=LOCAL, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def new_run(client: TestClient) -> Callable[..., str]:
    def make(**body: Any) -> str:
        r = client.post("/api/runs", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    return make
