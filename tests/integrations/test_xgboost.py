"""``chachaml.xgboost``: the real XGBoost (CPU wheel) on sklearn's bundled breast-cancer data.

Expected values come from XGBoost itself (``evals_result``, ``best_iteration``), never from the
code under test.
"""

from __future__ import annotations

from typing import Any

import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import chachaml as ml
import chachaml.xgboost as cx

PARAMS = {
    "objective": "binary:logistic",
    "eval_metric": ["logloss", "auc"],
    "eta": 0.3,
    "max_depth": 3,
    "seed": 0,
    "nthread": 1,
}


@pytest.fixture(scope="module")
def data() -> tuple[Any, Any, Any, Any]:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    return X_train, X_valid, y_train, y_valid


def history(run_id: str, key: str) -> tuple[list[int], list[float]]:
    points = ml.metric_history(run_id, key)
    return [p["step"] for p in points], [p["value"] for p in points]


def test_train_logs_every_round_and_the_best_iteration(data: tuple[Any, ...]) -> None:
    X_train, X_valid, y_train, y_valid = data
    dtrain = xgb.DMatrix(X_train, label=y_train)
    dvalid = xgb.DMatrix(X_valid, label=y_valid)
    recorded: dict[str, Any] = {}
    with ml.run(experiment="xgb") as run:
        booster = xgb.train(
            PARAMS,
            dtrain,
            num_boost_round=300,
            evals=[(dtrain, "train"), (dvalid, "valid")],
            evals_result=recorded,
            early_stopping_rounds=5,
            verbose_eval=False,
            callbacks=[cx.callback()],
        )
    rounds = len(recorded["valid"]["logloss"])
    assert rounds < 300  # early stopping did stop training
    for dataset in ("train", "valid"):
        for metric in ("logloss", "auc"):
            steps, values = history(run.id, f"{dataset}/{metric}")
            assert steps == list(range(rounds))
            assert values == [float(v) for v in recorded[dataset][metric]]
    stored = ml.get_run(run.id)["metrics"]
    assert stored["best_iteration"] == booster.best_iteration
    assert stored["best_score"] == pytest.approx(booster.best_score, rel=1e-12)
    # Early stopping watches the last metric of the last data set; its best is at that step.
    steps, values = history(run.id, "valid/auc")
    assert values[steps.index(booster.best_iteration)] == max(recorded["valid"]["auc"])


def test_sklearn_api(data: tuple[Any, ...]) -> None:
    X_train, X_valid, y_train, y_valid = data
    model = xgb.XGBClassifier(
        n_estimators=300,
        learning_rate=0.3,
        max_depth=3,
        early_stopping_rounds=5,
        eval_metric="logloss",
        callbacks=[cx.callback()],
        random_state=0,
        n_jobs=1,
    )
    with ml.run() as run:
        model.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
    expected = model.evals_result()["validation_0"]["logloss"]
    steps, values = history(run.id, "validation_0/logloss")
    assert values == [float(v) for v in expected]
    assert steps == list(range(len(expected)))
    assert 0 < model.best_iteration < len(expected) - 1
    assert ml.get_run(run.id)["metrics"]["best_iteration"] == model.best_iteration


def test_without_early_stopping_no_best_iteration_is_logged(data: tuple[Any, ...]) -> None:
    X_train, _, y_train, _ = data
    dtrain = xgb.DMatrix(X_train, label=y_train)
    with ml.run() as run:
        xgb.train(
            PARAMS,
            dtrain,
            num_boost_round=4,
            evals=[(dtrain, "train")],
            verbose_eval=False,
            callbacks=[cx.callback()],
        )
    metrics = ml.get_run(run.id)["metrics"]
    assert "best_iteration" not in metrics
    assert history(run.id, "train/auc")[0] == [0, 1, 2, 3]


def test_cv_logs_means_and_standard_deviations(data: tuple[Any, ...]) -> None:
    X_train, _, y_train, _ = data
    with ml.run() as run:
        results = xgb.cv(
            {**PARAMS, "eval_metric": "logloss"},
            xgb.DMatrix(X_train, label=y_train),
            num_boost_round=5,
            nfold=3,
            seed=0,
            callbacks=[cx.callback()],
        )
    assert history(run.id, "test/logloss")[1] == pytest.approx(
        list(results["test-logloss-mean"]), rel=1e-12
    )
    assert history(run.id, "test/logloss_std")[1] == pytest.approx(
        list(results["test-logloss-std"]), rel=1e-12
    )


def test_outside_a_run_the_callback_starts_and_ends_one(data: tuple[Any, ...]) -> None:
    X_train, _, y_train, _ = data
    dtrain = xgb.DMatrix(X_train, label=y_train)
    cb = cx.callback(experiment="auto")
    xgb.train(
        PARAMS,
        dtrain,
        num_boost_round=3,
        evals=[(dtrain, "train")],
        verbose_eval=False,
        callbacks=[cb],
    )
    with pytest.raises(ml.NoActiveRun):
        ml.current_run()
    (run,) = ml.runs()
    assert (run["name"], run["experiment"], run["status"]) == ("xgboost", "auto", "completed")
    assert history(run["id"], "train/logloss")[0] == [0, 1, 2]


def test_an_explicit_run_and_bad_input(data: tuple[Any, ...]) -> None:
    X_train, _, y_train, _ = data
    dtrain = xgb.DMatrix(X_train, label=y_train)
    target = ml.start_run(name="target")
    with ml.run(name="other", nested=False) as other:
        xgb.train(
            PARAMS,
            dtrain,
            num_boost_round=2,
            evals=[(dtrain, "train")],
            verbose_eval=False,
            callbacks=[cx.callback(target)],
        )
    ml.end_run(target)
    assert "train/auc" in ml.get_run(target.id)["metrics"]
    assert "train/auc" not in ml.get_run(other.id)["metrics"]
    with pytest.raises(ml.InvalidInput, match="run handle"):
        cx.callback("not-a-run")  # type: ignore[arg-type]
    with pytest.raises(ml.InvalidInput, match="has ended"):
        xgb.train(PARAMS, dtrain, num_boost_round=1, callbacks=[cx.callback(target)])


def test_sklearn_clone_shares_the_run(data: tuple[Any, ...]) -> None:
    """``clone`` (GridSearchCV, cross_val_score) deep-copies the callbacks parameter."""
    from sklearn.base import clone

    X_train, X_valid, y_train, y_valid = data
    target = ml.start_run(name="target")
    model = xgb.XGBClassifier(n_estimators=3, max_depth=2, callbacks=[cx.callback(target)])
    copy = clone(model)
    assert copy.callbacks[0] is not model.callbacks[0]
    copy.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
    ml.end_run(target)
    expected = copy.evals_result()["validation_0"]["logloss"]
    assert history(target.id, "validation_0/logloss")[1] == [float(v) for v in expected]
