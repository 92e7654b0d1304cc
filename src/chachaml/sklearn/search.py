"""Hyper-parameter searches and cross-validation as child runs.

* After a ``GridSearchCV``/``RandomizedSearchCV`` fit, :func:`search_steps` turns
  ``cv_results_`` into one child run per candidate (``candidate <i>``: its params, and every
  numeric column of ``cv_results_`` as a metric: ``mean_test_score``, ``std_test_score``,
  ``rank_test_score``, ``split<k>_test_score``, fit times, ...). At most ``max_children``
  candidates are logged, the best ranked first; the parent's tags ``candidates`` and
  ``candidates_logged`` say how many. The best candidate's run is tagged ``best=true``; the
  parent gets params ``best_<param>`` and the metric ``best_score``.
* :func:`cross_validate` is ``sklearn.model_selection.cross_validate`` tracked: one run with the
  estimator's params and ``mean_``/``std_`` of each score, and one child run per fold
  (``fold <i>``) with that fold's scores and times (and its fitted model when
  ``return_estimator=True``). Autolog routes sklearn's own ``cross_validate`` (and so
  ``cross_val_score``) through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chachaml import tracking
from chachaml.errors import InvalidInput
from chachaml.sklearn import fitlog
from chachaml.sklearn.support import Step, tracked_call
from chachaml.tracking import ActiveRun

DEFAULT_MAX_CHILDREN = 50


def check_max_children(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"max_children must be an integer >= 0, got {value!r}")
    return value


def numeric_columns(results: Mapping[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The columns of a ``cv_results_``/``cross_validate`` dict holding numbers."""
    import numpy as np

    out = {}
    for key, column in results.items():
        if key in skip or key.startswith("param"):
            continue
        arr = np.asarray(column) if isinstance(column, (list, tuple)) else column
        dtype = getattr(arr, "dtype", None)
        if dtype is not None and np.issubdtype(dtype, np.number) and arr.ndim == 1:
            out[key] = arr
    return out


def candidate_order(search: Any, n: int) -> list[int]:
    """Candidate indices, best first: the best index, then by rank of the refit metric."""
    results = search.cv_results_
    refit = getattr(search, "refit", True)
    rank_key = "rank_test_score" if "rank_test_score" in results else f"rank_test_{refit}"
    ranks = results.get(rank_key) if isinstance(refit, (bool, str)) else None
    order = sorted(range(n), key=lambda i: (int(ranks[i]), i)) if ranks is not None else []
    order = order or list(range(n))
    best = getattr(search, "best_index_", None)
    if best is not None:
        order.remove(int(best))
        order.insert(0, int(best))
    return order


def log_candidates(run: ActiveRun, search: Any, max_children: int) -> None:
    results = search.cv_results_
    n = len(results["params"])
    chosen = sorted(candidate_order(search, n)[:max_children])
    best = getattr(search, "best_index_", None)
    run.log_tags({"candidates": n, "candidates_logged": len(chosen)})
    columns = numeric_columns(results)
    for i in chosen:
        tags: dict[str, Any] = {"candidate": i}
        if best is not None and i == int(best):
            tags["best"] = "true"
        with tracking.run(name=f"candidate {i}", parent=run, tags=tags) as child:
            child.log_params(fitlog.flat_params(results["params"][i]))
            child.log_metrics({k: float(col[i]) for k, col in columns.items()})


def log_best(run: ActiveRun, search: Any) -> None:
    best_params = getattr(search, "best_params_", None)
    if best_params is not None:
        run.log_params({f"best_{k}": v for k, v in fitlog.flat_params(best_params).items()})
    best_score = getattr(search, "best_score_", None)
    if best_score is not None:
        run.log_metric("best_score", float(best_score))


def is_search(est: Any) -> bool:
    from sklearn.model_selection._search import BaseSearchCV

    return isinstance(est, BaseSearchCV)


def search_steps(run: ActiveRun, search: Any, max_children: int) -> list[Step]:
    """Logging steps after a search's fit (see the module docstring)."""
    if not hasattr(search, "cv_results_"):
        return []
    return [
        ("logging the search's candidates", lambda: log_candidates(run, search, max_children)),
        ("logging the best candidate", lambda: log_best(run, search)),
    ]


def fold_steps(
    run: ActiveRun, results: Mapping[str, Any], *, max_children: int | None, log_models: bool
) -> list[Step]:
    """Logging steps after ``cross_validate``: per-fold child runs and mean/std on the run."""

    def folds() -> None:
        columns = numeric_columns(results, skip=("indices",))
        n = len(results["fit_time"])
        logged = n if max_children is None else min(n, max_children)
        run.log_tags({"folds": n, "folds_logged": logged})
        run.log_metrics({f"mean_{k}": float(c.mean()) for k, c in columns.items()})
        run.log_metrics({f"std_{k}": float(c.std()) for k, c in columns.items()})
        estimators = results.get("estimator")
        for i in range(logged):
            with tracking.run(name=f"fold {i}", parent=run, tags={"fold": i}) as child:
                child.log_metrics({k: float(c[i]) for k, c in columns.items()})
                if log_models and estimators is not None:
                    child.log_artifact(fitlog.MODEL_ARTIFACT, estimators[i], format="joblib")

    return [("logging the folds", folds)]


def tracked_cross_validate(
    estimator: Any,
    X: Any,
    call: Callable[[], Any],
    *,
    lenient: bool,
    max_children: int | None,
    log_models: bool,
) -> Any:
    """``call()`` (sklearn's ``cross_validate``) tracked as a run with fold children."""
    out: list[Any] = []

    def run_it() -> Any:
        out.append(call())
        return out[0]

    def before(run: ActiveRun) -> list[Step]:
        return [
            *fitlog.before_fit(run, estimator),
            ("logging the training data", lambda: fitlog.log_data(run, X, "train")),
        ]

    def after(run: ActiveRun, seconds: float) -> list[Step]:
        return fold_steps(run, out[0], max_children=max_children, log_models=log_models)

    return tracked_call(
        run_it,
        name=f"cross_validate {fitlog.estimator_name(estimator)}",
        tags={"cross_validate": "true"},
        before=before,
        after=after,
        lenient=lenient,
    )


def cross_validate(estimator: Any, X: Any, y: Any = None, **kwargs: Any) -> dict[str, Any]:
    """``sklearn.model_selection.cross_validate`` with the same arguments and result, tracked:
    a run (the active one, else a new ``cross_validate <Class>`` run) holding the estimator's
    params, ``mean_<score>``/``std_<score>`` of each column, and one child run per fold."""
    from sklearn.model_selection import _validation

    original = getattr(_validation.cross_validate, "__wrapped__", _validation.cross_validate)
    result: dict[str, Any] = tracked_cross_validate(
        estimator,
        X,
        lambda: original(estimator, X, y, **kwargs),
        lenient=False,
        max_children=None,
        log_models=True,
    )
    return result
