"""Fixtures of the chat tests: scripted local servers speaking the providers' wire formats."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_llm import FakeLLM

import chachaml as ml

_ENV = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_CUSTOM_HEADERS",
    "ANTHROPIC_LOG",
    "ANTHROPIC_PROFILE",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_LOG",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "CHACHAML_CHAT_API_KEY",
    "CHACHAML_CHAT_BASE_URL",
    "CHACHAML_CHAT_MODEL",
    "CHACHAML_CHAT_PROVIDER",
)


@pytest.fixture(autouse=True)
def _no_llm_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own keys or endpoints must not leak into (or be used by) the tests."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", "anthropic-config-unused")


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    server = FakeLLM()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def churn(store: ml.Store) -> dict[str, str]:
    """Three finished runs of experiment ``churn`` in the test's store: name -> run id. Their
    latest ``auc`` values are 0.71 (``small``), 0.93 (``large``) and 0.88 (``medium``)."""
    ids: dict[str, str] = {}
    for name, values in (("small", [0.6, 0.71]), ("large", [0.8, 0.93]), ("medium", [0.88])):
        with ml.run(experiment="churn", name=name) as run:
            ml.log_params({"size": name})
            for step, value in enumerate(values):
                ml.log_metric("auc", value, step=step)
        ids[name] = run.id
    return ids
