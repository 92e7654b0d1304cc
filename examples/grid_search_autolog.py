"""Grid search with autolog: ``chachaml.sklearn.autolog()`` turns a ``GridSearchCV`` fit into a
run with one child run per candidate (its params and cross-validation scores); the best
candidate is tagged ``best=true`` and the search run gets ``best_<param>`` and ``best_score``.

    python examples/grid_search_autolog.py

Needs ``pip install 'chachaml[sklearn]'``.
"""

from __future__ import annotations

from sklearn.datasets import load_wine
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import chachaml as ml
from chachaml.sklearn import autolog

GRID = {"svc__C": [0.1, 1.0, 10.0], "svc__kernel": ["linear", "rbf"]}
FOLDS = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)


def main() -> str:
    X, y = load_wine(return_X_y=True)
    autolog()  # from here on every scikit-learn fit is tracked
    try:
        model = Pipeline([("scale", StandardScaler()), ("svc", SVC())])
        with ml.run(experiment="gallery-grid-search", name="svc-grid") as run:
            search = GridSearchCV(model, GRID, cv=FOLDS).fit(X, y)
    finally:
        autolog(disable=True)
    stored = ml.get_run(run.id)
    print(
        f"{len(stored['children'])} candidates; best {search.best_params_} "
        f"with mean CV accuracy {stored['metrics']['best_score']:.3f}"
    )
    return run.id


if __name__ == "__main__":
    main()
