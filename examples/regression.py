"""Regression on the diabetes data set: a linear model against gradient boosting, with R²,
MAE and RMSE; the model with the lowest RMSE is tagged ``winner=true``.

    python examples/regression.py
"""

from __future__ import annotations

import math

from sklearn.datasets import load_diabetes
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

import chachaml as ml

EXPERIMENT = "gallery-regression"


def split() -> tuple:
    X, y = load_diabetes(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0)


def main() -> str:
    X_train, X_test, y_train, y_test = split()
    models = {
        "ridge": Ridge(alpha=0.5),
        "gbr": GradientBoostingRegressor(n_estimators=150, max_depth=2, random_state=0),
    }
    for name, model in models.items():
        with ml.run(experiment=EXPERIMENT, name=name):
            ml.log_params({"model": name, **model.get_params()})
            model.fit(X_train, y_train)
            predicted = model.predict(X_test)
            ml.log_metrics(
                {
                    "r2": r2_score(y_test, predicted),
                    "mae": mean_absolute_error(y_test, predicted),
                    "rmse": math.sqrt(mean_squared_error(y_test, predicted)),
                }
            )
            ml.log_artifact("model", model)

    best = ml.best_run("rmse", experiment=EXPERIMENT, direction="min")
    ml.add_tag(best["id"], "winner", "true")
    print(f"winner: {best['name']} (RMSE {best['metric_value']:.2f})")
    return str(best["id"])


if __name__ == "__main__":
    main()
