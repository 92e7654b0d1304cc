"""The tool-calling loop against local servers speaking the Anthropic and OpenAI wire formats,
over a real SQLite store: what the client sends, what the tools return, how the loop ends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_llm import (
    Answer,
    FakeLLM,
    anthropic_text,
    anthropic_tools,
    openai_text,
    openai_tools,
)

import chachaml as ml
from chachaml.chat import ask
from chachaml.tools import tool_specs

KEY = "sk-test-Zq9f2Lm7Xr4"


def _last_tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``tool_result`` blocks of the last (user) message of an Anthropic request."""
    last = body["messages"][-1]
    assert last["role"] == "user"
    return [b for b in last["content"] if b["type"] == "tool_result"]


def _best_of(listing: dict[str, Any]) -> dict[str, Any]:
    """What a model would do with a list_runs result: pick the highest auc."""
    return max(listing["runs"], key=lambda run: run["metrics"]["auc"])


def _assert_key_only_in_auth_header(fake: FakeLLM, key: str) -> None:
    assert fake.requests
    for request in fake.requests:
        auth = request.headers.get("x-api-key", "") + request.headers.get("authorization", "")
        assert key in auth
        others = {
            k: v for k, v in request.headers.items() if k not in ("x-api-key", "authorization")
        }
        assert key not in json.dumps(others)
        assert key not in json.dumps(request.body)


def test_anthropic_multi_round_answer_cites_the_run_the_tools_found(
    fake_llm: FakeLLM, churn: dict[str, str]
) -> None:
    def pick(body: dict[str, Any]) -> Answer:
        (result,) = _last_tool_results(body)
        assert result["tool_use_id"] == "toolu_1" and result["is_error"] is False
        best = _best_of(json.loads(result["content"]))
        return anthropic_tools(("get_run", {"run_id": best["id"][:8]}))

    def answer(body: dict[str, Any]) -> Answer:
        (result,) = _last_tool_results(body)
        run = json.loads(result["content"])
        return anthropic_text(f"The best run is {run['id']} (auc {run['metrics']['auc']}).")

    fake_llm.script(anthropic_tools(("list_runs", {"experiment": "churn"})), pick, answer)
    out = ask(
        "Which churn run has the best auc?",
        provider="anthropic",
        base_url=fake_llm.root,
        api_key=KEY,
    )

    assert out["answer"] == f"The best run is {churn['large']} (auc 0.93)."
    assert out["iterations"] == 3 and out["stop_reason"] == "answer"
    assert [(c["name"], c["arguments"], c["error"]) for c in out["tool_calls"]] == [
        ("list_runs", {"experiment": "churn"}, None),
        ("get_run", {"run_id": churn["large"][:8]}, None),
    ]
    assert fake_llm.unexpected == [] and fake_llm.left == 0
    first, second, third = (r.body for r in fake_llm.requests)
    assert [r.path for r in fake_llm.requests] == ["/v1/messages"] * 3
    # The tools offered are exactly the tool layer's read tools, with their JSON schemas.
    assert first["tools"] == [
        {"name": t.name, "description": t.description, "input_schema": t.input_schema}
        for t in tool_specs(allow_writes=False)
    ]
    assert first["messages"] == [{"role": "user", "content": "Which churn run has the best auc?"}]
    assert "Cite every run" in first["system"] and first["max_tokens"] > 0
    # Round two echoes the model's tool_use turn, then answers it with real store data.
    assert second["messages"][1] == {
        "role": "assistant",
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "list_runs",
                "input": {"experiment": "churn"},
            }
        ],
    }
    listing = json.loads(_last_tool_results(second)[0]["content"])
    assert sorted(r["id"] for r in listing["runs"]) == sorted(churn.values())
    assert len(third["messages"]) == 5
    _assert_key_only_in_auth_header(fake_llm, KEY)


def test_openai_multi_round_answer_cites_the_run_the_tools_found(
    fake_llm: FakeLLM, churn: dict[str, str]
) -> None:
    def answer(body: dict[str, Any]) -> Answer:
        tool_message = body["messages"][-1]
        assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_1"
        best = json.loads(tool_message["content"])
        return openai_text(f"Run {best['run']['id']} wins with auc {best['value']}.")

    fake_llm.script(openai_tools(("best_run", {"metric": "auc", "experiment": "churn"})), answer)
    out = ask("best auc?", base_url=fake_llm.v1, model="qwen2.5-7b", api_key=KEY)

    assert out["answer"] == f"Run {churn['large']} wins with auc 0.93."
    assert (out["provider"], out["model"], out["iterations"]) == ("openai", "qwen2.5-7b", 2)
    first, second = (r.body for r in fake_llm.requests)
    assert [r.path for r in fake_llm.requests] == ["/v1/chat/completions"] * 2
    assert first["model"] == "qwen2.5-7b"
    assert first["tools"] == [
        {
            "type": "function",
            "function": {
                "name": t.name,
                "description": t.description,
                "parameters": t.input_schema,
            },
        }
        for t in tool_specs(allow_writes=False)
    ]
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assistant = second["messages"][2]
    assert assistant["role"] == "assistant"
    assert assistant["tool_calls"][0]["function"] == {
        "name": "best_run",
        "arguments": json.dumps({"metric": "auc", "experiment": "churn"}),
    }
    _assert_key_only_in_auth_header(fake_llm, KEY)


def test_a_failing_tool_goes_back_to_the_model_as_an_error_and_it_recovers(
    fake_llm: FakeLLM, churn: dict[str, str]
) -> None:
    def retry(body: dict[str, Any]) -> Answer:
        (result,) = _last_tool_results(body)
        assert result["is_error"] is True
        assert "ffff0000" in result["content"]
        return anthropic_tools(("get_run", {"run_id": churn["small"]}))

    fake_llm.script(
        anthropic_tools(("get_run", {"run_id": "ffff0000"})),
        retry,
        lambda body: anthropic_text(
            "Found it." if _last_tool_results(body)[0]["is_error"] is False else "Still failing."
        ),
    )
    out = ask("show run ffff0000", provider="anthropic", base_url=fake_llm.root, api_key=KEY)

    assert out["answer"] == "Found it."
    bad, good = out["tool_calls"]
    assert "ffff0000" in bad["error"] and good["error"] is None


def test_openai_bad_arguments_and_unknown_tools_are_errors_the_model_sees(
    fake_llm: FakeLLM, churn: dict[str, str]
) -> None:
    fake_llm.script(
        openai_tools(("get_run", "{not json"), ("drop_database", {}), ("get_tags", {"run_id": 7})),
        openai_text("sorry"),
    )
    out = ask("tags?", base_url=fake_llm.v1, model="m", api_key=KEY)

    messages = fake_llm.requests[1].body["messages"]
    tool_messages = [m for m in messages if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_1", "call_2", "call_3"]
    assert all(m["content"].startswith("Error: ") for m in tool_messages)
    assert "not valid JSON" in tool_messages[0]["content"]
    assert "drop_database" in tool_messages[1]["content"]
    assert "run_id" in tool_messages[2]["content"]
    assert [c["error"] is not None for c in out["tool_calls"]] == [True, True, True]
    assert out["answer"] == "sorry"


def test_one_turn_runs_at_most_32_tool_calls_the_rest_are_errors(
    fake_llm: FakeLLM, churn: dict[str, str]
) -> None:
    """A model asking for thousands of calls in one turn must not run thousands of queries:
    the first 32 run, every further one gets an error result (each call id is answered)."""
    run_id = churn["large"]
    calls = [("add_tag", {"run_id": run_id, "key": f"k{i}", "value": "v"}) for i in range(40)]
    fake_llm.script(openai_tools(*calls), openai_text("tagged"))
    out = ask("tag it", base_url=fake_llm.v1, model="m", api_key=KEY, allow_writes=True)

    tags = ml.get_run(run_id)["tags"]
    assert sorted(k for k in tags if k.startswith("k")) == sorted(f"k{i}" for i in range(32))
    tool_messages = [m for m in fake_llm.requests[1].body["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == [f"call_{i}" for i in range(1, 41)]
    refused = [m["content"] for m in tool_messages[32:]]
    assert all(c.startswith("Error: not run: at most 32 tool calls per turn") for c in refused)
    assert [c["error"] is None for c in out["tool_calls"]] == [True] * 32 + [False] * 8
    assert out["answer"] == "tagged"


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_the_iteration_cap_stops_the_loop_and_says_so(
    fake_llm: FakeLLM, churn: dict[str, str], provider: str
) -> None:
    if provider == "anthropic":
        turn = anthropic_tools(("list_runs", {}), text="Let me look again.")
        base_url = fake_llm.root
    else:
        turn = openai_tools(("list_runs", {}))
        base_url = fake_llm.v1
    fake_llm.script(turn, turn, turn, turn)
    out = ask(
        "loop forever",
        provider=provider,
        model="m",
        base_url=base_url,
        api_key=KEY,
        max_iterations=3,
    )

    assert out["stop_reason"] == "max_iterations" and out["iterations"] == 3
    assert len(fake_llm.requests) == 3 and fake_llm.left == 1
    # The third turn's tool calls are not run: nobody would read their results.
    assert [c["iteration"] for c in out["tool_calls"]] == [1, 2]
    assert "max_iterations" in out["answer"] and "list_runs" in out["answer"]
    if provider == "anthropic":
        assert out["answer"].endswith("Let me look again.")


def test_without_allow_writes_write_tools_are_neither_offered_nor_run(
    fake_llm: FakeLLM, churn: dict[str, str]
) -> None:
    run_id = churn["medium"]
    fake_llm.script(
        openai_tools(("add_tag", {"run_id": run_id, "key": "reviewed", "value": "yes"})),
        openai_text("could not tag"),
    )
    out = ask("tag it", base_url=fake_llm.v1, model="m", api_key=KEY)

    offered = {t["function"]["name"] for t in fake_llm.requests[0].body["tools"]}
    writes = {t.name for t in tool_specs(allow_writes=True) if t.write}
    assert writes and offered.isdisjoint(writes)
    assert (
        "Tools that change the store are not available"
        in (fake_llm.requests[0].body["messages"][0]["content"])
    )
    assert out["tool_calls"][0]["error"] is not None
    assert "reviewed" not in ml.get_run(run_id)["tags"]


def test_with_allow_writes_the_model_can_tag_a_run(
    fake_llm: FakeLLM, churn: dict[str, str]
) -> None:
    run_id = churn["medium"]
    fake_llm.script(
        anthropic_tools(("add_tag", {"run_id": run_id, "key": "reviewed", "value": "yes"})),
        anthropic_text(f"Tagged run {run_id}."),
    )
    out = ask(
        "tag it", provider="anthropic", base_url=fake_llm.root, api_key=KEY, allow_writes=True
    )

    offered = {t["name"] for t in fake_llm.requests[0].body["tools"]}
    assert "add_tag" in offered
    assert out["tool_calls"][0]["error"] is None
    assert ml.get_run(run_id)["tags"]["reviewed"] == "yes"


def test_the_store_argument_is_the_store_the_tools_read(
    fake_llm: FakeLLM, churn: dict[str, str], tmp_path: Any
) -> None:
    other = ml.open_store(str(tmp_path / "other.db"))
    try:
        fake_llm.script(
            openai_tools(("list_runs", {})),
            lambda body: openai_text(body["messages"][-1]["content"]),
        )
        out = ask("runs?", base_url=fake_llm.v1, model="m", api_key=KEY, store=other)
    finally:
        other.close()
    assert json.loads(out["answer"])["runs"] == []


def test_an_answer_cut_at_the_output_limit_is_reported(fake_llm: FakeLLM, store: ml.Store) -> None:
    fake_llm.script(
        Answer(
            200,
            json.dumps(
                {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": "m",
                    "content": [{"type": "text", "text": "The runs are"}],
                    "stop_reason": "max_tokens",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 1, "output_tokens": 4096},
                }
            ).encode(),
            {},
        )
    )
    out = ask("list", provider="anthropic", base_url=fake_llm.root, api_key=KEY)
    assert (out["answer"], out["stop_reason"]) == ("The runs are", "max_tokens")


def test_an_anthropic_tool_use_without_an_object_input_is_an_error_result(
    fake_llm: FakeLLM, store: ml.Store
) -> None:
    bad = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [{"type": "tool_use", "id": "toolu_9", "name": "list_runs", "input": "all"}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    fake_llm.script(Answer(200, json.dumps(bad).encode(), {}), anthropic_text("ok"))
    out = ask("q", provider="anthropic", base_url=fake_llm.root, api_key=KEY)

    (result,) = _last_tool_results(fake_llm.requests[1].body)
    assert result["tool_use_id"] == "toolu_9" and result["is_error"] is True
    assert "JSON object" in result["content"]
    assert out["tool_calls"][0]["arguments"] is None
