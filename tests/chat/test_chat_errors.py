"""Provider failures surface as clear chachaml errors, and the API key never appears in a log
record or an exception's text."""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any

import pytest
from fake_llm import (
    Answer,
    FakeLLM,
    anthropic_error,
    anthropic_text,
    anthropic_tools,
    json_answer,
    openai_error,
    openai_text,
    openai_tools,
)

import chachaml as ml
from chachaml.chat import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderRefused,
    ProviderUnavailable,
    ask,
)
from chachaml.server.testing import free_port

KEY = "sk-live-Hx81vQe0Tt3kPz"
SDK_LOGGERS = ("anthropic", "openai", "httpx", "httpx2", "httpcore", "chachaml")


def _ask(fake: FakeLLM, provider: str, **kwargs: Any) -> dict[str, Any]:
    base_url = fake.root if provider == "anthropic" else fake.v1
    kwargs.setdefault("api_key", KEY)
    return ask("which run is best?", provider=provider, model="m", base_url=base_url, **kwargs)


def _error(provider: str, status: int, kind: str, message: str, **headers: str) -> Answer:
    make = anthropic_error if provider == "anthropic" else openai_error
    return make(status, kind, message, **headers)


def _text(provider: str, text: str) -> Answer:
    return anthropic_text(text) if provider == "anthropic" else openai_text(text)


def _exception_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)) + repr(exc)


PROVIDERS = ["anthropic", "openai"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_401_is_an_auth_error_that_is_not_retried(fake_llm: FakeLLM, provider: str) -> None:
    fake_llm.script(_error(provider, 401, "authentication_error", "invalid x-api-key"))
    with pytest.raises(ProviderAuthError) as info:
        _ask(fake_llm, provider)
    message = info.value.message
    assert "HTTP 401" in message and "invalid x-api-key" in message and provider in message
    assert info.value.code == "provider_auth" and info.value.http_status == 502
    assert len(fake_llm.requests) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_is_retried_after_the_retry_after_delay_and_then_succeeds(
    fake_llm: FakeLLM, provider: str
) -> None:
    fake_llm.script(
        _error(provider, 429, "rate_limit_error", "slow down", retry_after_ms="20"),
        _text(provider, "Run abc is best."),
    )
    out = _ask(fake_llm, provider)
    assert out["answer"] == "Run abc is best."
    assert [r.headers.get("x-stainless-retry-count") for r in fake_llm.requests] == ["0", "1"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_after_every_retry_is_a_rate_limit_error(fake_llm: FakeLLM, provider: str) -> None:
    limited = _error(provider, 429, "rate_limit_error", "slow down", retry_after_ms="5")
    fake_llm.script(limited, limited)
    with pytest.raises(ProviderRateLimited) as info:
        _ask(fake_llm, provider, max_retries=1)
    assert "HTTP 429" in info.value.message and "1 retry" in info.value.message
    assert len(fake_llm.requests) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_500_after_the_retries_is_provider_unavailable(fake_llm: FakeLLM, provider: str) -> None:
    failing = _error(provider, 500, "api_error", "internal failure", retry_after_ms="5")
    fake_llm.script(failing, failing, failing)
    with pytest.raises(ProviderUnavailable) as info:
        _ask(fake_llm, provider, max_retries=2)
    assert "HTTP 500: internal failure" in info.value.message
    assert "2 retries" in info.value.message
    assert len(fake_llm.requests) == 3


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_unknown_model_is_a_refused_request(fake_llm: FakeLLM, provider: str) -> None:
    fake_llm.script(_error(provider, 404, "not_found_error", "model: no-such-model"))
    with pytest.raises(ProviderRefused, match="model: no-such-model"):
        _ask(fake_llm, provider)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (Answer(200, b"<html>It works!</html>", {"content-type": "text/html"}), "not JSON"),
        (Answer(200, b'{"id": "x", "choices": [], "content": "text"', {}), "not JSON"),
        (json_answer(200, ["a", "list"]), "no object"),
        (json_answer(200, {"id": "x", "object": "thing"}), "malformed"),
        (json_answer(200, {"content": [{"type": "tool_use"}], "choices": [{"x": 1}]}), "malformed"),
    ],
)
def test_a_malformed_body_is_a_clear_bad_response_error(
    fake_llm: FakeLLM, provider: str, answer: Answer, says: str
) -> None:
    fake_llm.script(answer)
    with pytest.raises(ProviderBadResponse, match=says) as info:
        _ask(fake_llm, provider)
    assert info.value.code == "provider_bad_response"
    assert "<html>" not in info.value.message  # the body is never quoted


@pytest.mark.parametrize("provider", PROVIDERS)
def test_nothing_listening_is_provider_unavailable(provider: str) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}" + ("/v1" if provider == "openai" else "")
    with pytest.raises(ProviderUnavailable, match="could not connect") as info:
        ask("q", provider=provider, model="m", base_url=base_url, api_key=KEY, max_retries=0)
    assert f"127.0.0.1:{port}" in info.value.message


def test_user_and_password_of_a_base_url_are_not_shown(fake_llm: FakeLLM) -> None:
    fake_llm.script(openai_error(401, "invalid_request_error", "bad key"))
    base_url = f"http://admin:hunter2pass@127.0.0.1:{fake_llm.port}/v1"
    with pytest.raises(ProviderAuthError) as info:
        ask("q", base_url=base_url, model="m", api_key=KEY)
    assert "hunter2pass" not in _exception_text(info.value)
    assert f"http://127.0.0.1:{fake_llm.port}/v1" in info.value.message


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_key_is_in_no_log_record_and_no_exception_text(
    fake_llm: FakeLLM, store: ml.Store, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    for name in SDK_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    caplog.set_level(logging.DEBUG)
    tools = anthropic_tools if provider == "anthropic" else openai_tools
    # Every path at once: a retried 429, a tool call, a malformed tool call, a provider
    # message that quotes the key, then a 401.
    fake_llm.script(
        _error(provider, 429, "rate_limit_error", "slow down", retry_after_ms="5"),
        tools(("list_runs", {}), ("get_run", {"run_id": "zz"})),
        _error(provider, 401, "authentication_error", f"invalid key {KEY}"),
    )
    with pytest.raises(ProviderAuthError) as info:
        _ask(fake_llm, provider, max_retries=1)

    assert KEY not in _exception_text(info.value)
    assert "invalid key ***" in info.value.message
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    records = caplog.records
    # The SDK did log at DEBUG (so the check below looked at something).
    assert any(r.name.startswith(provider) and r.levelno == logging.DEBUG for r in records)
    assert any(r.name.startswith("chachaml.chat") for r in records)
    for record in records:
        assert KEY not in formatter.format(record), record.name
    # ... and the key did reach the server, in the auth header.
    assert all(KEY in str(r.headers) for r in fake_llm.requests)


def test_an_api_key_with_a_line_break_is_refused_without_echoing_it(fake_llm: FakeLLM) -> None:
    with pytest.raises(ml.InvalidInput) as info:
        ask("q", base_url=fake_llm.v1, model="m", api_key="sk-abc\r\nX-Evil: 1")
    assert "sk-abc" not in str(info.value)
    assert fake_llm.requests == []


def test_every_provider_error_is_a_chachaml_error() -> None:
    for cls in (ProviderAuthError, ProviderBadResponse, ProviderRateLimited, ProviderRefused):
        assert issubclass(cls, ProviderError) and issubclass(cls, ml.ChachamlError)
        assert cls("x").exit_code == 3


def test_a_provider_that_does_not_answer_in_time_is_unavailable(fake_llm: FakeLLM) -> None:
    release = threading.Event()

    def stall(body: dict[str, Any]) -> Answer:
        release.wait(10)  # held until the client has given up
        return openai_text("too late")

    fake_llm.script(stall)
    try:
        with pytest.raises(ProviderUnavailable, match="did not answer in time"):
            ask("q", base_url=fake_llm.v1, model="m", api_key=KEY, max_retries=0, timeout=0.3)
    finally:
        release.set()
