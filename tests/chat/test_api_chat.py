"""``POST /api/chat`` over a real app and store: per-request keys, token scopes, the base URL
rule and bad bodies."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fake_llm import FakeLLM, openai_error, openai_text, openai_tools
from fastapi.testclient import TestClient

import chachaml as ml
from chachaml.server.app import create_app
from chachaml.server.auth import iter_routes, route_permission
from chachaml.server.settings import Settings, allowed_hosts, parse_tokens
from chachaml.tools import tool_specs

LOCAL = "http://127.0.0.1"
READ_TOKEN = "chat-read-token-1"
WRITE_TOKEN = "chat-write-token-2"
KEY = "sk-web-Pq7Wm2Zx9Lk4"
READ = {"Authorization": f"Bearer {READ_TOKEN}"}
WRITE = {"Authorization": f"Bearer {WRITE_TOKEN}"}


def _client(store: ml.Store, **settings: Any) -> TestClient:
    config = Settings(tokens=parse_tokens(f"{READ_TOKEN}:read,{WRITE_TOKEN}:write"), **settings)
    return TestClient(
        create_app(config, store=store), base_url=LOCAL, raise_server_exceptions=False
    )


@pytest.fixture
def client(store: ml.Store, churn: dict[str, str]) -> Iterator[TestClient]:
    with _client(store) as c:
        yield c


def _body(fake: FakeLLM, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"question": "Which run has the best auc?", "base_url": fake.v1}
    body.update({"model": "local-model", "api_key": KEY}, **extra)
    return body


def _error(resp: Any, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    return str(body["error"]["message"])


def test_chat_route_declares_read_permission(client: TestClient) -> None:
    routes = [r for r in iter_routes(client.app.routes) if getattr(r, "path", "") == "/api/chat"]
    assert [route_permission(r) for r in routes] == ["read"]


def test_a_read_token_gets_an_answer_from_the_servers_store(
    client: TestClient, fake_llm: FakeLLM, churn: dict[str, str]
) -> None:
    def answer(body: dict[str, Any]) -> Any:
        best = json.loads(body["messages"][-1]["content"])
        return openai_text(f"Run {best['run']['id']} (auc {best['value']}).")

    fake_llm.script(openai_tools(("best_run", {"metric": "auc"})), answer)
    resp = client.post("/api/chat", json=_body(fake_llm), headers=READ)

    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["answer"] == f"Run {churn['large']} (auc 0.93)."
    assert set(out) == {"answer", "iterations", "tool_calls", "stop_reason", "provider", "model"}
    assert (out["iterations"], out["provider"], out["model"]) == (2, "openai", "local-model")
    assert out["tool_calls"] == [
        {"iteration": 1, "name": "best_run", "arguments": {"metric": "auc"}, "error": None}
    ]
    offered = {t["function"]["name"] for t in fake_llm.requests[0].body["tools"]}
    assert offered == {t.name for t in tool_specs(allow_writes=False)}
    assert fake_llm.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in resp.text


def test_the_key_may_come_in_a_header(client: TestClient, fake_llm: FakeLLM) -> None:
    fake_llm.script(openai_text("ok"))
    body = _body(fake_llm)
    del body["api_key"]
    resp = client.post("/api/chat", json=body, headers={**READ, "X-Chat-Api-Key": KEY})
    assert resp.status_code == 200, resp.text
    assert fake_llm.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_write_tools_need_a_write_token(
    client: TestClient, fake_llm: FakeLLM, churn: dict[str, str]
) -> None:
    resp = client.post("/api/chat", json=_body(fake_llm, allow_writes=True), headers=READ)
    assert "read-only" in _error(resp, 403, "forbidden")
    assert fake_llm.requests == []

    run_id = churn["small"]
    fake_llm.script(
        openai_tools(("add_tag", {"run_id": run_id, "key": "seen", "value": "1"})),
        openai_text("tagged"),
    )
    resp = client.post("/api/chat", json=_body(fake_llm, allow_writes=True), headers=WRITE)
    assert resp.status_code == 200, resp.text
    assert "add_tag" in {t["function"]["name"] for t in fake_llm.requests[0].body["tools"]}
    assert ml.get_run(run_id)["tags"]["seen"] == "1"


def test_a_read_token_chat_cannot_write_even_if_the_model_tries(
    client: TestClient, fake_llm: FakeLLM, churn: dict[str, str]
) -> None:
    run_id = churn["small"]
    fake_llm.script(
        openai_tools(("set_note", {"run_id": run_id, "note": "pwned"})), openai_text("no")
    )
    resp = client.post("/api/chat", json=_body(fake_llm), headers=READ)
    assert resp.status_code == 200
    assert resp.json()["tool_calls"][0]["error"]
    assert "pwned" not in json.dumps(ml.get_run(run_id))


def test_no_token_is_401(client: TestClient, fake_llm: FakeLLM) -> None:
    _error(client.post("/api/chat", json=_body(fake_llm)), 401, "unauthorized")
    assert fake_llm.requests == []


def test_without_a_base_url_the_key_must_come_with_the_request(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, fake_llm: FakeLLM
) -> None:
    # The server's own environment is never used: neither its keys nor its chat settings.
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-server-owners-key")
    monkeypatch.setenv("CHACHAML_CHAT_BASE_URL", fake_llm.v1)
    resp = client.post("/api/chat", json={"question": "q"}, headers=READ)
    assert "X-Chat-Api-Key" in _error(resp, 422, "invalid_input")
    assert fake_llm.requests == []


def test_a_base_url_without_a_key_gets_the_placeholder(
    client: TestClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script(openai_text("ok"))
    body = _body(fake_llm)
    del body["api_key"]
    assert client.post("/api/chat", json=body, headers=READ).status_code == 200
    assert fake_llm.requests[0].headers["authorization"] == "Bearer no-key"


@pytest.mark.parametrize(
    "base_url",
    ["http://llm.example.com/v1", "https://10.0.0.5:8000/v1", "http://localhost.evil.test/v1"],
)
def test_a_base_url_off_this_machine_is_refused(client: TestClient, base_url: str) -> None:
    resp = client.post("/api/chat", json={"question": "q", "base_url": base_url}, headers=READ)
    assert "loopback" in _error(resp, 403, "forbidden")


def test_a_server_others_can_reach_accepts_no_base_url(
    store: ml.Store, churn: dict[str, str], fake_llm: FakeLLM
) -> None:
    hosts = allowed_hosts("ml.example.com")
    with _client(store, allowed_hosts=hosts) as shared:
        resp = shared.post("/api/chat", json=_body(fake_llm), headers=READ)
    assert "reachable from other machines" in _error(resp, 403, "forbidden")
    assert fake_llm.requests == []


@pytest.mark.parametrize(
    "change",
    [
        {"question": ""},
        {"question": "x" * 8001},
        {"question": None},
        {"provider": "gemini"},
        {"model": ""},
        {"model": "m" * 201},
        {"base_url": "ftp://127.0.0.1/v1"},
        {"base_url": "not a url"},
        {"api_key": ""},
        {"max_iterations": 0},
        {"max_iterations": 21},
        {"max_iterations": "5"},
        {"allow_writes": "yes"},
        {"temperature": 0.2},
    ],
)
def test_bad_bodies_are_422_and_reach_no_provider(
    client: TestClient, fake_llm: FakeLLM, change: dict[str, Any]
) -> None:
    body = {**_body(fake_llm), **change}
    _error(client.post("/api/chat", json=body, headers=WRITE), 422, "invalid_input")
    assert fake_llm.requests == []


def test_a_base_url_without_a_model_says_to_send_one_in_the_body(
    client: TestClient, fake_llm: FakeLLM
) -> None:
    """The server reads no CHACHAML_CHAT_MODEL, so the message must not point at it."""
    body = _body(fake_llm)
    del body["model"]
    message = _error(client.post("/api/chat", json=body, headers=READ), 422, "invalid_input")
    assert '"model" in the body' in message and "CHACHAML_CHAT_MODEL" not in message
    assert fake_llm.requests == []


def test_a_body_that_is_not_json_is_415(client: TestClient) -> None:
    resp = client.post(
        "/api/chat", content=b"question=hi", headers={**READ, "Content-Type": "text/plain"}
    )
    assert resp.status_code == 415


def test_provider_errors_are_502_and_the_key_is_in_no_answer_or_log(
    client: TestClient, fake_llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx", "httpx2", "httpcore", "chachaml", "uvicorn", "fastapi"):
        caplog.set_level(logging.DEBUG, logger=name)
    fake_llm.script(openai_error(401, "invalid_request_error", f"Incorrect API key: {KEY}"))
    resp = client.post("/api/chat", json=_body(fake_llm), headers=READ)

    message = _error(resp, 502, "provider_auth")
    assert "HTTP 401" in message and KEY not in resp.text
    assert any(r.name.startswith("openai") for r in caplog.records)
    formatter = logging.Formatter("%(name)s %(message)s")
    assert all(KEY not in formatter.format(r) for r in caplog.records)


def test_a_validation_error_does_not_echo_the_key(client: TestClient, fake_llm: FakeLLM) -> None:
    long_key = "sk-" + "Q" * 1200
    resp = client.post("/api/chat", json=_body(fake_llm, api_key=long_key), headers=READ)
    _error(resp, 422, "invalid_input")
    assert "QQQQQQQQ" not in resp.text


def test_the_chat_route_is_published_in_the_schema(client: TestClient) -> None:
    # (The schema fuzzer excludes it: a fuzzed valid question would go to a public provider.)
    assert "/api/chat" in client.get("/api/openapi.json").json()["paths"]
