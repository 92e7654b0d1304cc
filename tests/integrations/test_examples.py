"""The gallery (``examples/*.py``): each script runs as a user would run it (a subprocess in an
empty folder, its own store), then the store is checked for what the script says it tracks.

Expected values are recomputed here with scikit-learn / LightGBM directly where that is cheap,
so a script that logs a wrong number fails, not only a script that crashes.
"""

from __future__ import annotations

import itertools
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chachaml as ml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))


def run_example(name: str, work: Path) -> subprocess.CompletedProcess[str]:
    """Run ``examples/<name>`` in the empty folder ``work`` with its own store."""
    work.mkdir()
    env = {
        **os.environ,
        "CHACHAML_STORE": str(work / "gallery.db"),
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("CHACHAML_SYSTEM_METRICS", None)
    return subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / name)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """Every example, run once per session, as many at a time as there are cores (most of a
    script's time is importing scikit-learn)."""
    root = tmp_path_factory.mktemp("gallery")
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(run_example, name, root / name[:-3]) for name in SCRIPTS}
    return {name: (root / name[:-3], future.result()) for name, future in futures.items()}


@pytest.fixture
def gallery(
    request: pytest.FixtureRequest, ran: dict[str, tuple[Path, Any]]
) -> Iterator[tuple[str, Path]]:
    """The example named by the test's parameter, with its store scoped."""
    name: str = request.param
    work, proc = ran[name]
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    with ml.store(str(work / "gallery.db")):
        yield proc.stdout, work


def metrics(run_id: str) -> dict[str, Any]:
    return dict(ml.get_run(run_id)["metrics"])


def test_every_example_is_checked() -> None:
    checked = {
        "alert_on_regression.py",
        "classification.py",
        "clustering.py",
        "cross_validation.py",
        "grid_search_autolog.py",
        "lightgbm_early_stopping.py",
        "numpy_training_loop.py",
        "pipeline.py",
        "query_to_pandas.py",
        "regression.py",
    }
    assert set(SCRIPTS) == checked
    index = (EXAMPLES / "README.md").read_text()
    for script in SCRIPTS:
        assert f"({script})" in index, f"{script} is missing from examples/README.md"


@pytest.mark.parametrize("gallery", ["classification.py"], indirect=True)
def test_classification_tags_the_best_model(gallery: tuple[str, Path]) -> None:
    from sklearn.datasets import load_wine
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import train_test_split

    runs = ml.runs(experiment="gallery-classification")
    assert sorted(r["name"] for r in runs) == ["knn", "logreg", "random-forest"]
    winners = [r for r in runs if ml.get_tags(r["id"]).get("winner") == "true"]
    assert len(winners) == 1
    accuracies = {r["id"]: metrics(r["id"])["accuracy"] for r in runs}
    assert accuracies[winners[0]["id"]] == max(accuracies.values())
    # The stored accuracy is the model's: recompute it from the stored model.
    X, y = load_wine(return_X_y=True)
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.5, random_state=1, stratify=y)
    for run in runs:
        model = ml.load_artifact(run["id"], "model")
        assert accuracy_score(y_test, model.predict(X_test)) == accuracies[run["id"]]


@pytest.mark.parametrize("gallery", ["regression.py"], indirect=True)
def test_regression_metrics_and_winner(gallery: tuple[str, Path]) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.metrics import mean_squared_error, r2_score
    from sklearn.model_selection import train_test_split

    X, y = load_diabetes(return_X_y=True)
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    runs = ml.runs(experiment="gallery-regression")
    assert sorted(r["name"] for r in runs) == ["gbr", "ridge"]
    rmse = {}
    for run in runs:
        stored = metrics(run["id"])
        predicted = ml.load_artifact(run["id"], "model").predict(X_test)
        assert stored["r2"] == pytest.approx(r2_score(y_test, predicted), rel=1e-12)
        assert stored["rmse"] == pytest.approx(
            math.sqrt(mean_squared_error(y_test, predicted)), rel=1e-12
        )
        rmse[run["id"]] = stored["rmse"]
    (winner,) = [r["id"] for r in runs if ml.get_tags(r["id"]).get("winner") == "true"]
    assert rmse[winner] == min(rmse.values())


@pytest.mark.parametrize("gallery", ["clustering.py"], indirect=True)
def test_clustering_children_and_best_k(gallery: tuple[str, Path]) -> None:
    from sklearn.cluster import KMeans
    from sklearn.datasets import load_iris
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    (sweep,) = ml.runs(experiment="gallery-clustering", parent_run_id=None, name="kmeans-sweep")
    full = ml.get_run(sweep["id"])
    children = [ml.get_run(c) for c in full["children"]]
    by_k = {int(c["params"]["n_clusters"]): c["metrics"]["silhouette"] for c in children}
    assert sorted(by_k) == [2, 3, 4, 5, 6]
    best_k = max(by_k, key=by_k.__getitem__)
    assert full["params"]["best_k"] == best_k
    assert full["metrics"]["best_silhouette"] == by_k[best_k]
    X = StandardScaler().fit_transform(load_iris(return_X_y=True)[0])
    labels = KMeans(n_clusters=best_k, n_init=10, random_state=0).fit_predict(X)
    assert by_k[best_k] == pytest.approx(silhouette_score(X, labels), rel=1e-9)
    curve = ml.metric_history(sweep["id"], "silhouette_by_k")
    assert {p["step"]: p["value"] for p in curve} == by_k


@pytest.mark.parametrize("gallery", ["cross_validation.py"], indirect=True)
def test_cross_validation_folds_are_child_runs(gallery: tuple[str, Path]) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    (run,) = ml.runs(experiment="gallery-cv", name="logreg-5-fold")
    full = ml.get_run(run["id"])
    assert len(full["children"]) == 5
    folds = sorted(
        (int(ml.get_tags(c)["fold"]), metrics(c)["test_accuracy"]) for c in full["children"]
    )
    X, y = load_breast_cancer(return_X_y=True)
    expected = cross_val_score(
        make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000)),
        X,
        y,
        cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=0),
    )
    assert [fold for fold, _ in folds] == [0, 1, 2, 3, 4]
    assert [acc for _, acc in folds] == pytest.approx(list(expected), rel=1e-12)
    assert full["metrics"]["mean_test_accuracy"] == pytest.approx(expected.mean(), rel=1e-12)


@pytest.mark.parametrize("gallery", ["grid_search_autolog.py"], indirect=True)
def test_grid_search_with_autolog(gallery: tuple[str, Path]) -> None:
    from sklearn.datasets import load_wine
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    (run,) = ml.runs(experiment="gallery-grid-search", name="svc-grid")
    full = ml.get_run(run["id"])
    children = [ml.get_run(c) for c in full["children"]]
    assert len(children) == 6
    scores = [c["metrics"]["mean_test_score"] for c in children]
    assert full["metrics"]["best_score"] == max(scores)
    (best,) = [c for c in children if c["tags"].get("best") == "true"]
    assert best["metrics"]["mean_test_score"] == max(scores)
    X, y = load_wine(return_X_y=True)
    search = GridSearchCV(
        Pipeline([("scale", StandardScaler()), ("svc", SVC())]),
        {"svc__C": [0.1, 1.0, 10.0], "svc__kernel": ["linear", "rbf"]},
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
    ).fit(X, y)
    assert full["metrics"]["best_score"] == pytest.approx(search.best_score_, rel=1e-12)


@pytest.mark.parametrize("gallery", ["pipeline.py"], indirect=True)
def test_pipeline_registers_and_promotes(gallery: tuple[str, Path]) -> None:
    from sklearn.datasets import load_breast_cancer

    (pipe,) = ml.pipelines()
    assert pipe["status"] == "completed"
    steps = ml.pipeline(pipe["id"])["steps"]
    assert [(s["name"], s["status"]) for s in steps] == [
        ("load", "completed"),
        ("train", "completed"),
        ("evaluate", "completed"),
        ("register", "completed"),
        ("promote", "completed"),
    ]
    run_of = {s["name"]: s["run_id"] for s in steps}
    accuracy = metrics(run_of["evaluate"])["accuracy"]
    assert accuracy >= 0.9
    (version,) = ml.registry.model_versions("breast-cancer-rf")
    assert (version["version"], version["stage"]) == (1, "production")
    assert version["run_id"] == run_of["train"]
    X, y = load_breast_cancer(return_X_y=True)
    model = ml.registry.load_model("breast-cancer-rf")
    assert np.mean(model.predict(X) == y) > 0.9


@pytest.mark.parametrize("gallery", ["alert_on_regression.py"], indirect=True)
def test_alert_fires_only_for_the_regressed_run(gallery: tuple[str, Path]) -> None:
    runs = {r["name"]: r["id"] for r in ml.runs(experiment="gallery-alerts")}
    baseline = metrics(runs["baseline"])["val_accuracy"]
    events = ml.alert_history("val-accuracy-regression")
    assert [e["run_name"] for e in events] == ["retrain-tiny-sample"]
    (event,) = events
    assert event["threshold"] == pytest.approx(baseline - 0.02)
    assert event["value"] == metrics(runs["retrain-tiny-sample"])["val_accuracy"]
    assert event["value"] < event["threshold"]
    assert metrics(runs["retrain-full-data"])["val_accuracy"] >= event["threshold"]


@pytest.mark.parametrize("gallery", ["numpy_training_loop.py"], indirect=True)
def test_numpy_loop_has_a_loss_curve_and_system_metrics(gallery: tuple[str, Path]) -> None:
    (run,) = ml.runs(experiment="gallery-numpy")
    loss = [p["value"] for p in ml.metric_history(run["id"], "loss")]
    assert len(loss) == 150
    assert loss[-1] < loss[0] / 5
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(loss))  # it descends
    assert metrics(run["id"])["val_accuracy"] > 0.9
    rss = ml.metric_history(run["id"], "system/process_rss_mb")
    assert len(rss) >= 1
    assert all(10 < p["value"] < 100_000 for p in rss)
    assert "system/cpu_percent" in metrics(run["id"])
    assert len(ml.load_artifact(run["id"], "weights")) == 31  # 30 features + bias


@pytest.mark.parametrize("gallery", ["lightgbm_early_stopping.py"], indirect=True)
def test_lightgbm_early_stopping(gallery: tuple[str, Path]) -> None:
    import lightgbm as lgb

    (run,) = ml.runs(experiment="gallery-lightgbm")
    stored = metrics(run["id"])
    curve = ml.metric_history(run["id"], "valid/binary_logloss")
    assert len(curve) < 500  # it stopped early
    best_step = min(curve, key=lambda p: p["value"])["step"]
    assert stored["best_iteration"] == best_step
    assert stored["best/valid/binary_logloss"] == min(p["value"] for p in curve)
    # The saved model holds the trees up to the best iteration.
    booster = lgb.Booster(model_str=ml.load_artifact(run["id"], "model"))
    assert booster.current_iteration() == best_step


@pytest.mark.parametrize("gallery", ["query_to_pandas.py"], indirect=True)
def test_query_to_pandas(gallery: tuple[str, Path]) -> None:
    import pandas as pd

    stdout, work = gallery
    table = pd.read_csv(work / "runs.csv")
    stored = {r["name"]: metrics(r["id"])["accuracy"] for r in ml.runs(experiment="gallery-query")}
    assert sorted(table["name"]) == sorted(stored) == [f"tree-depth-{d}" for d in (1, 2, 3, 5)]
    assert list(table["metrics.accuracy"]) == sorted(stored.values(), reverse=True)
    assert dict(zip(table["name"], table["metrics.accuracy"], strict=True)) == pytest.approx(stored)
    above = sorted(name for name, acc in stored.items() if acc > 0.9)
    assert f"{len(above)} runs above 0.9 accuracy: {above}" in stdout
