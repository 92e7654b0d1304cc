"""``POST /api/runs/{run_id}/artifact-rows`` (the second phase of a remote artifact write) only
records bytes that exist under the row's key with exactly the row's size and sha256, for a run
that exists; a refused row stores nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from server_helpers import assert_error

DATA = b"the real bytes" * 1000


def _row(run_id: str, name: str = "model", data: bytes = DATA, **over: Any) -> dict[str, Any]:
    row = {
        "name": name,
        "path": f"{run_id}/{name}",
        "format": "bytes",
        "content_type": "application/octet-stream",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "created_at": 1,
    }
    row.update(over)
    return row


def _upload(client: TestClient, run_id: str, name: str = "model", data: bytes = DATA) -> None:
    put = client.put(f"/api/store/blobs/{run_id}/{name}", content=data)
    assert put.status_code == 201, put.text


def _rows(client: TestClient, run_id: str) -> list[dict[str, Any]]:
    got = client.get(f"/api/runs/{run_id}/artifacts")
    assert got.status_code == 200, got.text
    rows: list[dict[str, Any]] = got.json()
    return rows


def test_a_row_whose_hash_or_size_differs_from_the_bytes_is_refused(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = new_run()
    _upload(client, rid)
    url = f"/api/runs/{rid}/artifact-rows"
    same_size_other_bytes = hashlib.sha256(b"x" * len(DATA)).hexdigest()
    bad = client.post(url, json=_row(rid, sha256=same_size_other_bytes))
    assert_error(bad, 422, "invalid_input")
    assert "sha256" in bad.json()["error"]["message"]
    assert_error(client.post(url, json=_row(rid, size=len(DATA) + 1)), 422, "invalid_input")
    assert_error(client.post(url, json=_row(rid, size=0)), 422, "invalid_input")
    assert _rows(client, rid) == []
    # The honest row is accepted, once.
    ok = client.post(url, json=_row(rid))
    assert ok.status_code == 201, ok.text
    assert ok.json()["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert client.get(f"/api/runs/{rid}/artifacts/model").content == DATA
    assert_error(client.post(url, json=_row(rid)), 409, "already_exists")
    assert len(_rows(client, rid)) == 1


def test_rows_without_bytes_or_run_are_refused(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = new_run()
    missing = client.post(f"/api/runs/{rid}/artifact-rows", json=_row(rid, name="never-uploaded"))
    assert_error(missing, 404, "not_found")
    ghost = "e" * 32
    unknown = client.post(f"/api/runs/{ghost}/artifact-rows", json=_row(ghost))
    assert_error(unknown, 404, "not_found")
    assert "run" in unknown.json()["error"]["message"]
    assert _rows(client, rid) == []
    assert client.get(f"/api/runs/{ghost}/artifacts").status_code == 404


def test_a_row_pointing_at_another_artifacts_bytes_is_refused(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = new_run()
    _upload(client, rid, "a")
    row = _row(rid, name="b", path=f"{rid}/a")
    assert_error(client.post(f"/api/runs/{rid}/artifact-rows", json=row), 422)
    assert _rows(client, rid) == []
