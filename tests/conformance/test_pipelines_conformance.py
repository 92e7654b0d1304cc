"""Pipeline bookkeeping on every backend: steps as child runs, fail fast, reading, resume."""

from __future__ import annotations

from typing import Any

import pytest

import chachaml as ml
from chachaml import pipeline_api
from chachaml.errors import AlreadyExists, InvalidInput, NotFound


def _boom(ctx: Any) -> None:
    raise ValueError("no data")


def test_a_pipeline_runs_its_steps_as_child_runs(conformance_store: ml.Store) -> None:
    def fit(ctx: Any) -> dict[str, Any]:
        ml.log_metric("loss", 0.5)
        return {"w": sum(ctx.prev_result)}

    out = ml.run_pipeline(
        "nightly", [("load", lambda ctx: [1, 2]), ml.Step("fit", fit, save_result=True)]
    )
    assert out["status"] == "completed" and out["result"] == {"w": 3}
    assert [s["status"] for s in out["steps"]] == ["completed", "completed"]
    parent = ml.get_run(out["pipeline_id"])
    assert parent["children"] == [s["run_id"] for s in out["steps"]]
    fit_run = out["steps"][1]["run_id"]
    assert ml.get_run(fit_run)["metrics"] == {"loss": 0.5}
    assert ml.load_artifact(fit_run, "pipeline-result") == {"w": 3}
    (listed,) = ml.pipelines()
    assert listed["id"] == out["pipeline_id"] and listed["status"] == "completed"
    assert (listed["step_count"], listed["steps_done"]) == (2, 2)
    assert ml.pipeline(out["pipeline_id"][:8])["steps"] == out["steps"]


def test_a_failure_is_recorded_and_resume_reuses_saved_results(
    conformance_store: ml.Store,
) -> None:
    calls: list[str] = []

    def counted(name: str, value: Any) -> Any:
        def fn(ctx: Any) -> Any:
            calls.append(name)
            return value

        return fn

    steps: list[Any] = [ml.Step("a", counted("a", [1, 2.5, "x"]), save_result=True), ("b", _boom)]
    with pytest.raises(ValueError, match="no data"):
        ml.run_pipeline("p", steps, description="two steps")
    (failed,) = ml.pipelines(status="failed")
    old = ml.pipeline(failed["id"])
    assert [s["status"] for s in old["steps"]] == ["completed", "failed"]
    assert old["steps"][1]["error"] == "ValueError: no data"
    assert old["finished_at"] is not None and old["description"] == "two steps"

    calls.clear()
    out = ml.run_pipeline(
        "p", [steps[0], ("b", lambda ctx: ctx.prev_result[1])], resume_from=old["id"]
    )
    assert calls == [] and out["result"] == 2.5
    assert [s["status"] for s in out["steps"]] == ["reused", "completed"]
    assert out["steps"][0]["run_id"] == old["steps"][0]["run_id"]
    assert ml.pipeline(out["pipeline_id"])["resumed_from"] == old["id"]
    assert [p["id"] for p in ml.pipelines()] == [out["pipeline_id"], old["id"]]


def test_unknown_ids_and_bad_input_change_nothing(conformance_store: ml.Store) -> None:
    meta = conformance_store.meta
    with pytest.raises(NotFound):
        ml.pipeline("0" * 32)
    assert meta.get_pipeline("0" * 32) is None
    with pytest.raises(NotFound):
        pipeline_api.record_pipeline("1" * 32, "p", ["s"])
    with ml.run() as run:
        pass
    pipeline_api.record_pipeline(run.id, "p", ["s", "t"])
    with pytest.raises(AlreadyExists):
        pipeline_api.record_pipeline(run.id, "p", ["s"])
    with pytest.raises(NotFound):
        pipeline_api.record_step(run.id, 2, "skipped")
    with pytest.raises(NotFound):
        pipeline_api.record_step(run.id, 0, "running", run_id="2" * 32)
    with pytest.raises(InvalidInput):
        ml.run_pipeline("p", [("s", lambda ctx: 1), ("s", lambda ctx: 2)])
    p = ml.pipeline(run.id)
    assert [(s["name"], s["status"], s["run_id"]) for s in p["steps"]] == [
        ("s", "skipped", None),  # pending in a pipeline whose run has ended
        ("t", "skipped", None),
    ]
    assert len(ml.pipelines()) == 1
