"""The background writer keeps its promises when things go wrong."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import chachaml as ml


def test_points_of_a_deleted_run_are_dropped_without_blocking_other_runs(
    store: ml.Store, caplog: pytest.LogCaptureFixture
) -> None:
    doomed = ml.start_run(experiment="w")
    doomed.log_metric("loss", 1.0)
    survivor = ml.start_run(experiment="w", nested=False)
    survivor.log_metric("loss", 2.0)
    store.meta.delete_run(doomed.id)  # e.g. another process cleaned it up
    with caplog.at_level(logging.WARNING, logger="chachaml"):
        store.flush()
    assert "dropped 1 metric points" in caplog.text
    survivor.end()
    history = ml.metric_history(survivor.id, "loss")
    assert [(p["step"], p["value"]) for p in history] == [(0, 2.0)]
    assert ml.search_runs(ids=[doomed.id], include_archived=True) == []


def test_a_run_ending_inside_batched_metrics_has_its_points_durable(db_path: Path) -> None:
    with ml.store(str(db_path)), ml.batched_metrics():
        with ml.run(experiment="w") as run:
            for step in range(5):
                ml.log_metric("acc", step / 10)
        with ml.open_store(str(db_path)) as other:  # a second reader sees them at once
            history = ml.metric_history(run.id, "acc", store=other)
    assert [p["value"] for p in history] == [0.0, 0.1, 0.2, 0.3, 0.4]
