"""One call of every tool on the store built by ``conftest.populate``, each with a check that
compares the result with what the Python API says (the expectation is computed from
``chachaml``'s public functions, never from the tool layer). Shared by the tool-layer tests and
the MCP transport tests, which run the same calls through a real MCP client."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

from agent_store import same_json

import chachaml as ml
from chachaml import export, registry


class Case(NamedTuple):
    tool: str
    args: Callable[[dict[str, str]], dict[str, Any]]
    check: Callable[[dict[str, Any], dict[str, str], ml.Store], None]


def _summary_ok(row: dict[str, Any], st: ml.Store) -> None:
    full = ml.get_run(row["id"], store=st)
    for key in ("experiment", "name", "status", "start_time", "end_time", "parent_run_id"):
        assert row[key] == full[key], key
    assert row["params"] == same_json(full["params"])
    assert row["metrics"] == same_json(full["metrics"])
    assert row["tags"] == full["tags"]


def list_runs_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    expected = ml.search_runs(limit=None, store=st)
    assert [r["id"] for r in res["runs"]] == [r["id"] for r in expected]
    assert res["count"] == len(expected) == 9 and res["truncated"] is False
    for row in res["runs"]:
        _summary_ok(row, st)


def list_page_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    expected = ml.search_runs(experiment="iris", limit=None, store=st)
    assert [r["id"] for r in res["runs"]] == [r["id"] for r in expected][2:4]
    assert res["truncated"] is True and res["next_offset"] == 4


def search_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    # Latest acc above 0.8: r0 ends at 0.91, r1 at 0.85 (its maximum 0.95 does not count).
    assert {r["id"] for r in res["runs"]} == {ids["r0"], ids["r1"]}
    expected = ml.search_runs("metrics.acc > 0.8 and params.depth = 3", store=st)
    assert [r["id"] for r in res["runs"]] == [r["id"] for r in expected]
    for row in res["runs"]:
        _summary_ok(row, st)


def get_run_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res == same_json(dict(ml.get_run(ids["r1"], store=st)))
    assert res["note"] == "## best so far\nwith $x^2$"
    assert res["children"] == [ids["child"]]


def best_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    expected = ml.best_run("acc", "iris", store=st)
    assert expected is not None
    assert res["run"]["id"] == expected["id"] == ids["r0"]
    assert (res["value"], res["step"]) == (expected["metric_value"], expected["metric_step"])
    assert res["value"] == 0.91


def best_by_max_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    expected = ml.best_run("acc", "iris", by="max", store=st)
    assert expected is not None and res["run"]["id"] == expected["id"] == ids["r1"]
    assert res["value"] == 0.95


def best_min_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    # The failed run's NaN never wins a minimum; the child run's 0.1 does.
    assert res["run"]["id"] == ids["child"] and res["value"] == 0.1


def best_none_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res["run"] is None and ml.best_run("nope", store=st) is None


def compare_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res == same_json(ml.compare_runs([ids["r0"], ids["r1"]], store=st))
    assert set(res["params"]["differ"]) == {"lr", "model"}
    assert set(res["params"]["same"]) == {"depth"}


def history_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res["points"] == same_json(ml.metric_history(ids["r0"], "acc", 200, store=st))
    assert [p["value"] for p in res["points"]] == [0.7, 0.8, 0.91]
    assert res["run_id"] == ids["r0"]


def tags_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res["tags"] == ml.get_tags(ids["r0"], store=st) == {"team": "a", "reviewed": "true"}


def datasets_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res["datasets"] == same_json(ml.get_datasets(ids["r0"], store=st))
    assert res["datasets"][0]["n_rows"] == 150


def export_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    rows = ml.export_runs(experiment="iris", store=st)
    assert res["rows"] == same_json(rows) and res["count"] == 5  # r0-r2, child, late
    assert {r["params.model"] for r in res["rows"] if "params.model" in r} == {"rf", "gbm"}


def export_csv_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    rows = ml.export_runs(experiment="iris", limit=2, store=st)
    assert res["csv"] == export.export_csv(rows)
    assert res["truncated"] is True and res["csv"].splitlines()[0].startswith("id,experiment")


def experiments_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res["experiments"] == same_json(ml.experiments(store=st))
    iris = next(e for e in res["experiments"] if e["name"] == "iris")
    assert iris["owner"] == "ana" and iris["run_count"] == 5


def models_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res["models"] == same_json(registry.models(store=st))
    assert res["models"][0]["production_version"] == 2


def model_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res == same_json(registry.model("churn", store=st))
    assert [v["stage"] for v in res["versions"]] == ["none", "production"]


def version_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res == same_json(registry.get_version("churn", store=st))
    assert res["version"] == 2 and res["run_id"] == ids["r1"]


def version_1_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res == same_json(registry.get_version("churn", 1, store=st))
    assert res["run_id"] == ids["r0"] and res["description"] == "first"


def diff_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res == same_json(registry.diff_versions("churn", 1, 2, store=st))
    assert res["run_ids"] == [ids["r0"], ids["r1"]]


def artifacts_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res["artifacts"] == same_json(ml.list_artifacts(ids["r0"], store=st))
    assert [a["name"] for a in res["artifacts"]] == ["config", "readme", "scores", "model"]


def read_json_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res["preview"] == "json"
    assert (
        res["value"]
        == ml.load_artifact(ids["r0"], "config", store=st)
        == {
            "lr": 0.1,
            "model": "rf",
        }
    )


def read_text_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    full = ml.load_artifact(ids["r0"], "readme", store=st)
    assert res["text"] == full[:150] and res["truncated"] is True and len(full) == 12000


def read_table_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    table = ml.load_artifact(ids["r0"], "scores", store=st)
    assert res["headers"] == ["k", "v"] == table["headers"]
    assert res["rows"] == table["rows"][:5] == [[j, j * j] for j in range(5)]
    assert res["total_rows"] == 50 and res["truncated"] is True


def read_pickle_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res["preview"] is None and "value" not in res and "text" not in res
    assert res["artifact"]["format"] == "pickle" and "not previewed" in res["note"]


def pipelines_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res["pipelines"] == same_json(ml.pipelines(store=st))
    assert [p["id"] for p in res["pipelines"]] == [ids["pipeline"]]


def pipeline_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res == same_json(dict(ml.pipeline(ids["pipeline"], store=st)))
    assert [s["name"] for s in res["steps"]] == ["load", "fit"]
    assert {s["status"] for s in res["steps"]} == {"completed"}


def alerts_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res["alerts"] == same_json(list(ml.alerts(store=st)))
    assert [a["name"] for a in res["alerts"]] == ["low-acc"]


def history_alert_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res["events"] == same_json(list(ml.alert_history("low-acc", store=st)))
    assert res["count"] >= 1 and res["events"][0]["run_id"]


READ_CASES: list[tuple[str, Case]] = [
    ("list_runs", Case("list_runs", lambda i: {}, list_runs_ok)),
    (
        "list_runs-page",
        Case("list_runs", lambda i: {"experiment": "iris", "limit": 2, "offset": 2}, list_page_ok),
    ),
    (
        "search_runs",
        Case(
            "search_runs",
            lambda i: {"filter": "metrics.acc > 0.8 and params.depth = 3"},
            search_ok,
        ),
    ),
    ("get_run", Case("get_run", lambda i: {"run_id": i["r1"][:8]}, get_run_ok)),
    ("best_run", Case("best_run", lambda i: {"metric": "acc", "experiment": "iris"}, best_ok)),
    (
        "best_run-max",
        Case(
            "best_run",
            lambda i: {"metric": "acc", "experiment": "iris", "by": "max"},
            best_by_max_ok,
        ),
    ),
    (
        "best_run-min",
        Case("best_run", lambda i: {"metric": "acc", "direction": "min"}, best_min_ok),
    ),
    ("best_run-none", Case("best_run", lambda i: {"metric": "nope"}, best_none_ok)),
    ("compare_runs", Case("compare_runs", lambda i: {"run_ids": [i["r0"], i["r1"]]}, compare_ok)),
    (
        "get_metric_history",
        Case("get_metric_history", lambda i: {"run_id": i["r0"], "key": "acc"}, history_ok),
    ),
    ("get_tags", Case("get_tags", lambda i: {"run_id": i["r0"]}, tags_ok)),
    ("get_datasets", Case("get_datasets", lambda i: {"run_id": i["r0"]}, datasets_ok)),
    ("export_runs", Case("export_runs", lambda i: {"experiment": "iris"}, export_ok)),
    (
        "export_runs-csv",
        Case(
            "export_runs",
            lambda i: {"experiment": "iris", "format": "csv", "limit": 2},
            export_csv_ok,
        ),
    ),
    ("list_experiments", Case("list_experiments", lambda i: {}, experiments_ok)),
    ("list_models", Case("list_models", lambda i: {}, models_ok)),
    ("get_model", Case("get_model", lambda i: {"name": "churn"}, model_ok)),
    ("get_model_version", Case("get_model_version", lambda i: {"name": "churn"}, version_ok)),
    (
        "get_model_version-1",
        Case("get_model_version", lambda i: {"name": "churn", "version": 1}, version_1_ok),
    ),
    (
        "diff_model_versions",
        Case("diff_model_versions", lambda i: {"name": "churn", "v1": 1, "v2": 2}, diff_ok),
    ),
    ("list_artifacts", Case("list_artifacts", lambda i: {"run_id": i["r0"]}, artifacts_ok)),
    (
        "read_artifact-json",
        Case("read_artifact", lambda i: {"run_id": i["r0"], "name": "config"}, read_json_ok),
    ),
    (
        "read_artifact-text",
        Case(
            "read_artifact",
            lambda i: {"run_id": i["r0"], "name": "readme", "max_chars": 150},
            read_text_ok,
        ),
    ),
    (
        "read_artifact-table",
        Case(
            "read_artifact",
            lambda i: {"run_id": i["r0"], "name": "scores", "max_rows": 5},
            read_table_ok,
        ),
    ),
    (
        "read_artifact-pickle",
        Case("read_artifact", lambda i: {"run_id": i["r0"], "name": "model"}, read_pickle_ok),
    ),
    ("list_pipelines", Case("list_pipelines", lambda i: {}, pipelines_ok)),
    ("get_pipeline", Case("get_pipeline", lambda i: {"pipeline_id": i["pipeline"]}, pipeline_ok)),
    ("list_alerts", Case("list_alerts", lambda i: {}, alerts_ok)),
    ("alert_history", Case("alert_history", lambda i: {"name": "low-acc"}, history_alert_ok)),
]


def add_tag_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert ml.get_tags(ids["r2"], store=st)["verdict"] == "keep"
    assert res["tags"] == ml.get_tags(ids["r2"], store=st)


def set_note_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert ml.get_run(ids["r2"], store=st)["note"] == "looks *fine*"


def create_experiment_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res == same_json(ml.experiment("mnist", store=st))
    assert res["description"] == "digits"


def promote_ok(res: dict[str, Any], ids: dict[str, str], st: ml.Store) -> None:
    assert res["stage"] == "production"
    assert registry.get_version("churn", store=st)["version"] == 1
    assert registry.get_version("churn", 2, store=st)["stage"] == "archived"


WRITE_CASES: list[tuple[str, Case]] = [
    (
        "add_tag",
        Case(
            "add_tag", lambda i: {"run_id": i["r2"], "key": "verdict", "value": "keep"}, add_tag_ok
        ),
    ),
    (
        "set_note",
        Case("set_note", lambda i: {"run_id": i["r2"], "note": "looks *fine*"}, set_note_ok),
    ),
    (
        "create_experiment",
        Case(
            "create_experiment",
            lambda i: {"name": "mnist", "description": "digits"},
            create_experiment_ok,
        ),
    ),
    (
        "promote_model",
        Case(
            "promote_model",
            lambda i: {"name": "churn", "version": 1, "stage": "production"},
            promote_ok,
        ),
    ),
]


def as_sent(value: Any) -> Any:
    """``value`` after a JSON round trip (what a transport delivers)."""
    return json.loads(json.dumps(value))
