"""Retried writes are idempotent: a write whose answer is lost is applied once when the client
retries it (same ``Idempotency-Key``), a key reused for another request is refused, and the
server's key state stays bounded (count, bytes, time; no lock left behind by failed requests)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from server_helpers import assert_error

import chachaml as ml
from chachaml import httpclient
from chachaml.errors import IdempotencyKeyReused
from chachaml.server import api_write
from chachaml.server.deps import IdempotencyCache
from chachaml.server.settings import Settings
from chachaml.server.testing import LiveServer
from chachaml.store.remote import RemoteMetadataStore

DEADLINE = 20.0  # seconds; a bound on waiting for another thread, never a synchronisation delay


def _wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.001)


def _register(client: TestClient, run_id: str, key: str, **extra: Any) -> httpx.Response:
    return client.post(
        "/api/models/m/versions",
        json={"run_id": run_id, **extra},
        headers={"Idempotency-Key": key},
    )


def _run_with_model(client: TestClient, new_run: Callable[..., str]) -> str:
    rid = new_run()
    put = client.put(f"/api/runs/{rid}/artifacts/model", content=b"weights")
    assert put.status_code == 201, put.text
    return rid


# -- the HTTP API --------------------------------------------------------------------------------
def test_a_repeated_key_gets_the_first_answer_and_applies_nothing(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = _run_with_model(client, new_run)
    first = _register(client, rid, "reg-1")
    again = _register(client, rid, "reg-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and first.json()["version"] == 1
    assert [v["version"] for v in client.get("/api/models/m/versions").json()] == [1]

    ds = {"role": "train", "n_rows": 10}
    rows = [
        client.post(f"/api/runs/{rid}/datasets", json=ds, headers={"Idempotency-Key": "ds-1"})
        for _ in range(3)
    ]
    assert {r.status_code for r in rows} == {201}
    assert len(client.get(f"/api/runs/{rid}/datasets").json()) == 1

    runs = [
        client.post("/api/runs", json={"experiment": "e"}, headers={"Idempotency-Key": "run-1"})
        for _ in range(2)
    ]
    assert runs[0].json()["id"] == runs[1].json()["id"]
    assert client.get("/api/runs", params={"experiment": "e"}).json()["runs"] != []
    assert len(client.get("/api/runs", params={"experiment": "e"}).json()["runs"]) == 1


def test_a_key_reused_with_another_body_or_run_is_refused(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    rid = _run_with_model(client, new_run)
    other = _run_with_model(client, new_run)
    assert _register(client, rid, "k").status_code == 201
    assert_error(_register(client, rid, "k", stage="production"), 422, "idempotency_key_reused")
    assert_error(_register(client, other, "k"), 422, "idempotency_key_reused")
    (version,) = client.get("/api/models/m/versions").json()
    assert version["stage"] == "none" and version["run_id"] == rid

    batch = {"series": [{"key": "x", "steps": [0], "values": [1.0]}]}
    h = {"Idempotency-Key": "b"}
    assert client.post(f"/api/runs/{rid}/metrics", json=batch, headers=h).status_code == 200
    # The same body for another run: refused, nothing stored there.
    assert_error(
        client.post(f"/api/runs/{other}/metrics", json=batch, headers=h),
        422,
        "idempotency_key_reused",
    )
    assert client.get(f"/api/runs/{other}").json()["metrics"] == {}
    # And a key of one route is not an answer for another route.
    assert_error(
        client.post(f"/api/runs/{rid}/datasets", json={}, headers={"Idempotency-Key": "k"}),
        422,
        "idempotency_key_reused",
    )
    assert client.get(f"/api/runs/{rid}/datasets").json() == []


def test_failed_requests_are_not_remembered_and_leave_no_lock(
    client: TestClient, new_run: Callable[..., str]
) -> None:
    cache: IdempotencyCache = client.app.state.idempotency  # type: ignore[attr-defined]
    ghost = "f" * 32
    batch = {"series": [{"key": "x", "steps": [0], "values": [1.0]}]}
    for i in range(50):
        h = {"Idempotency-Key": f"ghost-{i}"}
        assert_error(client.post(f"/api/runs/{ghost}/metrics", json=batch, headers=h), 404)
        assert_error(client.post(f"/api/runs/{ghost}/datasets", json={}, headers=h), 404)
    assert cache.inflight() == 0 and len(cache) == 0
    # A key whose request failed is free: its next request is applied (once).
    rid = new_run()
    h = {"Idempotency-Key": "ghost-0"}
    url = f"/api/runs/{rid}/datasets"
    assert client.post(url, json={"n_rows": 1}, headers=h).status_code == 201
    assert client.post(url, json={"n_rows": 1}, headers=h).status_code == 201
    assert len(client.get(url).json()) == 1
    assert cache.inflight() == 0 and len(cache) == 1


def test_concurrent_requests_with_one_key_apply_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = api_write.registry.register_model
    applied: list[int] = []
    key = "concurrent"
    live = LiveServer.start(Settings(store_url=str(tmp_path / "c.db")))
    cache: IdempotencyCache = live.app.state.idempotency

    def slow_register(*args: Any, **kwargs: Any) -> Any:
        # Hold the first request inside its write until the second waits on the same key.
        _wait_until(lambda: cache.waiting(key) == 2)
        applied.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(api_write.registry, "register_model", slow_register)
    try:
        with httpx.Client(base_url=live.url) as http:
            rid = http.post("/api/runs", json={}).json()["id"]
            assert http.put(f"/api/runs/{rid}/artifacts/model", content=b"w").status_code == 201
            answers: list[httpx.Response] = []

            def post() -> None:
                answers.append(
                    http.post(
                        "/api/models/m/versions",
                        json={"run_id": rid},
                        headers={"Idempotency-Key": key},
                    )
                )

            threads = [threading.Thread(target=post) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(DEADLINE)
            assert [a.status_code for a in answers] == [201, 201]
            assert answers[0].json() == answers[1].json()
            assert len(http.get("/api/models/m/versions").json()) == 1
        assert applied == [1] and cache.inflight() == 0
    finally:
        live.stop()


# -- the cache -------------------------------------------------------------------------------------
def test_keys_expire_and_the_cache_is_bounded_in_count_and_bytes() -> None:
    now = [1000.0]
    cache = IdempotencyCache(3, ttl=60.0, max_bytes=10_000, clock=lambda: now[0])
    for i in range(5):
        cache.put(f"k{i}", "f", {"i": i}, 10)
    assert len(cache) == 3 and cache.get("k0") is None and cache.lookup("k4", "f") == {"i": 4}
    with pytest.raises(IdempotencyKeyReused):
        cache.lookup("k4", "another request")
    now[0] += 59.0
    assert cache.get("k2") == {"i": 2}
    now[0] += 2.0  # 61 s after they were stored
    assert len(cache) == 0 and cache.lookup("k4", "another request") is None
    cache.put("big", "f", "x", 6_000)
    cache.put("bigger", "f", "y", 6_000)  # over max_bytes together: the oldest goes
    assert cache.get("big") is None and cache.get("bigger") == "y"


def test_key_locks_are_dropped_when_nobody_holds_them() -> None:
    cache = IdempotencyCache(10)
    with pytest.raises(RuntimeError), cache.key_lock("a"):
        assert cache.waiting("a") == 1
        raise RuntimeError("the request failed")
    assert cache.inflight() == 0


# -- lost answers through the remote store ---------------------------------------------------------
class LoseAnswers:
    """Wraps an httpx client's ``request``: the request reaches the server and is processed,
    then the answer of the first request matching each ``(method, path regex)`` is thrown
    away, as when a connection drops after the server answered."""

    def __init__(self, client: httpx.Client, *patterns: tuple[str, str]) -> None:
        self.real = client.request
        self.pending = list(patterns)
        self.lost: list[tuple[str, str]] = []
        self.answers: list[tuple[str, str, int, bytes]] = []

    def __call__(self, method: str, url: Any, **kwargs: Any) -> httpx.Response:
        resp = self.real(method, url, **kwargs)
        path = str(url)
        self.answers.append((method, path, resp.status_code, resp.content))
        for pattern in self.pending:
            if method == pattern[0] and re.fullmatch(pattern[1], path):
                self.pending.remove(pattern)
                self.lost.append((method, path))
                raise httpx.ReadError("connection reset (test)", request=resp.request)
        return resp


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setenv("CHACHAML_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setattr(httpclient, "BACKOFF", 0.001)
    server = LiveServer.start(
        Settings(store_url=str(tmp_path / "served.db"), artifacts_url=str(tmp_path / "blobs"))
    )
    yield server
    server.stop()


def _lose(st: ml.Store, monkeypatch: pytest.MonkeyPatch, *patterns: tuple[str, str]) -> LoseAnswers:
    meta = st.meta
    assert isinstance(meta, RemoteMetadataStore)
    loser = LoseAnswers(meta.http.client, *patterns)
    monkeypatch.setattr(meta.http.client, "request", loser)
    return loser


def test_writes_whose_answer_is_lost_are_applied_once(
    live: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ml.store(live.url) as st:
        loser = _lose(
            st,
            monkeypatch,
            ("POST", "/api/runs"),
            ("PUT", "/api/store/blobs/.*/model"),
            ("POST", "/api/runs/.*/artifact-rows"),
            ("POST", "/api/runs/.*/datasets"),
            ("POST", "/api/metrics"),
            ("POST", "/api/models/m/versions"),
        )
        with ml.run(experiment="lost") as run:
            ml.log_artifact("model", {"w": [1, 2, 3]}, format="json")
            ml.log_dataset(role="train", n_rows=5, name="d")
            ml.log_metric("loss", 0.5, step=0)
        st.flush()
        version = ml.registry.register_model("m", artifact="model", run_id=run.id)
        assert not loser.pending, f"not every answer was lost: {loser.pending}"
        assert version["version"] == 1
        assert [v["version"] for v in ml.registry.model_versions("m")] == [1]
        assert len(ml.get_datasets(run.id)) == 1
        (artifact,) = ml.list_artifacts(run.id)
        assert ml.load_artifact(run.id, "model") == {"w": [1, 2, 3]}
        assert [(p["step"], p["value"]) for p in ml.metric_history(run.id, "loss")] == [(0, 0.5)]
        assert len(ml.runs(experiment="lost")) == 1
        batches = [a for a in loser.answers if a[0] == "POST" and a[1] == "/api/metrics"]
        assert [b'replayed":true' in a[3] for a in batches] == [False, True]
        objects = [o for o in st.artifacts.iter_keys() if o.key.startswith(run.id)]
        assert [o.key for o in objects] == [artifact["path"]]  # no orphaned bytes


def test_a_delete_whose_answer_is_lost_succeeds(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ml.store(live.url) as st:
        with ml.run() as run:
            pass
        loser = _lose(st, monkeypatch, ("DELETE", f"/api/runs/{run.id}"))
        assert st.meta.delete_run(run.id) == []
        assert loser.lost and ml.runs(include_archived=True) == []


def test_every_write_of_the_client_carries_one_key_across_its_retries(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, str, str | None]] = []
    with ml.store(live.url) as st:
        meta = st.meta
        assert isinstance(meta, RemoteMetadataStore)
        real = meta.http.client.request

        def record(method: str, url: Any, **kwargs: Any) -> httpx.Response:
            sent.append((method, str(url), kwargs["headers"].get("Idempotency-Key")))
            if method == "POST" and sum(m == "POST" for m, _, _ in sent) == 1:
                raise httpx.ConnectError("refused (test)")
            return real(method, url, **kwargs)

        monkeypatch.setattr(meta.http.client, "request", record)
        ml.create_experiment("keyed", description="d")
        ml.create_experiment("keyed", description="e")
        assert ml.experiment("keyed")["description"] == "e"
    posts = [(path, key) for method, path, key in sent if method == "POST"]
    assert posts[0] == posts[1] and posts[0][1] is not None  # a retry keeps its key
    assert len({key for _, key in posts}) == len(posts) - 1  # every other write has its own
    assert all(key is None for method, _, key in sent if method == "GET")
