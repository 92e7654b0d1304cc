"""Core tracking and queries, backend-agnostic: runs, params, metrics, tags, notes, datasets,
queries, experiments and lifecycle through the public API only."""

from __future__ import annotations

import math
import time

import pytest

import chachaml as ml


def _run(experiment: str = "core", **metrics: list[float]) -> str:
    with ml.run(experiment=experiment) as run:
        for key, values in metrics.items():
            for step, value in enumerate(values):
                ml.log_metric(key, value, step=step)
    return run.id


def test_run_status_nesting_and_failure(conformance_store: ml.Store) -> None:
    with (
        ml.run(experiment="core", name="outer", tags={"team": "a"}) as outer,
        ml.run(name="inner") as inner,
    ):
        pass
    with pytest.raises(RuntimeError), ml.run(name="boom"):
        raise RuntimeError("broken")
    got = ml.get_run(outer.id)
    assert got is not None
    assert (got["status"], got["name"], got["tags"], got["children"]) == (
        "completed",
        "outer",
        {"team": "a"},
        [inner.id],
    )
    assert ml.get_run(inner.id)["parent_run_id"] == outer.id  # type: ignore[index]
    (failed,) = ml.runs(status="failed")
    assert failed["name"] == "boom" and "broken" in failed["error"]
    assert ml.search_runs(ids=["0" * 32], include_archived=True) == []


def test_params_are_immutable_and_conflicts_change_nothing(conformance_store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_params({"lr": 0.1, "layers": [1, 2], "name": "50% off?", "none": None})
        ml.log_param("lr", 0.1)  # same value: fine
        with pytest.raises(ml.ParamConflict):
            ml.log_params({"lr": 0.2, "new": 1})
    params = ml.get_run(run.id)["params"]  # type: ignore[index]
    assert params == {"lr": 0.1, "layers": [1, 2], "name": "50% off?", "none": None}


def test_metrics_keep_nan_inf_int64_steps_and_relogged_steps(conformance_store: ml.Store) -> None:
    big = 2**62
    with ml.run() as run:
        ml.log_metric("nan", math.nan, step=0)
        ml.log_metric("inf", math.inf, step=0)
        ml.log_metric("inf", -math.inf, step=1)
        ml.log_metric("big", 1.5, step=big)
        ml.log_metric("big", -7, step=-big)
        for step in range(5):
            ml.log_metric("loss", 1.0 / (step + 1), step=step)
        ml.log_metric("loss", 9.0, step=2)  # re-logged: replaces
    got = ml.get_run(run.id)
    assert got is not None
    assert math.isnan(got["metrics"]["nan"])
    assert got["metrics"]["inf"] == -math.inf
    assert got["metrics"]["big"] == 1.5
    stats = got["metric_stats"]["loss"]
    assert (stats["count"], stats["max"], stats["min"], stats["first"]) == (5, 9.0, 0.2, 1.0)
    history = ml.metric_history(run.id, "big")
    assert [(p["step"], p["value"]) for p in history] == [(-big, -7.0), (big, 1.5)]
    loss = [p["value"] for p in ml.metric_history(run.id, "loss")]
    assert loss == [1.0, 0.5, 9.0, 0.25, 0.2]
    assert math.isnan(ml.metric_history(run.id, "nan")[0]["value"])


def test_metric_history_downsampling_keeps_extremes(conformance_store: ml.Store) -> None:
    values = [math.sin(i / 10) for i in range(1000)]
    values[500] = 50.0
    values[700] = math.nan
    run_id = _run(wave=values)
    points = ml.metric_history(run_id, "wave", max_points=42)
    assert len(points) <= 42
    steps = [p["step"] for p in points]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 999
    assert any(p["step"] == 500 and p["value"] == 50.0 for p in points)


def test_tags_notes_and_datasets(conformance_store: ml.Store) -> None:
    with ml.run(tags={"a": "1"}) as run:
        ml.log_tags({"b": "2"})
        ml.log_dataset(role="train", name="iris", n_rows=150, n_cols=4, features=["x", "y"])
    ml.add_tag(run.id, "a", "changed")
    assert ml.remove_tag(run.id, "b") is True
    assert ml.get_tags(run.id) == {"a": "changed"}
    ml.set_note(run.id, "# Notes\n50% better?")
    (ds,) = ml.get_datasets(run.id)
    assert (ds["name"], ds["n_rows"], ds["features"]) == ("iris", 150, ["x", "y"])
    got = ml.get_run(run.id)
    assert got is not None and got["note"] == "# Notes\n50% better?"


def test_listing_filters_orders_and_pages(conformance_store: ml.Store) -> None:
    ids = [_run("a" if i % 2 else "b", acc=[i / 10]) for i in range(6)]
    assert [r["id"] for r in ml.runs()] == ids[::-1]
    assert [r["id"] for r in ml.runs(experiment="a")] == [ids[5], ids[3], ids[1]]
    assert [r["id"] for r in ml.runs(limit=2, offset=1)] == [ids[4], ids[3]]
    assert [r["id"] for r in ml.search_runs(order_by=["metrics.acc"], limit=3)] == ids[:3]
    found = ml.search_runs(metric="acc", op=">=", value=0.3)
    assert {r["id"] for r in found} == set(ids[3:])
    found = ml.search_runs("metrics.acc < 0.2 and experiment = 'b'")
    assert [r["id"] for r in found] == [ids[0]]


def test_best_run_compare_and_export(conformance_store: ml.Store) -> None:
    low = _run(loss=[5.0, 0.5, 3.0])
    high = _run(loss=[9.0, 1.0])
    _run(other=[1.0])
    # Latest values: low 3.0 @2, high 1.0 @1; minima low 0.5 @1; maxima high 9.0 @0.
    latest_min = ml.best_run("loss", direction="min")
    assert (latest_min["id"], latest_min["metric_value"], latest_min["metric_step"]) == (
        high,
        1.0,
        1,
    )
    assert ml.best_run("loss")["id"] == low
    best_min = ml.best_run("loss", direction="min", by="min")
    assert (best_min["id"], best_min["metric_value"], best_min["metric_step"]) == (low, 0.5, 1)
    assert ml.best_run("loss", by="max")["id"] == high
    with ml.run() as a:
        ml.log_params({"lr": 0.1, "k": 1})
    with ml.run() as b:
        ml.log_params({"lr": 0.2, "k": 1})
    cmp = ml.compare_runs([a.id, b.id])
    assert cmp["params"]["same"] == {"k": {a.id: 1, b.id: 1}}
    assert set(cmp["params"]["differ"]) == {"lr"}
    rows = {r["id"]: r for r in ml.export_runs()}
    assert rows[low]["metrics.loss"] == 3.0 and rows[a.id]["params.lr"] == 0.1


def test_experiments_archive_and_delete(conformance_store: ml.Store) -> None:
    ml.create_experiment("exp", description="first", owner="ann")
    ml.create_experiment("exp", owner="bob")
    old = _run("exp", acc=[1.0])
    ended = ml.get_run(old)["end_time"]  # type: ignore[index]
    while time.time_ns() // 1_000_000 <= ended:  # "older than 0 days" needs a later millisecond
        pass
    with ml.run(experiment="exp"):
        assert ml.archive_runs(older_than_days=0) == 1  # the running run is never archived
    exp = ml.experiment("exp")
    assert (exp["description"], exp["owner"], exp["run_count"]) == ("first", "bob", 1)
    assert old not in {r["id"] for r in ml.runs()}
    assert [r["id"] for r in ml.runs(status="archived")] == [old]
    assert ml.delete_archived() == 1
    assert ml.search_runs(ids=[old], include_archived=True) == []
