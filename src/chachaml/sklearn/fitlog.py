"""What a tracked fit records: params, fit time, training score, dataset, tags and the model.

Params are ``get_params(deep=True)`` flattened to JSON scalars: numbers, strings, booleans and
``None`` stay as they are, anything else (a nested estimator, a list, an array, a callable)
becomes its text, cut to :data:`MAX_PARAM_TEXT` characters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from chachaml.errors import InvalidInput
from chachaml.sklearn.support import Step
from chachaml.tracking import ActiveRun
from chachaml.validate import MAX_KEY_LENGTH

MAX_PARAM_TEXT = 250
MODEL_ARTIFACT = "model"


def estimator_name(est: object) -> str:
    return type(est).__name__


def estimator_tags(est: object) -> dict[str, str]:
    cls = type(est)
    return {"estimator": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__qualname__}"}


def clip(text: str, limit: int = MAX_PARAM_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def param_value(value: Any) -> Any:
    """A JSON scalar for one param value (see the module docstring)."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return clip(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        return param_value(item())
    if callable(value) and hasattr(value, "__qualname__") and not hasattr(value, "get_params"):
        return clip(f"{getattr(value, '__module__', None) or ''}.{value.__qualname__}".lstrip("."))
    return clip(" ".join(repr(value).split()))


def flat_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params as loggable key -> JSON scalar (keys longer than the key limit are dropped)."""
    return {str(k): param_value(v) for k, v in params.items() if 0 < len(str(k)) <= MAX_KEY_LENGTH}


def estimator_params(est: Any) -> dict[str, Any]:
    return flat_params(est.get_params(deep=True))


def log_data(run: ActiveRun, X: Any, role: str) -> None:
    """Record ``X`` as a dataset of the run: shape, columns and a content hash where chachaml
    can compute them, else (sparse matrices, other array types) the shape only."""
    try:
        run.log_dataset(X, role=role)
    except InvalidInput:
        shape = getattr(X, "shape", None)
        if shape is None or len(shape) == 0:
            raise
        n_cols = int(shape[1]) if len(shape) > 1 else 1
        run.log_dataset(role=role, n_rows=int(shape[0]), n_cols=n_cols)


def training_score(est: Any, X: Any, y: Any, sample_weight: Any) -> float | None:
    """``est.score`` on the training data, or None for estimators without a usable score."""
    score = getattr(est, "score", None)
    if not callable(score):
        return None
    if getattr(est, "refit", True) is False and hasattr(est, "cv_results_"):
        return None  # a search without refit has no model to score
    from sklearn.base import is_classifier, is_regressor

    if y is None and (is_classifier(est) or is_regressor(est)):
        return None
    if sample_weight is not None:
        return float(score(X, y, sample_weight=sample_weight))
    return float(score(X, y))


def before_fit(run: ActiveRun, est: Any) -> list[Step]:
    """Logged before the fit, so a failed fit still shows what was tried."""
    return [
        ("logging the estimator's tags", lambda: run.log_tags(estimator_tags(est))),
        ("logging params", lambda: run.log_params(estimator_params(est))),
    ]


def after_fit(
    run: ActiveRun,
    est: Any,
    X: Any,
    y: Any,
    seconds: float,
    *,
    sample_weight: Any = None,
    log_model: bool = True,
) -> list[Step]:
    """Logged after a successful fit: fit time, training score, dataset, the model."""

    def score() -> None:
        value = training_score(est, X, y, sample_weight)
        if value is not None:
            run.log_metric("training_score", value)

    steps: list[Step] = [
        ("logging the fit time", lambda: run.log_metric("fit_time_s", seconds)),
        ("computing the training score", score),
        ("logging the training data", lambda: log_data(run, X, "train")),
    ]
    if log_model:
        steps.append(
            ("logging the model", lambda: run.log_artifact(MODEL_ARTIFACT, est, format="joblib"))
        )
    return steps
