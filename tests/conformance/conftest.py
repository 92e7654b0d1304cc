"""The conformance suite: backend-agnostic tests that every store implementation must pass.

Tests here use only the public API and the store protocols (``store.meta``, ``store.artifacts``),
never SQL or file-system paths. A new backend (PostgreSQL, S3, remote) joins by adding a factory
to ``STORE_FACTORIES``; every test in this folder then runs against it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import chachaml as ml

StoreFactory = Callable[[Path], ml.Store]


def _sqlite_local(tmp: Path) -> ml.Store:
    return ml.open_store(str(tmp / "meta.db"), artifacts=str(tmp / "blobs"))


def _sqlite_memory_local(tmp: Path) -> ml.Store:
    return ml.open_store("sqlite:///:memory:", artifacts=f"file://{tmp / 'blobs'}")


STORE_FACTORIES: dict[str, StoreFactory] = {
    "sqlite-file+local": _sqlite_local,
    "sqlite-memory+local": _sqlite_memory_local,
}


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
