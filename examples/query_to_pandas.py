"""Querying everything back into pandas: a small sweep is tracked, then read back as a runs
table (params and latest metrics as columns), metric histories in long form, a comparison and
a filter expression.

    python examples/query_to_pandas.py

Needs pandas (``pip install 'chachaml[pandas]'``).
"""

from __future__ import annotations

import pandas as pd
from sklearn.datasets import load_iris
from sklearn.model_selection import cross_val_score
from sklearn.tree import DecisionTreeClassifier

import chachaml as ml

EXPERIMENT = "gallery-query"


def track_sweep() -> None:
    X, y = load_iris(return_X_y=True)
    for depth in (1, 2, 3, 5):
        with ml.run(experiment=EXPERIMENT, name=f"tree-depth-{depth}"):
            ml.log_params({"max_depth": depth, "criterion": "gini"})
            scores = cross_val_score(
                DecisionTreeClassifier(max_depth=depth, random_state=0), X, y, cv=5
            )
            for fold, score in enumerate(scores):
                ml.log_metric("fold_accuracy", score, step=fold)
            ml.log_metric("accuracy", scores.mean())


def main() -> pd.DataFrame:
    track_sweep()

    # 1. One row per run: id, name, status, times, then `params.*` and `metrics.*` (latest).
    runs = ml.runs_df(experiment=EXPERIMENT)
    table = runs[["name", "params.max_depth", "metrics.accuracy"]].sort_values(
        "metrics.accuracy", ascending=False
    )
    print(table.to_string(index=False))

    # 2. Metric histories, long form: one row per (run, step).
    history = pd.concat(
        pd.DataFrame(ml.metric_history(run_id, "fold_accuracy")).assign(run=name)
        for run_id, name in zip(runs["id"], runs["name"], strict=True)
    )
    print(history.pivot(index="step", columns="run", values="value").round(3).to_string())

    # 3. A filter expression straight into a frame; comparisons are plain dicts.
    good = ml.runs_df(experiment=EXPERIMENT, filter="metrics.accuracy > 0.9")
    print(f"{len(good)} runs above 0.9 accuracy: {sorted(good['name'])}")
    comparison = ml.compare_runs(list(runs["id"]))
    print("params that differ:", sorted(comparison["params"]["differ"]))

    table.to_csv("runs.csv", index=False)
    return table


if __name__ == "__main__":
    main()
