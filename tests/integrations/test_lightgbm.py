"""``chachaml.lightgbm``: the real LightGBM on sklearn's bundled breast-cancer data.

Expected values come from LightGBM itself (``record_evaluation``, ``evals_result_``,
``best_iteration``), never from the code under test.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import chachaml as ml
import chachaml.lightgbm as cl

PARAMS = {
    "objective": "binary",
    "metric": ["binary_logloss", "auc"],
    "learning_rate": 0.3,
    "num_leaves": 7,
    "min_data_in_leaf": 5,
    "verbose": -1,
    "seed": 0,
    "deterministic": True,
    "num_threads": 1,
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
    train_set = lgb.Dataset(X_train, y_train)
    valid_set = lgb.Dataset(X_valid, y_valid, reference=train_set)
    recorded: dict[str, Any] = {}
    with ml.run(experiment="lgb") as run:
        booster = lgb.train(
            PARAMS,
            train_set,
            num_boost_round=300,
            valid_sets=[train_set, valid_set],
            valid_names=["train", "valid"],
            callbacks=[
                lgb.record_evaluation(recorded),
                lgb.early_stopping(5, first_metric_only=True, verbose=False),
                cl.callback(),
            ],
        )
        logged = cl.log_best(booster)

    rounds = len(recorded["valid"]["binary_logloss"])
    assert rounds < 300  # early stopping did stop training
    assert 0 < booster.best_iteration < rounds
    for dataset in ("train", "valid"):
        for metric in ("binary_logloss", "auc"):
            steps, values = history(run.id, f"{dataset}/{metric}")
            assert steps == list(range(1, rounds + 1))
            assert values == [float(v) for v in recorded[dataset][metric]]
    stored = ml.get_run(run.id)["metrics"]
    assert stored["best_iteration"] == booster.best_iteration
    assert stored["best/valid/binary_logloss"] == booster.best_score["valid"]["binary_logloss"]
    # The best point's step is the best iteration (both count rounds from 1).
    steps, values = history(run.id, "valid/binary_logloss")
    assert values[steps.index(booster.best_iteration)] == min(recorded["valid"]["binary_logloss"])
    assert logged["best_iteration"] == booster.best_iteration


def test_sklearn_api(data: tuple[Any, ...]) -> None:
    X_train, X_valid, y_train, y_valid = data
    model = lgb.LGBMClassifier(
        n_estimators=300, learning_rate=0.3, num_leaves=7, verbose=-1, random_state=0, n_jobs=1
    )
    with ml.run() as run:
        model.fit(
            X_train,
            y_train,
            eval_X=(X_valid,),
            eval_y=(y_valid,),
            callbacks=[cl.callback(), lgb.early_stopping(5, verbose=False)],
        )
        cl.log_best(model)
    expected = model.evals_result_["valid_0"]["binary_logloss"]
    steps, values = history(run.id, "valid_0/binary_logloss")
    assert values == [float(v) for v in expected]
    assert steps == list(range(1, len(expected) + 1))
    assert 0 < model.best_iteration_ < len(expected)
    assert ml.get_run(run.id)["metrics"]["best_iteration"] == model.best_iteration_


def test_without_early_stopping_the_best_is_the_last_round(data: tuple[Any, ...]) -> None:
    X_train, _, y_train, _ = data
    train_set = lgb.Dataset(X_train, y_train)
    with ml.run() as run:
        booster = lgb.train(
            PARAMS, train_set, num_boost_round=7, valid_sets=[train_set], callbacks=[cl.callback()]
        )
        cl.log_best(booster)
    assert booster.best_iteration == 0  # LightGBM: "no early stopping"
    stored = ml.get_run(run.id)["metrics"]
    assert stored["best_iteration"] == 7
    assert history(run.id, "training/auc")[0] == list(range(1, 8))


def test_cv_logs_means_and_standard_deviations(data: tuple[Any, ...]) -> None:
    X_train, _, y_train, _ = data
    with ml.run() as run:
        results = lgb.cv(
            {**PARAMS, "metric": "binary_logloss"},
            lgb.Dataset(X_train, y_train),
            num_boost_round=6,
            nfold=3,
            stratified=True,
            seed=0,
            callbacks=[cl.callback()],
        )
    assert history(run.id, "valid/binary_logloss")[1] == [
        float(v) for v in results["valid binary_logloss-mean"]
    ]
    assert history(run.id, "valid/binary_logloss_stdv")[1] == [
        float(v) for v in results["valid binary_logloss-stdv"]
    ]


def test_outside_a_run_the_callback_starts_one_and_leaves_it_open(
    data: tuple[Any, ...],
) -> None:
    X_train, _, y_train, _ = data
    train_set = lgb.Dataset(X_train, y_train)
    cb = cl.callback(experiment="auto")
    booster = lgb.train(
        PARAMS, train_set, num_boost_round=3, valid_sets=[train_set], callbacks=[cb]
    )
    assert cb.run is not None
    assert ml.current_run() is cb.run  # still open: the best iteration and model can go in
    cl.log_best(booster)
    ml.end_run()
    (run,) = ml.runs()
    assert (run["name"], run["experiment"], run["status"]) == ("lightgbm", "auto", "completed")
    assert ml.get_run(run["id"])["metrics"]["best_iteration"] == 3


def test_an_explicit_run_and_a_reused_callback(data: tuple[Any, ...]) -> None:
    X_train, _, y_train, _ = data
    train_set = lgb.Dataset(X_train, y_train)
    target = ml.start_run(name="target")
    cb = cl.callback(target)
    with ml.run(name="other", nested=False) as other:
        lgb.train(PARAMS, train_set, num_boost_round=2, valid_sets=[train_set], callbacks=[cb])
    ml.end_run(target)
    assert "training/auc" in ml.get_run(target.id)["metrics"]
    assert "training/auc" not in ml.get_run(other.id)["metrics"]

    free = cl.callback()
    runs = []
    for rounds in (2, 4):
        with ml.run() as run:
            lgb.train(
                PARAMS, train_set, num_boost_round=rounds, valid_sets=[train_set], callbacks=[free]
            )
        runs.append(run.id)
    assert [len(ml.metric_history(r, "training/auc")) for r in runs] == [2, 4]


def test_bad_input_is_refused(data: tuple[Any, ...]) -> None:
    with pytest.raises(ml.InvalidInput, match="run handle"):
        cl.callback("not-a-run")  # type: ignore[arg-type]
    with ml.run():
        with pytest.raises(ml.InvalidInput, match="LightGBM Booster"):
            cl.log_best(np.zeros(3))
        with pytest.raises(ml.InvalidInput, match="LightGBM Booster"):
            cl.log_best(lgb.LGBMClassifier())  # not fitted
    X_train, _, y_train, _ = data
    booster = lgb.train(PARAMS, lgb.Dataset(X_train, y_train), num_boost_round=1)
    with pytest.raises(ml.NoActiveRun):
        cl.log_best(booster)


def test_a_deep_copy_logs_into_the_same_run(data: tuple[Any, ...]) -> None:
    import copy

    X_train, _, y_train, _ = data
    train_set = lgb.Dataset(X_train, y_train)
    with ml.run() as run:
        cb = copy.deepcopy(cl.callback(run))
        recorded: dict[str, Any] = {}
        lgb.train(
            PARAMS,
            train_set,
            num_boost_round=3,
            valid_sets=[train_set],
            callbacks=[cb, lgb.record_evaluation(recorded)],
        )
    assert cb.run is run
    assert history(run.id, "training/auc")[1] == [float(v) for v in recorded["training"]["auc"]]
