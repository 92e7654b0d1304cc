"""LightGBM with early stopping: every boosting round's train/valid metrics are logged as
steps, then the best iteration and its scores, and the model.

    python examples/lightgbm_early_stopping.py

Needs ``pip install 'chachaml[lightgbm,sklearn]'``.
"""

from __future__ import annotations

import lightgbm as lgb
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import chachaml as ml
import chachaml.lightgbm

PARAMS = {
    "objective": "binary",
    "metric": ["binary_logloss", "auc"],
    "learning_rate": 0.2,
    "num_leaves": 15,
    "min_data_in_leaf": 5,
    "verbose": -1,
    "seed": 0,
    "deterministic": True,
    "num_threads": 1,
}


def main() -> str:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X, y, test_size=0.3, random_state=0, stratify=y
    )
    train_set = lgb.Dataset(X_train, y_train)
    valid_set = lgb.Dataset(X_valid, y_valid, reference=train_set)

    with ml.run(experiment="gallery-lightgbm", name="gbm-early-stopping") as run:
        ml.log_params(PARAMS)
        booster = lgb.train(
            PARAMS,
            train_set,
            num_boost_round=500,
            valid_sets=[train_set, valid_set],
            valid_names=["train", "valid"],
            callbacks=[
                chachaml.lightgbm.callback(),  # train/binary_logloss, valid/auc, ... per round
                lgb.early_stopping(10, first_metric_only=True, verbose=False),
            ],
        )
        best = chachaml.lightgbm.log_best(booster)  # best_iteration, best/valid/auc, ...
        ml.log_artifact("model", booster.model_to_string(), format="text")
    rounds = len(ml.metric_history(run.id, "valid/binary_logloss"))
    print(
        f"stopped after {rounds} of 500 rounds; best iteration {int(best['best_iteration'])}, "
        f"valid logloss {best['best/valid/binary_logloss']:.4f}"
    )
    return run.id


if __name__ == "__main__":
    main()
