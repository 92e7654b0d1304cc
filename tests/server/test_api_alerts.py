"""The alert routes: read/write scopes, bodies, the JSON error shape, masked webhooks."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from server_helpers import READ_TOKEN, WRITE_TOKEN, assert_error

R = {"Authorization": f"Bearer {READ_TOKEN}"}
W = {"Authorization": f"Bearer {WRITE_TOKEN}"}
HOOK = "https://hooks.slack.com/services/T0/B0/SECRET"


def _finished_run(c: TestClient, loss: float) -> str:
    run = c.post("/api/runs", json={"experiment": "e"}, headers=W).json()
    body = {"series": [{"key": "loss", "steps": [0], "values": [loss]}]}
    assert c.post(f"/api/runs/{run['id']}/metrics", json=body, headers=W).status_code == 200
    assert c.post(f"/api/runs/{run['id']}/end", json={}, headers=W).status_code == 200
    return str(run["id"])


def test_alert_routes_with_scopes(auth_client: TestClient) -> None:
    c = auth_client
    rule = {"metric": "loss", "op": ">", "threshold": 1.0, "webhook_url": HOOK}
    assert_error(c.put("/api/alerts/high", json=rule), 401)
    assert_error(c.put("/api/alerts/high", json=rule, headers=R), 403)
    resp = c.put("/api/alerts/high", json=rule, headers=W)
    assert resp.status_code == 200, resp.text
    assert resp.json()["webhook_url"] == "https://hooks.slack.com/***"
    listed = c.get("/api/alerts", headers=R).json()
    assert [a["name"] for a in listed] == ["high"] and "SECRET" not in str(listed)
    assert c.get("/api/alerts/high", headers=R).json()["threshold"] == 1.0
    assert_error(c.get("/api/alerts/nope", headers=R), 404, "not_found")
    assert_error(c.post("/api/alerts/check", json={}, headers=R), 403)

    c.put("/api/alerts/high", json={"metric": "loss", "op": ">", "threshold": 1.0}, headers=W)
    run_id = _finished_run(c, 2.0)
    checked = c.post("/api/alerts/check", json={}, headers={**W, "Idempotency-Key": "k1"}).json()
    assert [e["run_id"] for e in checked["triggered"]] == [run_id]
    again = c.post("/api/alerts/check", json={}, headers={**W, "Idempotency-Key": "k1"}).json()
    assert again == checked  # replayed, not re-run
    assert c.post("/api/alerts/check", json={}, headers=W).json()["triggered"] == []
    history: list[dict[str, Any]] = c.get("/api/alerts/high/history", headers=R).json()
    assert [e["run_id"] for e in history] == [run_id]
    assert c.get("/api/alert-history", params={"limit": 5}, headers=R).json() == history
    assert c.post("/api/alerts/high/deactivate", headers=W).json()["active"] is False
    assert c.post("/api/alerts/high/activate", headers=W).json()["active"] is True
    assert_error(c.delete("/api/alerts/high", headers=R), 403)
    assert c.delete("/api/alerts/high", headers=W).json() == {"deleted": True}
    assert_error(c.delete("/api/alerts/high", headers=W), 404, "not_found")


def test_alert_bodies_are_strict(client: TestClient) -> None:
    for bad in (
        {"metric": "loss", "op": "=>", "threshold": 1},
        {"metric": "loss", "op": ">", "threshold": 1, "extra": 1},
        {"metric": "loss", "op": ">", "threshold": "1"},
        {"metric": "", "op": ">", "threshold": 1},
        {"metric": "loss", "op": ">"},
        {"metric": "loss", "op": "nan", "threshold": 1},
        {"metric": "loss", "op": ">", "threshold": 1, "webhook_url": "ftp://x/y"},
        {"metric": "loss", "op": ">", "threshold": 1, "filter": "metrics. >"},
    ):
        resp = c = client.put("/api/alerts/a", json=bad)
        assert 400 <= resp.status_code < 500, (bad, resp.text)
        assert set(c.json()) == {"error"}
    assert client.get("/api/alerts").json() == []
    assert_error(client.post("/api/alerts/check", json={"run_id": "f" * 32}), 404, "not_found")
    assert_error(client.get("/api/alert-history", params={"limit": -1}), 422)
