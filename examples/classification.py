"""Classification with model comparison: three models on the wine data set, one run each;
the best by validation accuracy is tagged ``winner=true``.

    python examples/classification.py
"""

from __future__ import annotations

from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import chachaml as ml

EXPERIMENT = "gallery-classification"

CANDIDATES = {
    "logreg": make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)),
    "random-forest": RandomForestClassifier(n_estimators=100, max_depth=4, random_state=0),
    "knn": make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=15)),
}


def main() -> str:
    X, y = load_wine(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, random_state=1, stratify=y
    )
    for name, model in CANDIDATES.items():
        with ml.run(experiment=EXPERIMENT, name=name, tags={"dataset": "wine"}):
            ml.log_param("model", name)
            ml.log_dataset(X_train, role="train", name="wine")
            model.fit(X_train, y_train)
            predicted = model.predict(X_test)
            ml.log_metrics(
                {
                    "accuracy": accuracy_score(y_test, predicted),
                    "f1_macro": f1_score(y_test, predicted, average="macro"),
                }
            )
            ml.log_artifact("model", model)

    best = ml.best_run("accuracy", experiment=EXPERIMENT)
    ml.add_tag(best["id"], "winner", "true")
    for run in ml.runs(experiment=EXPERIMENT):
        metrics = ml.get_run(run["id"])["metrics"]
        mark = "  <- winner" if run["id"] == best["id"] else ""
        print(f"{run['name']:>14}: accuracy {metrics['accuracy']:.3f}{mark}")
    return str(best["id"])


if __name__ == "__main__":
    main()
