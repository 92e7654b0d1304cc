"""Unpickling is an explicit trust decision: pickle/joblib artifacts load without asking only
from your own local store (SQLite file + local directory); from a shared store (remote server,
S3, PostgreSQL) they need ``trust=True`` or ``CHACHAML_TRUST_PICKLE=1``, and the refusal
happens before a byte is unpickled. Safe formats load everywhere."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import backends
import chachaml as ml
from chachaml.errors import InvalidInput, UntrustedArtifact

EXPLOITED: list[str] = []


def _mark(what: str) -> str:
    EXPLOITED.append(what)
    return what


class Exploit:
    """Unpickling this calls ``_mark``: a stand-in for ``os.system``."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_mark, ("code ran",))


@pytest.fixture(autouse=True)
def _no_ambient_trust(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CHACHAML_TRUST_PICKLE", raising=False)
    EXPLOITED.clear()
    yield
    EXPLOITED.clear()


def _remote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ml.Store]:
    pytest.importorskip("fastapi")
    from chachaml.server.settings import Settings
    from chachaml.server.testing import LiveServer

    monkeypatch.setenv("CHACHAML_OUTBOX_DIR", str(tmp_path / "outbox"))
    live = LiveServer.start(Settings(store_url=str(tmp_path / "served.db")))
    with live, ml.open_store(live.url) as st:
        yield st


def _sqlite_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ml.Store]:
    with ml.open_store(
        str(tmp_path / "meta.db"), artifacts=backends.s3_location_for(tmp_path)
    ) as st:
        yield st


SHARED: dict[str, Callable[[Path, pytest.MonkeyPatch], Iterator[ml.Store]]] = {
    "remote": _remote,
    "sqlite+s3": _sqlite_s3,
}


@pytest.fixture(params=list(SHARED))
def shared(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ml.Store]:
    yield from SHARED[request.param](tmp_path, monkeypatch)


def test_pickles_from_a_shared_store_need_an_explicit_opt_in(
    shared: ml.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ml.store(shared), ml.run() as run:
        ml.log_artifact("model", Exploit())
        ml.log_artifact("jl", {"w": [1]}, format="joblib")
        ml.registry.register_model("m", artifact="model", stage="production")
    with ml.store(shared):
        for load in (
            lambda: ml.load_artifact(run.id, "model"),
            lambda: ml.load_artifact(run.id, "jl"),
            lambda: ml.registry.load_model("m"),
        ):
            with pytest.raises(UntrustedArtifact) as info:
                load()
            message = str(info.value)
            assert "trust=True" in message and "CHACHAML_TRUST_PICKLE=1" in message
            assert isinstance(info.value, InvalidInput) and info.value.http_status == 422
        assert EXPLOITED == []  # refused before anything was unpickled
        assert ml.load_artifact(run.id, "model", trust=True) == "code ran"
        assert ml.registry.load_model("m", trust=True) == "code ran"
        assert ml.load_artifact(run.id, "jl", trust=True) == {"w": [1]}
        assert EXPLOITED == ["code ran", "code ran"]
        monkeypatch.setenv("CHACHAML_TRUST_PICKLE", "1")
        assert ml.load_artifact(run.id, "jl") == {"w": [1]}
        monkeypatch.setenv("CHACHAML_TRUST_PICKLE", "yes")  # only "1" opts in
        with pytest.raises(UntrustedArtifact):
            ml.load_artifact(run.id, "jl")


def test_safe_formats_load_from_a_shared_store_without_trust(shared: ml.Store) -> None:
    arr = np.arange(6, dtype=np.int32).reshape(2, 3)
    with ml.store(shared), ml.run() as run:
        ml.log_artifact("cfg", {"lr": 0.1}, format="json")
        ml.log_artifact("readme", "# hi", format="markdown")
        ml.log_artifact("note", "plain")
        ml.log_artifact("raw", b"\x00\x01")
        ml.log_artifact("arr", arr)
        ml.log_table("t", {"headers": ["a"], "rows": [[1]]})
    with ml.store(shared):
        assert ml.load_artifact(run.id, "cfg") == {"lr": 0.1}
        assert ml.load_artifact(run.id, "readme") == "# hi"
        assert ml.load_artifact(run.id, "note") == "plain"
        assert ml.load_artifact(run.id, "raw") == b"\x00\x01"
        assert np.array_equal(ml.load_artifact(run.id, "arr"), arr)
        assert ml.load_artifact(run.id, "t") == {"headers": ["a"], "rows": [[1]]}


def test_a_parquet_frame_loads_from_a_shared_store_without_trust(shared: ml.Store) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    with ml.store(shared), ml.run() as run:
        assert ml.log_artifact("df", frame)["format"] == "parquet"
    with ml.store(shared):
        pd.testing.assert_frame_equal(ml.load_artifact(run.id, "df"), frame)


@pytest.mark.parametrize("db", ["file", ":memory:"])
def test_your_own_local_store_loads_pickles_without_asking(tmp_path: Path, db: str) -> None:
    url = str(tmp_path / "own.db") if db == "file" else "sqlite:///:memory:"
    with ml.store(url, artifacts=str(tmp_path / "blobs")), ml.run() as run:
        ml.log_artifact("model", Exploit())
        ml.registry.register_model("m", stage="production")
        assert ml.load_artifact(run.id, "model") == "code ran"
        assert ml.registry.load_model("m") == "code ran"
    assert EXPLOITED == ["code ran", "code ran"]


def test_a_local_database_with_remote_bytes_is_not_your_own_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite metadata with bytes on S3: others can write the bytes, so no implicit trust."""
    for st in _sqlite_s3(tmp_path, monkeypatch):
        with ml.store(st), ml.run() as run:
            ml.log_artifact("model", Exploit())
        with pytest.raises(UntrustedArtifact):
            ml.load_artifact(run.id, "model", store=st)
    assert EXPLOITED == []
