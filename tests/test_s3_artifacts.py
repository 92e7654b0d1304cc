"""The S3-compatible artifact store against a real S3 HTTP server on loopback (moto's server).

Behaviour shared with the local store is in ``tests/conformance``; here: multipart streaming,
the recorded sha256, the download cache and its verification, conditional writes, prefixes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import backends
import chachaml as ml
from chachaml.artifacts import s3 as s3mod
from chachaml.errors import AlreadyExists, InvalidInput, NotFound, StoreUnavailable

MiB = 1024 * 1024


@pytest.fixture
def location(tmp_path: Path) -> str:
    return backends.s3_location_for(tmp_path)


@pytest.fixture
def s3_store(tmp_path: Path, location: str) -> Iterator[ml.Store]:
    st = ml.open_store(str(tmp_path / "meta.db"), artifacts=location)
    with ml.store(st):
        yield st
    st.close()


@pytest.fixture
def client() -> Iterator[Any]:
    c = backends.s3_client()
    yield c
    c.close()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_large_files_stream_up_as_multipart_with_sha256_recorded(
    s3_store: ml.Store, tmp_path: Path, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3mod, "PART_SIZE", 5 * MiB)
    data = os.urandom(12 * MiB + 7)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    with ml.run() as run:
        meta = ml.log_file("weights.bin", str(source))
    assert (meta["size"], meta["sha256"]) == (len(data), _sha(data))
    art = s3_store.artifacts
    assert isinstance(art, s3mod.S3ArtifactStore)
    head = client.head_object(Bucket=art.bucket, Key=art.object_key(meta["path"]))
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    assert head["Metadata"]["sha256"] == _sha(data)
    path = ml.artifact_path(run.id, "weights.bin")
    assert path.startswith(os.environ["CHACHAML_CACHE_DIR"])
    assert Path(path).read_bytes() == data


def test_artifact_path_downloads_once_into_the_cache(s3_store: ml.Store, client: Any) -> None:
    with ml.run() as run:
        ml.log_artifact("notes", "hello", format="text")
    path = ml.artifact_path(run.id, "notes")
    assert Path(path).read_text() == "hello"
    art = s3_store.artifacts
    assert isinstance(art, s3mod.S3ArtifactStore)
    # Keys are immutable, so the cached copy is served without asking the server again.
    client.delete_object(Bucket=art.bucket, Key=art.object_key(f"{run.id}/notes"))
    assert ml.artifact_path(run.id, "notes") == path
    assert ml.load_artifact(run.id, "notes") == "hello"


def test_a_tampered_object_fails_the_sha256_check_and_is_not_cached(
    s3_store: ml.Store, client: Any
) -> None:
    art = s3_store.artifacts
    assert isinstance(art, s3mod.S3ArtifactStore)
    client.put_object(
        Bucket=art.bucket, Key=art.object_key("r/x"), Body=b"evil", Metadata={"sha256": _sha(b"a")}
    )
    with pytest.raises(StoreUnavailable, match="sha256"):
        art.local_path("r/x")
    assert not os.path.exists(art.cache_path("r/x"))


def test_the_conditional_write_refuses_an_existing_key_even_after_the_check(
    s3_store: ml.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    art = s3_store.artifacts
    assert isinstance(art, s3mod.S3ArtifactStore)
    first = art.writer()
    first.write(b"first")
    first.commit("r/k")
    # Simulate a concurrent writer that passed the existence check before "first" committed.
    monkeypatch.setattr(art, "exists", lambda key: False)
    second = art.writer()
    second.write(b"second")
    with pytest.raises(AlreadyExists):
        second.commit("r/k")
    with art.open("r/k") as stream:
        assert stream.read() == b"first"


def test_prefixes_isolate_stores_and_delete_removes_object_and_cache(
    tmp_path: Path, location: str
) -> None:
    bucket = location[len("s3://") :].split("/", 1)[0]
    one = s3mod.S3ArtifactStore(f"s3://{bucket}/one")
    two = s3mod.S3ArtifactStore(f"s3://{bucket}/two/")
    try:
        for store, body in ((one, b"1"), (two, b"22")):
            writer = store.writer()
            writer.write(body)
            writer.commit("run/a")
        assert [(o.key, o.size) for o in one.iter_keys()] == [("run/a", 1)]
        assert [(o.key, o.size) for o in two.iter_keys()] == [("run/a", 2)]
        assert two.url == f"s3://{bucket}/two"
        cached = one.local_path("run/a")
        assert one.sha256_of("run/a") == _sha(b"1")
        assert one.delete("run/a") == 1 and one.delete("run/a") == 0
        assert not os.path.exists(cached) and not one.exists("run/a")
        with pytest.raises(NotFound):
            one.size("run/a")
        with pytest.raises(NotFound):
            one.open("run/a")
        with pytest.raises(InvalidInput):
            one.exists("../two/run/a")
    finally:
        one.close()
        two.close()


def test_a_missing_bucket_is_store_unavailable_and_bad_locations_are_refused() -> None:
    backends.s3_endpoint()
    store = s3mod.S3ArtifactStore("s3://no-such-bucket-here/x")
    try:
        writer = store.writer()
        writer.write(b"x")
        with pytest.raises(StoreUnavailable):
            writer.commit("r/a")
    finally:
        store.close()
    with pytest.raises(InvalidInput):
        s3mod.S3ArtifactStore("s3:///prefix")
    with pytest.raises(InvalidInput):
        s3mod.S3ArtifactStore("s3://bucket/../x")
