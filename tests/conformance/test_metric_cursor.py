"""The live-update cursor of metric histories (``after_step``) on every backend: only points
with a greater step, in step order, never downsampled, at most ``max_points`` of them."""

from __future__ import annotations

import math
from typing import Any

import pytest

import chachaml as ml
from chachaml.errors import InvalidInput


def _steps(points: list[dict[str, Any]]) -> list[int]:
    return [int(p["step"]) for p in points]


def test_after_step_returns_only_newer_points(conformance_store: ml.Store) -> None:
    with ml.run(experiment="cursor") as run:
        for step in range(10):
            ml.log_metric("loss", float("nan") if step == 5 else 1.0 / (step + 1), step=step)
    assert _steps(ml.metric_history(run.id, "loss", after_step=4)) == [5, 6, 7, 8, 9]
    newer = ml.metric_history(run.id, "loss", after_step=6)
    assert [p["value"] for p in newer] == [1 / 8, 1 / 9, 1 / 10]
    assert all(isinstance(p["timestamp"], int) for p in newer)
    nan_point = ml.metric_history(run.id, "loss", after_step=4)[0]
    assert math.isnan(nan_point["value"])
    assert ml.metric_history(run.id, "loss", after_step=9) == []
    assert _steps(ml.metric_history(run.id, "loss", after_step=-1)) == list(range(10))
    assert ml.metric_history(run.id, "nope", after_step=0) == []


def test_after_step_pages_with_max_points_and_is_not_downsampled(
    conformance_store: ml.Store,
) -> None:
    with ml.run(experiment="cursor") as run:
        for step in range(0, 100, 2):  # even steps 0..98
            ml.log_metric("acc", step / 100, step=step)
    # Without the cursor, 10 points of 50 are a downsampled overview ...
    overview = ml.metric_history(run.id, "acc", 10)
    assert len(overview) <= 10
    assert _steps(overview)[0] == 0 and _steps(overview)[-1] == 98
    # ... with it, the first 10 points after the step, consecutive (a page to continue from).
    page = ml.metric_history(run.id, "acc", 10, after_step=20)
    assert _steps(page) == list(range(22, 42, 2))
    rest = ml.metric_history(run.id, "acc", 10, after_step=_steps(page)[-1])
    assert _steps(rest) == list(range(42, 62, 2))


def test_after_step_sees_points_logged_later(conformance_store: ml.Store) -> None:
    with ml.run(experiment="cursor") as run:
        ml.log_metric("x", 1.0, step=0)
        ml.log_metric("x", 2.0, step=1)
        conformance_store.flush()
        first = ml.metric_history(run.id, "x")
        cursor = int(first[-1]["step"])
        ml.log_metric("x", 3.0, step=2)
        ml.log_metric("x", 4.0, step=7)
        conformance_store.flush()
        newer = ml.metric_history(run.id, "x", after_step=cursor)
    assert [(p["step"], p["value"]) for p in newer] == [(2, 3.0), (7, 4.0)]


def test_after_step_must_be_an_integer(conformance_store: ml.Store) -> None:
    with ml.run(experiment="cursor") as run:
        ml.log_metric("x", 1.0)
    with pytest.raises(InvalidInput):
        ml.metric_history(run.id, "x", after_step="3")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        ml.metric_history(run.id, "x", after_step=1.5)  # type: ignore[arg-type]
