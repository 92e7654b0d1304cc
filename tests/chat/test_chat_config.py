"""Where provider, model, endpoint and key come from, and what ``ask`` refuses up front."""

from __future__ import annotations

import pytest
from fake_llm import FakeLLM, anthropic_text, openai_text

import chachaml as ml
from chachaml.chat import DEFAULT_MODELS, ask
from chachaml.chat.config import LOCAL_KEY, is_loopback_url, resolve_config


def test_defaults_without_a_base_url_are_anthropic_and_its_env_key() -> None:
    config = resolve_config(
        provider=None, model=None, base_url=None, api_key=None, environ={"ANTHROPIC_API_KEY": "k1"}
    )
    assert (config.provider, config.model, config.base_url, config.api_key) == (
        "anthropic",
        DEFAULT_MODELS["anthropic"],
        None,
        "k1",
    )
    assert DEFAULT_MODELS["anthropic"].startswith("claude-")


def test_the_key_is_not_in_the_config_repr() -> None:
    config = resolve_config(
        provider="openai", model=None, base_url=None, api_key="sk-secret-value-9", environ={}
    )
    assert "sk-secret-value-9" not in repr(config) and config.model == DEFAULT_MODELS["openai"]


def test_a_base_url_means_openai_compatible_and_needs_a_model_name() -> None:
    with pytest.raises(ml.InvalidInput, match="name the model"):
        resolve_config(
            provider=None, model=None, base_url="http://127.0.0.1:8081/v1", api_key=None, environ={}
        )
    config = resolve_config(
        provider=None,
        model=None,
        base_url=None,
        api_key=None,
        environ={"CHACHAML_CHAT_BASE_URL": "http://localhost:11434/v1", "CHACHAML_CHAT_MODEL": "q"},
    )
    assert (config.provider, config.model, config.api_key) == ("openai", "q", LOCAL_KEY)


def test_a_providers_env_key_is_never_sent_to_a_base_url(
    fake_llm: FakeLLM, store: ml.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key")
    fake_llm.script(openai_text("ok"))
    ask("q", base_url=fake_llm.v1, model="m")
    assert fake_llm.requests[0].headers["authorization"] == f"Bearer {LOCAL_KEY}"


def test_chachaml_chat_api_key_is_sent_to_a_base_url(
    fake_llm: FakeLLM, store: ml.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHACHAML_CHAT_API_KEY", "vllm-key-1234")
    monkeypatch.setenv("CHACHAML_CHAT_PROVIDER", "anthropic")
    fake_llm.script(anthropic_text("ok"))
    out = ask("q", base_url=fake_llm.root)
    assert out["provider"] == "anthropic" and out["model"] == DEFAULT_MODELS["anthropic"]
    assert "vllm-key-1234" in fake_llm.requests[0].headers["authorization"]


def test_no_key_and_no_base_url_says_which_variable_to_set() -> None:
    with pytest.raises(ml.InvalidInput, match="OPENAI_API_KEY"):
        ask("q", provider="openai")


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"question": ""}, "question"),
        ({"question": "x" * 8001}, "longer than 8000"),
        ({"provider": "gemini"}, "provider must be one of anthropic, openai"),
        ({"base_url": "ftp://127.0.0.1/v1"}, "http:// or https://"),
        ({"base_url": "http://127.0.0.1:99999/v1"}, "not a valid URL"),
        ({"base_url": "127.0.0.1:8080"}, "http:// or https://"),
        ({"max_iterations": 0}, "max_iterations"),
        ({"max_iterations": 21}, "max_iterations"),
        ({"max_iterations": True}, "max_iterations"),
        ({"model": " "}, "model"),
        ({"api_key": ""}, "api_key"),
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(
    fake_llm: FakeLLM, kwargs: dict[str, object], says: str
) -> None:
    args: dict[str, object] = {
        "question": "q",
        "base_url": fake_llm.v1,
        "model": "m",
        "api_key": "k-12345678",
    }
    args.update(kwargs)
    question = args.pop("question")
    with pytest.raises(ml.InvalidInput, match=says):
        ask(question, **args)  # type: ignore[arg-type]
    assert fake_llm.requests == []


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://127.5.0.1/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://LOCALHOST./v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://localhost.example.com/v1", False),
        ("https://api.openai.com/v1", False),
        ("http://0.0.0.0:8080/v1", False),
        ("http://127.0.0.1.nip.io/v1", False),
    ],
)
def test_loopback_urls(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback
