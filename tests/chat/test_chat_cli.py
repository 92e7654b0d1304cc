"""``chachaml chat``: one call to ``chat.ask``; the key never comes from argv."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from fake_llm import FakeLLM, anthropic_text, openai_error, openai_text, openai_tools

from chachaml.cli import cli

KEY = "sk-cli-R2d2C3po0000"


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def _answer_with_best(body: dict[str, Any]) -> Any:
    best = json.loads(body["messages"][-1]["content"])
    return openai_text(f"Run {best['run']['id']} has the best auc ({best['value']}).")


def test_chat_answers_from_the_store_on_the_command_line(
    fake_llm: FakeLLM, churn: dict[str, str], db_path: Any
) -> None:
    fake_llm.script(openai_tools(("best_run", {"metric": "auc"})), _answer_with_best)
    code, out, err = invoke(
        "chat", "best auc?", "--store", str(db_path), "--base-url", fake_llm.v1, "--model", "m"
    )
    assert code == 0, err
    assert out.strip() == f"Run {churn['large']} has the best auc (0.93)."
    assert "2 model calls" in err and "best_run" in err


def test_chat_json_and_the_key_from_a_named_variable(
    fake_llm: FakeLLM, churn: dict[str, str], db_path: Any
) -> None:
    fake_llm.script(openai_tools(("best_run", {"metric": "auc"})), _answer_with_best)
    code, out, err = invoke(
        "chat",
        "best auc?",
        "--store",
        str(db_path),
        "--base-url",
        fake_llm.v1,
        "--model",
        "m",
        "--api-key-env",
        "MY_VLLM_KEY",
        "--json",
        env={"MY_VLLM_KEY": KEY},
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["iterations"] == 2 and result["tool_calls"][0]["name"] == "best_run"
    assert churn["large"] in result["answer"]
    assert fake_llm.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_chat_environment_settings_pick_the_provider(
    fake_llm: FakeLLM, churn: dict[str, str], db_path: Any
) -> None:
    fake_llm.script(anthropic_text("three runs"))
    code, out, _ = invoke(
        "chat",
        "anything?",
        "--store",
        str(db_path),
        env={
            "CHACHAML_CHAT_PROVIDER": "anthropic",
            "CHACHAML_CHAT_BASE_URL": fake_llm.root,
            "ANTHROPIC_API_KEY": KEY,
        },
    )
    assert code == 0 and out.strip() == "three runs"
    assert fake_llm.requests[0].path == "/v1/messages"
    # With a base URL the provider's own key variable is not sent there.
    assert KEY not in str(fake_llm.requests[0].headers)


def test_chat_hitting_the_iteration_cap_exits_1(
    fake_llm: FakeLLM, churn: dict[str, str], db_path: Any
) -> None:
    turn = openai_tools(("list_runs", {}))
    fake_llm.script(turn, turn)
    code, out, _ = invoke(
        "chat",
        "q",
        "--store",
        str(db_path),
        "--base-url",
        fake_llm.v1,
        "--model",
        "m",
        "--max-iterations",
        "2",
    )
    assert code == 1 and "max_iterations" in out


def test_chat_provider_errors_are_one_line_without_the_key(
    fake_llm: FakeLLM, churn: dict[str, str], db_path: Any
) -> None:
    fake_llm.script(openai_error(401, "invalid_request_error", "Incorrect API key provided"))
    code, out, err = invoke(
        "chat",
        "q",
        "--store",
        str(db_path),
        "--base-url",
        fake_llm.v1,
        "--model",
        "m",
        env={"CHACHAML_CHAT_API_KEY": KEY},
    )
    assert code == 3
    assert err.startswith("error: openai at ") and "HTTP 401" in err
    assert KEY not in out + err


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("--api-key-env", "UNSET_VARIABLE_X"), {}, "UNSET_VARIABLE_X is not set"),
        (("--max-iterations", "0"), {}, "0 is not in the range"),
        (("--provider", "gemini"), {}, "'gemini' is not one of"),
        (("--api-key", KEY), {}, "No such option '--api-key'"),
        # What to type on the command line, not only the Python argument:
        (("--base-url", "http://127.0.0.1:9/v1"), {}, "(CLI: --model)"),
        ((), {"ANTHROPIC_API_KEY": ""}, "(CLI: --api-key-env NAME)"),
    ],
)
def test_chat_bad_options(
    churn: dict[str, str], db_path: Any, args: tuple[str, ...], env: dict[str, str], says: str
) -> None:
    code, _out, err = invoke("chat", "q", "--store", str(db_path), *args, env=env)
    assert code == 2 and says in err, err
