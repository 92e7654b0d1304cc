"""Evaluation metrics of a fitted model, computed with ``sklearn.metrics`` (nothing logged here).

Classification: accuracy, balanced accuracy, precision/recall/F1 (macro and weighted averages,
``zero_division=0``), and when the model gives probabilities, log loss and ROC-AUC (binary, or
one-vs-rest macro for more classes); without probabilities a binary model's
``decision_function`` still gives ROC-AUC. The confusion matrix is a table.
Regression: R², MAE, RMSE, MAPE and the mean and standard deviation of the residuals
(``y - prediction``), with a table of residual quantiles.
"""

from __future__ import annotations

from typing import Any

from chachaml.errors import InvalidInput

TASKS = ("auto", "classification", "regression")
RESIDUAL_QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


def resolve_task(model: Any, task: object) -> str:
    """``classification`` or ``regression``; ``auto`` asks the estimator what it is."""
    if task not in TASKS:
        raise InvalidInput(f"task {task!r} is not one of: {', '.join(map(repr, TASKS))}")
    if task != "auto":
        return str(task)
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(model):
        return "classification"
    if is_regressor(model):
        return "regression"
    raise InvalidInput(
        f"evaluate() cannot tell whether {type(model).__name__} is a classifier or a regressor; "
        "pass task='classification' or task='regression'"
    )


def probabilities(model: Any, X: Any) -> Any:
    """``predict_proba(X)``, or None when the model has no probabilities (e.g. SVC without
    ``probability=True``)."""
    if not hasattr(model, "predict_proba"):
        return None
    try:
        return model.predict_proba(X)
    except (AttributeError, NotImplementedError):
        return None


def classification(model: Any, X: Any, y: Any) -> tuple[dict[str, float], dict[str, Any]]:
    """Metrics by name, and the confusion matrix as a ``{"headers", "rows"}`` table."""
    import numpy as np
    from sklearn import metrics as skm

    y_true = np.asarray(y)
    y_pred = model.predict(X)
    out = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
    }
    for average in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, average=average, zero_division=0
        )
        out |= {f"precision_{average}": p, f"recall_{average}": r, f"f1_{average}": f}
    classes = getattr(model, "classes_", None)
    labels = np.asarray(classes) if classes is not None else np.unique(np.r_[y_true, y_pred])
    proba = probabilities(model, X)
    if proba is not None:
        out["log_loss"] = skm.log_loss(y_true, proba, labels=labels)
        if len(np.unique(y_true)) > 1:  # ROC-AUC is undefined for a single class
            if proba.shape[1] == 2:
                out["roc_auc"] = skm.roc_auc_score(y_true == labels[1], proba[:, 1])
            else:
                out["roc_auc"] = skm.roc_auc_score(
                    y_true, proba, multi_class="ovr", average="macro", labels=labels
                )
    elif len(labels) == 2 and hasattr(model, "decision_function") and len(np.unique(y_true)) > 1:
        out["roc_auc"] = skm.roc_auc_score(y_true == labels[1], model.decision_function(X))
    matrix = skm.confusion_matrix(y_true, y_pred, labels=labels)
    table = {
        "headers": ["actual \\ predicted", *(str(c) for c in labels)],
        "rows": [[str(c), *(int(n) for n in row)] for c, row in zip(labels, matrix, strict=True)],
    }
    return {k: float(v) for k, v in out.items()}, table


def regression(model: Any, X: Any, y: Any) -> tuple[dict[str, float], dict[str, Any]]:
    """Metrics by name, and a table of residual statistics."""
    import numpy as np
    from sklearn import metrics as skm

    y_true = np.asarray(y, dtype=float)
    y_pred = np.asarray(model.predict(X), dtype=float)
    residuals = (y_true - y_pred).ravel()
    out = {
        "r2": skm.r2_score(y_true, y_pred),
        "mae": skm.mean_absolute_error(y_true, y_pred),
        "rmse": np.sqrt(skm.mean_squared_error(y_true, y_pred)),
        "mape": skm.mean_absolute_percentage_error(y_true, y_pred),
        "residual_mean": residuals.mean(),
        "residual_std": residuals.std(),
    }
    values = np.quantile(residuals, RESIDUAL_QUANTILES)
    names = ["min", "p5", "p25", "median", "p75", "p95", "max"]
    table = {
        "headers": ["statistic", "residual"],
        "rows": [
            ["mean", float(residuals.mean())],
            ["std", float(residuals.std())],
            *([n, float(v)] for n, v in zip(names, values, strict=True)),
        ],
    }
    return {k: float(v) for k, v in out.items()}, table
