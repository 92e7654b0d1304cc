"""The read API mirrors the query functions: runs (filters, pagination, sorting, count), run,
downsampled history, compare, search, best, export, experiments, models, diff, artifacts."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from fastapi.testclient import TestClient
from server_helpers import assert_error


def _log(client: TestClient, rid: str, key: str, values: list[float]) -> None:
    body = {"series": [{"key": key, "steps": list(range(len(values))), "values": values}]}
    assert client.post(f"/api/runs/{rid}/metrics", json=body).status_code == 200


def test_runs_listing_filters_pages_sorts_and_counts(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    ids = []
    for i in range(7):
        rid = new_run(experiment="a" if i % 2 else "b", tags={"i": str(i)})
        _log(client, rid, "acc", [i / 10])
        ids.append(rid)
    page = client.get("/api/runs", params={"limit": 3, "count": "true"}).json()
    assert page["count"] == 7 and len(page["runs"]) == 3
    assert [r["id"] for r in page["runs"]] == ids[::-1][:3]
    rest = client.get("/api/runs", params={"limit": 3, "offset": 6}).json()["runs"]
    assert [r["id"] for r in rest] == [ids[0]]
    by_acc = client.get("/api/runs", params={"order_by": "metrics.acc desc", "limit": 2}).json()
    assert [r["id"] for r in by_acc["runs"]] == [ids[6], ids[5]]
    only_a = client.get("/api/runs", params={"experiment": "a", "count": "true"}).json()
    assert only_a["count"] == 3
    expr = client.get("/api/runs", params={"filter": "metrics.acc >= 0.5 and experiment = 'b'"})
    assert {r["id"] for r in expr.json()["runs"]} == {ids[6]}
    tagged = client.get("/api/runs", params={"tag": "i=3"}).json()["runs"]
    assert [r["id"] for r in tagged] == [ids[3]]
    assert_error(client.get("/api/runs", params={"filter": "metrics.acc >"}), 422, "invalid_filter")
    assert_error(client.get("/api/runs", params={"limit": 5000}), 422)
    assert_error(client.get("/api/runs", params={"status": "nope"}), 422)


def test_the_http_listing_is_the_python_listing(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    """GET and POST /api/runs go through ml.search_runs: same arguments, same runs, same order
    (metric alone lists best first, everywhere)."""
    import chachaml as ml

    ids = []
    for acc in (0.3, 0.9, 0.1, 0.5):
        rid = new_run(experiment="x")
        _log(client, rid, "acc", [acc])
        ids.append(rid)
    new_run(experiment="y")  # logged no acc
    st = client.app.state.store  # type: ignore[attr-defined]
    expected = [r["id"] for r in ml.search_runs(metric="acc", store=st)]
    assert expected == [ids[1], ids[3], ids[0], ids[2]]
    got = client.get("/api/runs", params={"metric": "acc"}).json()["runs"]
    assert [r["id"] for r in got] == expected
    posted = client.post("/api/runs/query", json={"metric": "acc"}).json()["runs"]
    assert [r["id"] for r in posted] == expected
    searched = client.get("/api/search", params={"metric": "acc"}).json()["runs"]
    assert [r["id"] for r in searched] == expected
    both = client.get("/api/runs", params=[("experiment", "x"), ("experiment", "y")]).json()
    assert len(both["runs"]) == 5
    threshold = client.get("/api/runs", params={"metric": "acc", "op": ">", "value": 0.4})
    assert {r["id"] for r in threshold.json()["runs"]} == {ids[1], ids[3]}
    assert_error(client.get("/api/runs", params={"metric": "acc", "op": ">"}), 422)


def test_run_id_prefixes_work_in_read_routes(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = new_run()
    assert client.get(f"/api/runs/{rid[:8]}").json()["id"] == rid
    assert_error(client.get("/api/runs/ffffffff"), 404)


def test_history_is_downsampled_deterministically_keeping_spikes(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = new_run()
    values = [0.0] * 10_000
    values[4321] = 99.0
    _log(client, rid, "loss", values)
    url = f"/api/runs/{rid}/metrics/history"
    first = client.get(url, params={"key": "loss", "max_points": 100}).json()["points"]
    again = client.get(url, params={"key": "loss", "max_points": 100}).json()["points"]
    assert first == again and 0 < len(first) <= 100
    assert any(p["value"] == 99.0 for p in first)
    assert first[0]["step"] == 0 and first[-1]["step"] == 9999
    raw = client.get(url, params={"key": "loss", "raw": "true"}).json()["points"]
    assert len(raw) == 10_000
    assert len(client.get(url, params={"key": "loss"}).json()["points"]) <= 2000
    assert_error(client.get(f"/api/runs/{'0' * 32}/metrics/history", params={"key": "x"}), 404)


def test_compare_search_best_and_export(client: TestClient, new_run: Callable[..., str]) -> None:
    a, b = new_run(experiment="e"), new_run(experiment="e")
    client.post(f"/api/runs/{a}/params", json={"params": {"model": "rf", "seed": 1}})
    client.post(f"/api/runs/{b}/params", json={"params": {"model": "gbm", "seed": 1}})
    _log(client, a, "acc", [0.5, 0.9])
    _log(client, b, "acc", [0.7])
    cmp = client.get("/api/compare", params=[("ids", a), ("ids", b)]).json()
    assert cmp["params"]["same"] == {"seed": {a: 1, b: 1}}
    assert set(cmp["params"]["differ"]) == {"model"}
    found = client.get("/api/search", params={"filter": "params.model = 'rf'"}).json()["runs"]
    assert [r["id"] for r in found] == [a]
    thr = client.get("/api/search", params={"metric": "acc", "op": ">", "value": 0.8}).json()
    assert [r["id"] for r in thr["runs"]] == [a]
    assert client.get("/api/best", params={"metric": "acc"}).json()["id"] == a
    # Latest values a 0.9, b 0.7; a's minimum is 0.5.
    assert client.get("/api/best", params={"metric": "acc", "direction": "min"}).json()["id"] == b
    by_min = {"metric": "acc", "direction": "min", "by": "min"}
    assert client.get("/api/best", params=by_min).json()["id"] == a
    assert client.get("/api/best", params={"metric": "nothing"}).json() is None
    rows = client.get("/api/export", params={"experiment": "e"}).json()["rows"]
    assert {r["params.model"] for r in rows} == {"rf", "gbm"}
    text = client.get("/api/export", params={"format": "csv"})
    assert text.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(text.text)))
    assert {r["id"] for r in parsed} == {a, b}
    assert_error(client.get("/api/compare"), 422)


def test_experiments_models_diff_datasets_tags_and_artifacts(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = new_run(experiment="exp", tags={"k": "v"})
    assert [e["name"] for e in client.get("/api/experiments").json()] == ["exp"]
    assert client.get("/api/experiments/exp").json()["name"] == "exp"
    assert_error(client.get("/api/experiments/missing"), 404)
    client.put(f"/api/runs/{rid}/artifacts/model", content=b"w")
    client.post("/api/models/m/versions", json={"run_id": rid})
    client.post("/api/models/m/versions", json={"run_id": rid})
    assert client.get("/api/models").json()[0]["name"] == "m"
    assert len(client.get("/api/models/m/versions").json()) == 2
    diff = client.get("/api/models/m/diff", params={"v1": 1, "v2": 2}).json()
    assert diff["model"] == "m" and diff["run_ids"] == [rid]
    assert_error(client.get("/api/models/nope"), 404)
    assert client.get(f"/api/runs/{rid}/tags").json() == {"k": "v"}
    assert client.get(f"/api/runs/{rid}/datasets").json() == []
    info = client.get(f"/api/runs/{rid}/artifact-info/model").json()
    assert info["size"] == 1
    assert_error(client.get(f"/api/runs/{rid}/artifacts/missing"), 404)


def test_html_artifacts_download_as_attachments(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = new_run()
    client.put(
        f"/api/runs/{rid}/artifacts/report.html",
        content=b"<script>alert(1)</script>",
        headers={"Content-Type": "text/html"},
    )
    client.put(f"/api/runs/{rid}/artifacts/plot.png", content=b"\x89PNG\r\n\x1a\nxxxx")
    html = client.get(f"/api/runs/{rid}/artifacts/report.html")
    assert html.headers["content-type"].startswith("text/html")
    assert html.headers["content-disposition"].startswith("attachment")
    assert html.headers["x-content-type-options"] == "nosniff"
    png = client.get(f"/api/runs/{rid}/artifacts/plot.png")
    assert png.headers["content-type"] == "image/png"
    assert png.headers["content-disposition"].startswith("inline")


def test_health_and_openapi_are_published(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    schema = client.get("/api/openapi.json").json()
    assert "/api/runs" in schema["paths"] and "/api/runs/{run_id}/metrics" in schema["paths"]


def test_unknown_routes_and_methods_use_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/api/nothing-here"), 404)
    assert_error(client.delete("/api/experiments"), 405)


def test_runs_query_by_post_takes_long_id_lists_and_the_get_parameters(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    ids = [new_run(experiment="q", tags={"even": str(i % 2 == 0)}) for i in range(1200)]
    _log(client, ids[5], "acc", [0.9])
    wanted = ids[:1100]  # more than a URL's `ids` allows (1,000)
    page = client.post("/api/runs/query", json={"ids": wanted, "limit": 1000, "count": True})
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["count"] == 1100
    assert [r["id"] for r in body["runs"]] == wanted[::-1][:1000]
    tail = client.post("/api/runs/query", json={"ids": wanted, "offset": 1000, "limit": 1000})
    assert [r["id"] for r in tail.json()["runs"]] == wanted[::-1][1000:]
    same = client.get("/api/runs", params={"tag": "even=True", "limit": 7}).json()["runs"]
    posted = client.post("/api/runs/query", json={"tags": {"even": "True"}, "limit": 7})
    assert posted.json()["runs"] == same
    hit = client.post("/api/runs/query", json={"metric": "acc", "op": ">", "value": 0.5})
    assert [r["id"] for r in hit.json()["runs"]] == [ids[5]]
    assert_error(client.post("/api/runs/query", json={"idz": []}), 422)
    assert_error(client.post("/api/runs/query", json={"ids": ["x" * 32] * 10_001}), 422)
    assert_error(client.post("/api/runs/query", json={"ids": ["not-an-id"]}), 422)
    assert_error(client.post("/api/runs/query", json={"filter": "metrics.acc >"}), 422)
