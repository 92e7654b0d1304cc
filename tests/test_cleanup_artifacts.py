"""delete_archived removes rows, artifact bytes, model versions and their history; gc removes
orphaned files and reports the bytes freed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import chachaml as ml
from chachaml import cleanup, registry
from chachaml.errors import InUse


def _files(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".staging" not in p.parts
    )


@pytest.fixture
def blobs(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def st(tmp_path: Path, blobs: Path) -> ml.Store:
    store = ml.open_store(str(tmp_path / "c.db"), artifacts=str(blobs))
    with ml.store(store):
        yield store
    store.close()


def _run(payload: bytes, register: str | None = None) -> str:
    with ml.run(experiment="old") as run:
        ml.log_artifact("model", payload)
        ml.log_artifact("plots/loss.png", b"\x89PNG\r\n\x1a\n")
        if register:
            registry.register_model(register, stage="production")
    return run.id


def test_delete_archived_removes_rows_and_artifact_bytes(st: ml.Store, blobs: Path) -> None:
    old1, old2 = _run(b"old" * 1000), _run(b"older")
    ml.archive_runs(older_than_days=0)
    live = _run(b"live")  # finished after the archive: stays
    assert ml.delete_archived() == 2
    assert (
        ml.search_runs(ids=[old1], include_archived=True) == []
        and ml.search_runs(ids=[old2], include_archived=True) == []
    )
    assert _files(blobs) == [f"{live}/model", f"{live}/plots/loss.png"]
    assert sorted(st.meta.artifact_paths()) == _files(blobs)
    assert ml.load_artifact(live, "model") == b"live"


def test_delete_archived_refuses_runs_backing_versions_and_changes_nothing(
    st: ml.Store, blobs: Path
) -> None:
    backing = _run(b"prod", register="churn")
    other = _run(b"other")
    ml.archive_runs(older_than_days=0)
    before = _files(blobs)
    with pytest.raises(InUse) as err:
        ml.delete_archived()
    assert "churn v1" in str(err.value) and backing in str(err.value)
    assert _files(blobs) == before and len(before) == 4
    assert (
        ml.get_run(other) is not None and registry.model_versions("churn")[0]["run_id"] == backing
    )


def test_forced_delete_also_removes_versions_and_their_history(st: ml.Store, blobs: Path) -> None:
    live = _run(b"live")
    registry.register_model("churn", run_id=live)
    backing = _run(b"prod", register="churn")
    registry.promote("churn", 1, "staging")
    ml.archive_runs(older_than_days=0)
    assert ml.delete_archived(force=True) == 2
    assert registry.models()[0]["version_count"] == 0  # the model row (and its notes) remain
    assert registry.model("churn")["history"] == []
    assert ml.search_runs(ids=[backing], include_archived=True) == [] and _files(blobs) == []


def test_gc_deletes_only_old_orphans_and_reports_bytes(st: ml.Store, blobs: Path) -> None:
    run_id = _run(b"referenced")
    orphan = blobs / run_id / "leftover.bin"
    orphan.write_bytes(b"x" * 4096)
    stale_staging = blobs / ".staging" / "put-abandoned"
    stale_staging.write_bytes(b"y" * 100)
    fresh = blobs / "f" / "fresh.bin"
    fresh.parent.mkdir()
    fresh.write_bytes(b"z" * 10)
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    os.utime(stale_staging, (old, old))
    report = cleanup.gc(grace_seconds=3600)
    assert report == {"files_deleted": 1, "bytes_freed": 4196, "skipped": []}
    assert not orphan.exists() and not stale_staging.exists() and fresh.exists()
    assert ml.load_artifact(run_id, "model") == b"referenced"
    assert cleanup.gc(grace_seconds=0) == {"files_deleted": 1, "bytes_freed": 10, "skipped": []}
    assert _files(blobs) == [f"{run_id}/model", f"{run_id}/plots/loss.png"]


def test_gc_skips_files_with_unsafe_names(st: ml.Store, blobs: Path) -> None:
    _run(b"x")
    odd = blobs / "weird\\name"
    odd.write_bytes(b"?")
    report = cleanup.gc(grace_seconds=0)
    assert report["skipped"] == ["weird\\name"] and odd.exists()


def test_an_interrupted_write_leaves_an_orphan_that_blocks_only_until_gc(
    st: ml.Store, blobs: Path
) -> None:
    with ml.run() as run:
        ml.log_artifact("a", b"1")
    # A crash between placing the bytes and inserting the row leaves an orphan where a new
    # artifact "b" of that run would go.
    (blobs / run.id / "b").write_bytes(b"orphan from a crash")
    from chachaml import artifact_api as api

    with pytest.raises(ml.AlreadyExists, match="gc"):
        api.log_artifact_to(st, run.id, "b", b"new")
    cleanup.gc(grace_seconds=0)
    assert api.log_artifact_to(st, run.id, "b", b"new")["size"] == 3
