"""The conformance suite: backend-agnostic tests that every store implementation must pass.

Tests here use only the public API and the store protocols (``store.meta``, ``store.artifacts``),
never SQL or file-system paths. A new backend (PostgreSQL, S3, remote) joins by adding a factory
to ``STORE_FACTORIES``; every test in this folder then runs against it unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import backends
import chachaml as ml

StoreFactory = Callable[[Path], ml.Store]


def _sqlite_local(tmp: Path) -> ml.Store:
    return ml.open_store(str(tmp / "meta.db"), artifacts=str(tmp / "blobs"))


def _sqlite_memory_local(tmp: Path) -> ml.Store:
    return ml.open_store("sqlite:///:memory:", artifacts=f"file://{tmp / 'blobs'}")


def _remote(tmp: Path, served_store: str) -> ml.Store:
    """A chachaml server on loopback (backed by ``served_store``) and a remote store talking to
    it; the server stops when the client store closes."""
    pytest.importorskip("fastapi")
    from chachaml.server.settings import Settings
    from chachaml.server.testing import LiveServer

    live = LiveServer.start(
        Settings(store_url=served_store, artifacts_url=str(tmp / "served-blobs"))
    )
    os.environ["CHACHAML_OUTBOX_DIR"] = str(tmp / "outbox")
    client = ml.open_store(live.url)
    close = client.close

    def close_both() -> None:
        try:
            close()
        finally:
            live.stop()

    client.close = close_both  # type: ignore[method-assign]
    return client


def _remote_sqlite(tmp: Path) -> ml.Store:
    return _remote(tmp, str(tmp / "served.db"))


def _remote_postgres(tmp: Path) -> ml.Store:
    return _remote(tmp, backends.pg_url_for(tmp))


def _postgres_local(tmp: Path) -> ml.Store:
    return ml.open_store(backends.pg_url_for(tmp), artifacts=str(tmp / "blobs"))


def _sqlite_s3(tmp: Path) -> ml.Store:
    return ml.open_store(str(tmp / "meta.db"), artifacts=backends.s3_location_for(tmp))


def _postgres_s3(tmp: Path) -> ml.Store:
    return ml.open_store(backends.pg_url_for(tmp), artifacts=backends.s3_location_for(tmp))


STORE_FACTORIES: dict[str, StoreFactory] = {
    "sqlite-file+local": _sqlite_local,
    "sqlite-memory+local": _sqlite_memory_local,
    "postgres+local": _postgres_local,
    "sqlite+s3": _sqlite_s3,
    "postgres+s3": _postgres_s3,
    "remote(sqlite)": _remote_sqlite,
    "remote(postgresql)": _remote_postgres,
}


@pytest.fixture(autouse=True)
def _trusted_pickles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Round trips of pickle/joblib are checked on every backend; loading them from a shared
    store needs an explicit opt-in (that rule is tested in tests/test_pickle_trust.py)."""
    monkeypatch.setenv("CHACHAML_TRUST_PICKLE", "1")


@pytest.fixture(params=list(STORE_FACTORIES))
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    """A factory for the backend under test (for tests that open several handles)."""
    return STORE_FACTORIES[request.param]


@pytest.fixture
def conformance_store(store_factory: StoreFactory, tmp_path: Path) -> Iterator[ml.Store]:
    """A fresh store of the backend under test, made current for the test."""
    st = store_factory(tmp_path)
    with ml.store(st):
        yield st
    st.close()
