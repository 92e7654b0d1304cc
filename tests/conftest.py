"""Shared fixtures.

Every test runs with its working directory and ``CHACHAML_STORE`` pointing into a temporary
folder, so nothing is ever written into the repository, and with the process default store reset.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import chachaml as ml
from chachaml import context


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHACHAML_STORE", str(tmp_path / "default.db"))
    monkeypatch.delenv("CHACHAML_ARTIFACTS", raising=False)
    monkeypatch.delenv("CHACHA_USER", raising=False)
    monkeypatch.setenv("CHACHAML_CACHE_DIR", str(tmp_path / "cache"))
    old = context._reset_for_tests()
    if old is not None:
        old.close()
    token = context._run_var.set(None)
    yield
    context._run_var.reset(token)
    leftover = context._reset_for_tests()
    if leftover is not None:
        leftover.close()


@pytest.fixture(autouse=True, scope="session")
def _test_servers() -> Iterator[None]:
    """Drop PostgreSQL test schemas and stop the S3 test server at the end of the session."""
    yield
    import backends

    backends.cleanup()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "chachaml.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[ml.Store]:
    """A fresh SQLite store on disk, made current for the test."""
    st = ml.open_store(str(db_path))
    with ml.store(st):
        yield st
    st.close()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"
