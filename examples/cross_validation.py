"""K-fold cross-validation as child runs: one run for the model with the mean and standard
deviation of each score, and one child run per fold with that fold's scores.

    python examples/cross_validation.py

Uses ``chachaml.sklearn.cross_validate`` (scikit-learn's, tracked); needs
``pip install 'chachaml[sklearn]'``.
"""

from __future__ import annotations

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import chachaml as ml
from chachaml.sklearn import cross_validate

FOLDS = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)


def main() -> str:
    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000))
    with ml.run(experiment="gallery-cv", name="logreg-5-fold") as run:
        scores = cross_validate(model, X, y, cv=FOLDS, scoring=["accuracy", "roc_auc"])
    stored = ml.get_run(run.id)
    print(
        f"accuracy {stored['metrics']['mean_test_accuracy']:.3f} "
        f"± {stored['metrics']['std_test_accuracy']:.3f} over {len(stored['children'])} folds"
    )
    for fold, accuracy in enumerate(scores["test_accuracy"]):
        print(f"  fold {fold}: {accuracy:.3f}")
    return run.id


if __name__ == "__main__":
    main()
