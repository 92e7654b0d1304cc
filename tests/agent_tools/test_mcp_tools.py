"""The agent tool layer (``chachaml.tools``) on SQLite, PostgreSQL and the remote store: every
tool's result equals what the Python API says, and bad calls are clear tool errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from agent_store import Populated
from mcp_cases import READ_CASES, WRITE_CASES, Case

import chachaml as ml
from chachaml import tools
from chachaml.tools import ToolError


@pytest.mark.parametrize("case", [c for _, c in READ_CASES], ids=[n for n, _ in READ_CASES])
def test_every_read_tool_equals_the_python_api(backend: Populated, case: Case) -> None:
    result = tools.call_tool(case.tool, case.args(backend.ids), store=backend.store)
    json.dumps(result, allow_nan=False)  # plain JSON, nothing a transport could not carry
    case.check(result, backend.ids, backend.store)
    assert tools.render_text(case.tool, result).strip()


def test_every_tool_is_called_by_the_cases() -> None:
    called = {c.tool for _, c in READ_CASES + WRITE_CASES}
    assert called == {t.name for t in tools.TOOLS}


def _error(name: str, args: Any, backend: Populated, **kw: Any) -> ToolError:
    with pytest.raises(ToolError) as info:
        tools.call_tool(name, args, store=backend.store, **kw)
    return info.value


def test_bad_calls_are_tool_errors_naming_the_problem(backend: Populated) -> None:
    r0 = backend.ids["r0"]
    cases: list[tuple[str, Any, str, str]] = [
        ("get_run", {"run_id": "0" * 32}, "not_found", "does not exist"),
        ("get_run", {"run_id": "ffff"}, "not_found", "no run id starts with 'ffff'"),
        ("get_run", {"run_id": 5}, "invalid_input", "run_id must be a string, got integer"),
        ("get_run", {}, "invalid_input", "missing required argument 'run_id'"),
        ("get_run", {"run_id": "x/../etc"}, "invalid_input", "run_id 'x/../etc' is malformed"),
        # A "$" ends the id as JSON Schema reads it, not before a final newline as in Python.
        ("get_run", {"run_id": r0[:8] + "\n"}, "invalid_input", "is malformed (expected: a run"),
        ("list_runs", {"tags": []}, "invalid_input", "tags must be an object, got array"),
        ("list_runs", {"limit": 1000}, "invalid_input", "limit must be at most 100"),
        ("list_runs", {"limit": True}, "invalid_input", "limit must be an integer, got boolean"),
        ("list_runs", {"status": "done"}, "invalid_input", "status must be one of 'running'"),
        ("list_runs", {"colour": "red"}, "invalid_input", "unknown argument 'colour'"),
        ("list_runs", {"tags": {"a": 1}}, "invalid_input", "tags['a'] must be a string"),
        ("list_runs", [1, 2], "invalid_input", "arguments must be a JSON object, got array"),
        ("search_runs", {"filter": "metrics.acc >"}, "invalid_filter", "at column 14"),
        ("search_runs", {"filter": "x" * 1_000_000}, "invalid_input", "the maximum is 10,000"),
        ("best_run", {"metric": "acc", "direction": "up"}, "invalid_input", "'max', 'min'"),
        ("compare_runs", {"run_ids": []}, "invalid_input", "run_ids needs at least 1 item"),
        ("compare_runs", {"run_ids": [r0, "0" * 32]}, "not_found", "does not exist"),
        ("get_model", {"name": "nope"}, "not_found", "model 'nope' does not exist"),
        ("get_model_version", {"name": "churn", "version": 9}, "not_found", "no version 9"),
        (
            "get_model_version",
            {"name": "churn", "version": 1, "stage": "staging"},
            "invalid_input",
            "not both",
        ),
        ("read_artifact", {"run_id": r0, "name": "nope"}, "not_found", "no artifact named"),
        ("get_pipeline", {"pipeline_id": r0}, "not_found", "does not exist"),
        ("alert_history", {"name": "nope"}, "not_found", "alert 'nope' does not exist"),
        ("drop_tables", {}, "unknown_tool", "unknown tool 'drop_tables'; the tools are: list_runs"),
    ]
    for name, args, code, words in cases:
        err = _error(name, args, backend)
        assert (err.code, words in err.message) == (code, True), (name, args, err.message)


def test_write_tools_need_writes_allowed_and_change_nothing_otherwise(backend: Populated) -> None:
    for _, case in WRITE_CASES:
        err = _error(case.tool, case.args(backend.ids), backend)
        assert err.code == "read_only" and "read-only" in err.message
    assert (
        "verdict"
        not in tools.call_tool("get_tags", {"run_id": backend.ids["r2"]}, store=backend.store)[
            "tags"
        ]
    )
    assert {t.name for t in tools.tool_specs(allow_writes=False)} == {
        t.name for t in tools.TOOLS if not t.write
    }


def test_write_tools_write_through_the_services(backend: Populated) -> None:
    for _, case in WRITE_CASES:
        result = tools.call_tool(
            case.tool, case.args(backend.ids), store=backend.store, allow_writes=True
        )
        case.check(result, backend.ids, backend.store)


def test_a_null_optional_argument_means_not_given(backend: Populated) -> None:
    with_null = tools.call_tool("list_runs", {"experiment": None}, store=backend.store)
    assert with_null == tools.call_tool("list_runs", {}, store=backend.store)


def test_results_are_compact_with_truncation_markers(store: ml.Store) -> None:
    with ml.run(experiment="wide") as run:
        ml.log_params({f"p{i:03d}": i for i in range(300)})
        ml.set_note(run.id, "x" * 10_000)
    full = tools.call_tool("get_run", {"run_id": run.id}, store=store)
    assert len(full["params"]) == 200 and full["params_truncated"] == "100 more keys not shown"
    assert full["note"] == "x" * 4000 + "... [truncated: 6,000 more characters]"
    listed = tools.call_tool("list_runs", {}, store=store)["runs"][0]
    assert len(listed["params"]) == 31 and listed["params"]["..."].startswith("270 more")


def test_wide_comparisons_and_exports_stay_small(store: ml.Store) -> None:
    """Runs with thousands of params and metrics: compare_runs, diff_model_versions and
    export_runs rows used to return every key (megabytes for a model's context)."""
    ids = []
    for i in range(3):
        with ml.run(experiment="wide") as run:
            ml.log_params({f"p{j:04d}": j * (i + 1) for j in range(1500)})
            ml.log_metrics({f"m{j:04d}": float(j * i) for j in range(1500)})
            run.log_tags({f"t{j:02d}": "v" for j in range(40)})
            ml.log_artifact("model", {"coef": [i]})
        ids.append(run.id)
        ml.registry.register_model("wide", artifact="model", run_id=run.id)
    found = tools.call_tool("compare_runs", {"run_ids": ids}, store=store)
    full = ml.compare_runs(ids, store=store)
    differ = sorted(full["params"]["differ"])  # p0000 is the same in all three
    assert sorted(found["params"]["differ"]) == differ[:100]
    assert found["params"]["differ"]["p0001"] == full["params"]["differ"]["p0001"]
    assert found["params"]["same"] == full["params"]["same"]  # one key: nothing cut
    assert found["keys_truncated"]["params.differ"].startswith(f"{len(differ) - 100} more")
    assert found["keys_truncated"]["metrics.differ"].startswith("1399 more")  # m0000 is same
    assert [len(r["tags"]) for r in found["runs"]] == [30, 30, 30]
    assert len(json.dumps(found)) < 100_000
    diff = tools.call_tool("diff_model_versions", {"name": "wide", "v1": 1, "v2": 3}, store=store)
    assert len(diff["params"]["differ"]) == 100 and "params.differ" in diff["keys_truncated"]
    rows = tools.call_tool("export_runs", {}, store=store)
    assert [len(r) for r in rows["rows"]] == [200, 200, 200]
    assert rows["rows"][0]["id"] == ids[-1] and "columns_truncated" in rows


def test_paging_with_next_offset_visits_every_run_once(store: ml.Store) -> None:
    for i in range(45):
        with ml.run(experiment="many", name=f"r{i}"):
            ml.log_metric("acc", i / 45)
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = tools.call_tool("list_runs", {"limit": 20, "offset": offset}, store=store)
        assert page["count"] == len(page["runs"]) <= 20
        seen += [r["id"] for r in page["runs"]]
        offset = page["next_offset"]
    assert seen == [r["id"] for r in ml.search_runs(limit=None, store=store)]
    assert len(seen) == 45
