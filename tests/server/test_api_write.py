"""The write API: runs, params, metrics (batched, idempotent, NaN), tags, notes, datasets,
artifacts, experiments, registry — and its error shapes."""

from __future__ import annotations

import math
from collections.abc import Callable

from fastapi.testclient import TestClient
from server_helpers import assert_error


def test_a_run_created_over_http_has_its_fields_and_ends_with_a_validated_status(
    client: TestClient,
) -> None:
    r = client.post(
        "/api/runs",
        json={"experiment": "curl", "name": "first", "tags": {"team": "a"}, "created_by": "bob"},
    )
    assert r.status_code == 201
    run = r.json()
    assert (run["experiment"], run["name"], run["status"], run["created_by"]) == (
        "curl",
        "first",
        "running",
        "bob",
    )
    assert run["tags"] == {"team": "a"}
    assert_error(client.post(f"/api/runs/{run['id']}/end", json={"status": "running"}), 422)
    assert_error(client.post(f"/api/runs/{run['id']}/end", json={"status": "done"}), 422)
    ended = client.post(f"/api/runs/{run['id']}/end", json={"status": "failed", "error": "boom"})
    assert ended.json()["status"] == "failed" and ended.json()["error"] == "boom"


def test_unknown_runs_are_404_on_every_write(client: TestClient) -> None:
    rid = "0" * 32
    calls = [
        ("post", f"/api/runs/{rid}/end", {"status": "completed"}),
        ("post", f"/api/runs/{rid}/params", {"params": {"a": 1}}),
        ("post", f"/api/runs/{rid}/tags", {"tags": {"a": "b"}}),
        ("put", f"/api/runs/{rid}/note", {"note": "x"}),
        ("post", f"/api/runs/{rid}/datasets", {"role": "train"}),
        (
            "post",
            f"/api/runs/{rid}/metrics",
            {"series": [{"key": "a", "steps": [0], "values": [1]}]},
        ),
        ("patch", f"/api/runs/{rid}", {"name": "x"}),
    ]
    for method, path, body in calls:
        assert_error(getattr(client, method)(path, json=body), 404, "not_found")
    assert_error(client.put(f"/api/runs/{rid}/artifacts/a.txt", content=b"x"), 404)


def test_metric_batches_store_many_keys_and_steps_and_carry_nan(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = new_run()
    body = {
        "series": [
            {"key": "loss", "steps": [0, 1, 2], "values": [1.0, "NaN", 0.25]},
            {
                "key": "acc",
                "steps": [0, 5],
                "values": ["Infinity", "-Infinity"],
                "timestamps": [10, 20],
            },
        ]
    }
    assert client.post(f"/api/runs/{rid}/metrics", json=body).json()["stored"] == 5
    loss = client.get(f"/api/runs/{rid}/metrics/history", params={"key": "loss"}).json()
    assert [p["value"] for p in loss["points"]] == [1.0, "NaN", 0.25]
    acc = client.get(
        f"/api/runs/{rid}/metrics/history",
        params={"key": "acc"},
        headers={"X-Chachaml-Nan": "tokens"},
    )
    assert b"Infinity" in acc.content and b"-Infinity" in acc.content
    assert [p["timestamp"] for p in acc.json()["points"]] == [10, 20]
    assert_error(
        client.post(
            f"/api/runs/{rid}/metrics",
            json={"series": [{"key": "x", "steps": [0, 1], "values": [1.0]}]},
        ),
        422,
    )
    assert_error(
        client.post(
            f"/api/runs/{rid}/metrics",
            json={"series": [{"key": "x", "steps": [0], "values": ["abc"]}]},
        ),
        422,
    )


def test_a_replayed_idempotency_key_is_not_applied_again(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = new_run()
    first = {"series": [{"key": "m", "steps": [0], "values": [1.0]}]}
    later = {"series": [{"key": "m", "steps": [0], "values": [2.0]}]}
    h1 = {"Idempotency-Key": "batch-1"}
    assert (
        client.post(f"/api/runs/{rid}/metrics", json=first, headers=h1).json()["replayed"] is False
    )
    client.post(f"/api/runs/{rid}/metrics", json=later, headers={"Idempotency-Key": "batch-2"})
    # A late retry of batch 1 must not overwrite the newer value of step 0.
    again = client.post(f"/api/runs/{rid}/metrics", json=first, headers=h1).json()
    assert again["replayed"] is True
    points = client.get(f"/api/runs/{rid}/metrics/history", params={"key": "m"}).json()["points"]
    assert [(p["step"], p["value"]) for p in points] == [(0, 2.0)]


def test_multi_run_batches_are_all_or_nothing(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    a, b = new_run(), new_run()
    ok = {
        "series": [
            {"run_id": a, "key": "x", "steps": [0], "values": [1]},
            {"run_id": b, "key": "x", "steps": [0], "values": [2]},
        ]
    }
    assert client.post("/api/metrics", json=ok).json()["stored"] == 2
    bad = {
        "series": [
            {"run_id": a, "key": "y", "steps": [0], "values": [1]},
            {"run_id": "f" * 32, "key": "y", "steps": [0], "values": [2]},
        ]
    }
    assert_error(client.post("/api/metrics", json=bad), 404)
    assert client.get(f"/api/runs/{a}/metrics/history", params={"key": "y"}).json()["points"] == []
    assert_error(
        client.post("/api/metrics", json={"series": [{"key": "z", "steps": [], "values": []}]}), 422
    )


def test_params_tags_notes_datasets_round_trip(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = new_run()
    assert (
        client.post(
            f"/api/runs/{rid}/params", json={"params": {"lr": 0.1, "layers": [1, 2]}}
        ).status_code
        == 200
    )
    assert_error(
        client.post(f"/api/runs/{rid}/params", json={"params": {"lr": 0.2}}), 409, "param_conflict"
    )
    client.post(f"/api/runs/{rid}/tags", json={"tags": {"reviewed": True}})
    client.put(f"/api/runs/{rid}/note", json={"note": "# hi"})
    ds = client.post(f"/api/runs/{rid}/datasets", json={"role": "test", "n_rows": 10})
    assert ds.status_code == 201
    client.patch(f"/api/runs/{rid}", json={"name": "renamed"})
    run = client.get(f"/api/runs/{rid}").json()
    assert run["params"] == {"lr": 0.1, "layers": [1, 2]}
    assert (
        run["tags"] == {"reviewed": "true"} and run["note"] == "# hi" and run["name"] == "renamed"
    )
    assert client.get(f"/api/runs/{rid}/datasets").json()[0]["n_rows"] == 10
    assert client.delete(f"/api/runs/{rid}/tags/reviewed").json() == {"removed": True}
    assert client.get(f"/api/runs/{rid}/tags").json() == {}
    assert_error(client.post(f"/api/runs/{rid}/params", json={"params": {}, "extra": 1}), 422)


def test_artifact_upload_is_streamed_typed_and_never_overwrites(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = new_run()
    payload = bytes(range(256)) * 1000
    r = client.put(f"/api/runs/{rid}/artifacts/weights/model.bin", content=payload)
    assert r.status_code == 201 and r.json()["size"] == len(payload)
    assert_error(client.put(f"/api/runs/{rid}/artifacts/weights/model.bin", content=b"x"), 409)
    got = client.get(f"/api/runs/{rid}/artifacts/weights/model.bin")
    assert got.content == payload and got.headers["content-type"] == "application/octet-stream"
    client.put(
        f"/api/runs/{rid}/artifacts/report.json",
        content=b'{"a": 1}',
        headers={"Content-Type": "application/json"},
    )
    report = client.get(f"/api/runs/{rid}/artifacts/report.json")
    assert report.headers["content-type"] == "application/json"
    assert [a["name"] for a in client.get(f"/api/runs/{rid}/artifacts").json()] == [
        "weights/model.bin",
        "report.json",
    ]


def test_experiments_register_and_promote(client: TestClient, new_run: Callable[..., str]) -> None:
    rid = new_run(experiment="exp")
    assert (
        client.post("/api/experiments", json={"name": "exp", "description": "d"}).json()[
            "description"
        ]
        == "d"
    )
    client.put(f"/api/runs/{rid}/artifacts/model", content=b"weights")
    v1 = client.post("/api/models/churn/versions", json={"run_id": rid, "artifact": "model"})
    assert v1.status_code == 201 and v1.json()["version"] == 1
    client.post("/api/models/churn/versions", json={"run_id": rid, "stage": "production"})
    promoted = client.post("/api/models/churn/versions/1/stage", json={"stage": "production"})
    assert promoted.json()["stage"] == "production"
    assert client.get("/api/models/churn/versions/2").json()["stage"] == "archived"
    # Promoting a missing version leaves production alone (SPEC §14 item 5).
    assert_error(
        client.post("/api/models/churn/versions/9/stage", json={"stage": "production"}), 404
    )
    assert client.get("/api/models/churn/stages/production").json()["version"] == 1
    assert_error(
        client.post("/api/models/churn/versions", json={"run_id": rid, "artifact": "nope"}), 404
    )


def test_non_finite_values_never_crash_responses(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = new_run()
    # The bare non-standard tokens are accepted in request bodies ...
    sent = client.post(
        f"/api/runs/{rid}/params",
        content=b'{"params": {"p": Infinity, "q": NaN}}',
        headers={"Content-Type": "application/json"},
    )
    assert sent.status_code == 200, sent.text
    # ... and come back as strings by default, or as tokens on request.
    run = client.get(f"/api/runs/{rid}")
    assert run.status_code == 200 and run.json()["params"] == {"p": "Infinity", "q": "NaN"}
    raw = client.get(f"/api/runs/{rid}", headers={"X-Chachaml-Nan": "tokens"})
    import json

    params = json.loads(raw.content)["params"]
    assert params["p"] == math.inf and math.isnan(params["q"])
