"""Hostile input: path traversal in every path-taking parameter, oversize bodies, wrong content
types, malformed JSON — always a 4xx with the error shape, never a 5xx."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_helpers import LOCAL, assert_error

from chachaml.server.app import create_app
from chachaml.server.settings import Settings

TRAVERSALS = [
    "../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2E%2E/%2E%2E/secret",
    "a/../../b",
    "a\\..\\b",
    "%2Fetc%2Fpasswd",
    "nul%00byte",
    "%2E%2E",  # (literal ".." and "/./" are normalised away by the HTTP client itself)
    "a/%2E/b",
    "a//b",
    "C:%5Cwindows",
]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_traversal_in_artifact_names_is_refused_everywhere(
    client: TestClient, new_run: Callable[..., str], name: str, tmp_path: Path
) -> None:
    rid = new_run()
    urls = [
        ("get", f"/api/runs/{rid}/artifacts/{name}"),
        ("get", f"/api/runs/{rid}/artifact-info/{name}"),
        ("put", f"/api/runs/{rid}/artifacts/{name}"),
        ("get", f"/api/store/blobs/{rid}/{name}"),
        ("get", f"/api/store/blob-info/{rid}/{name}"),
        ("put", f"/api/store/blobs/{rid}/{name}"),
        ("delete", f"/api/store/blobs/{rid}/{name}"),
    ]
    for method, url in urls:
        kwargs = {"content": b"evil"} if method == "put" else {}
        resp = getattr(client, method)(url, **kwargs)
        assert 400 <= resp.status_code < 500, (url, resp.status_code)
        assert set(resp.json()) == {"error"}
    assert client.get(f"/api/runs/{rid}/artifacts").json() == []
    assert not (tmp_path / "passwd").exists() and not (tmp_path / "secret").exists()


@pytest.mark.parametrize("bad", ["..", "../x", "%2E%2E", "ABC", "0" * 31, "g" * 32, "a b"])
def test_traversal_and_garbage_in_run_ids_is_refused(client: TestClient, bad: str) -> None:
    for method, url in [
        ("get", f"/api/runs/{bad}"),
        ("get", f"/api/runs/{bad}/tags"),
        ("post", f"/api/runs/{bad}/end"),
        ("put", f"/api/runs/{bad}/artifacts/x"),
    ]:
        kwargs = {"json": {"status": "completed"}} if method == "post" else {}
        if method == "put":
            kwargs = {"content": b"x"}
        resp = getattr(client, method)(url, **kwargs)
        assert 400 <= resp.status_code < 500, (url, resp.status_code)


def test_oversize_bodies_are_refused(tmp_path: Path, new_run: Callable[..., str]) -> None:
    settings = Settings(
        store_url=str(tmp_path / "s.db"),
        max_body_bytes=1024,
        max_artifact_bytes=2048,
        max_batch_points=10,
    )
    with TestClient(create_app(settings), base_url=LOCAL, raise_server_exceptions=False) as c:
        rid = c.post("/api/runs", json={}).json()["id"]
        assert_error(c.post(f"/api/runs/{rid}/note", json={"note": "x" * 5000}), 413, "too_large")
        assert_error(c.put(f"/api/runs/{rid}/artifacts/big", content=b"x" * 4096), 413)

        def chunks():  # no Content-Length: the cap is enforced while streaming
            for _ in range(10):
                yield b"x" * 512

        assert_error(c.put(f"/api/runs/{rid}/artifacts/streamed", content=chunks()), 413)
        assert c.get(f"/api/runs/{rid}/artifacts").json() == []
        many = {"series": [{"key": "k", "steps": list(range(11)), "values": [0.0] * 11}]}
        assert_error(c.post(f"/api/runs/{rid}/metrics", json=many), 413)


def test_wrong_content_types_and_malformed_json_are_refused(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = new_run()
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        resp = client.post(
            "/api/runs", content=b'{"experiment": "x"}', headers={"Content-Type": ctype}
        )
        assert_error(resp, 415, "unsupported_media_type")
    assert_error(
        client.post("/api/runs", content=b"{nope", headers={"Content-Type": "application/json"}),
        422,
    )
    assert_error(client.post("/api/runs", json=[1, 2]), 422)
    assert_error(client.post("/api/runs", json={"experiment": "x", "evil": 1}), 422)
    assert_error(client.post(f"/api/runs/{rid}/tags", json={"tags": {"k\x00": "v"}}), 422)
    assert_error(
        client.put(
            f"/api/runs/{rid}/artifacts/x", content=b"x", params={"content_type": "not a type"}
        ),
        422,
    )


def test_unexpected_errors_become_json_500s(tmp_path: Path) -> None:
    app = create_app(Settings(store_url=str(tmp_path / "s.db")))

    @app.get("/api/boom", dependencies=[])
    def boom() -> None:
        raise RuntimeError("kaboom")

    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as c:
        resp = c.get("/api/boom")
    assert_error(resp, 500, "internal")
    assert "kaboom" not in resp.text
