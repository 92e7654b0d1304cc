"""HTTP routes of pipelines: reads, the remote store's writes, errors and auth scopes."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from server_helpers import READ_TOKEN, WRITE_TOKEN, assert_error


def _pipeline(client: TestClient, new_run: Callable[..., str], steps: list[str]) -> str:
    pid = new_run(name="p")
    r = client.post("/api/pipelines", json={"id": pid, "name": "p", "steps": steps})
    assert r.status_code == 201, r.text
    assert [s["status"] for s in r.json()["steps"]] == ["pending"] * len(steps)
    return pid


def test_write_then_read_a_pipeline(client: TestClient, new_run: Callable[..., str]) -> None:
    pid = _pipeline(client, new_run, ["load", "fit"])
    child = new_run(name="load", parent_run_id=pid)
    r = client.put(
        f"/api/pipelines/{pid}/steps/0",
        json={"status": "running", "run_id": child, "started_at": 1000},
    )
    assert r.status_code == 200 and r.json() == {"ok": True}
    body = client.get(f"/api/pipelines/{pid[:8]}").json()
    assert body["id"] == pid and body["status"] == "running"
    assert [(s["name"], s["status"], s["run_id"]) for s in body["steps"]] == [
        ("load", "running", child),
        ("fit", "pending", None),
    ]
    assert client.post(f"/api/runs/{child}/end", json={"status": "failed"}).status_code == 200
    client.put(
        f"/api/pipelines/{pid}/steps/0",
        json={
            "status": "failed",
            "run_id": child,
            "started_at": 1000,
            "finished_at": 1500,
            "error": "ValueError: x",
        },
    )
    client.put(f"/api/pipelines/{pid}/steps/1", json={"status": "skipped"})
    client.post(f"/api/runs/{pid}/end", json={"status": "failed"})
    listing = client.get("/api/pipelines", params={"status": "failed", "name": "p"}).json()
    assert [p["id"] for p in listing["pipelines"]] == [pid]
    assert listing["limit"] == 50 and listing["offset"] == 0
    step = client.get(f"/api/pipelines/{pid}").json()["steps"][0]
    assert step["duration_ms"] == 500 and step["error"] == "ValueError: x"
    assert client.get("/api/pipelines", params={"status": "running"}).json()["pipelines"] == []


def test_errors_have_the_json_shape(client: TestClient, new_run: Callable[..., str]) -> None:
    assert_error(client.get(f"/api/pipelines/{'0' * 32}"), 404, "not_found")
    assert_error(client.get("/api/pipelines/zz"), 422)
    assert_error(client.get("/api/pipelines", params={"status": "odd"}), 422)
    assert_error(client.get("/api/pipelines", params={"limit": 10**9}), 422)
    body = {"id": "1" * 32, "name": "p", "steps": ["a"]}
    assert_error(client.post("/api/pipelines", json=body), 404, "not_found")
    pid = _pipeline(client, new_run, ["a"])
    assert_error(client.post("/api/pipelines", json={**body, "id": pid}), 409, "already_exists")
    for bad in (
        {**body, "steps": []},
        {**body, "steps": ["a", "a"]},
        {**body, "extra": 1},
        {**body, "resumed_from": "nope"},
    ):
        assert_error(client.post("/api/pipelines", json={**bad, "id": pid}), 422)
    assert_error(client.put(f"/api/pipelines/{pid}/steps/3", json={"status": "skipped"}), 404)
    assert_error(client.put(f"/api/pipelines/{pid}/steps/0", json={"status": "exploded"}), 422)
    unknown_run = {"status": "running", "run_id": "2" * 32}
    assert_error(client.put(f"/api/pipelines/{pid}/steps/0", json=unknown_run), 404)
    assert_error(client.put(f"/api/pipelines/{'3' * 32}/steps/0", json={"status": "skipped"}), 404)
    assert client.get(f"/api/pipelines/{pid}").json()["steps"][0]["status"] == "pending"


def test_reads_need_a_token_and_writes_a_write_token(auth_client: TestClient) -> None:
    read = {"Authorization": f"Bearer {READ_TOKEN}"}
    write = {"Authorization": f"Bearer {WRITE_TOKEN}"}
    assert_error(auth_client.get("/api/pipelines"), 401)
    assert auth_client.get("/api/pipelines", headers=read).status_code == 200
    run = auth_client.post("/api/runs", json={"name": "p"}, headers=write).json()["id"]
    body = {"id": run, "name": "p", "steps": ["a"]}
    assert_error(auth_client.post("/api/pipelines", json=body, headers=read), 403)
    assert_error(auth_client.post("/api/pipelines", json=body), 401)
    assert auth_client.post("/api/pipelines", json=body, headers=write).status_code == 201
    step = {"status": "skipped"}
    assert_error(auth_client.put(f"/api/pipelines/{run}/steps/0", json=step, headers=read), 403)
    assert auth_client.put(f"/api/pipelines/{run}/steps/0", json=step, headers=write).is_success
    assert auth_client.get(f"/api/pipelines/{run}", headers=read).json()["name"] == "p"
