"""Explicit tracking of scikit-learn work: ``tracked_fit``, ``tracked_predict``, ``evaluate``,
``train_and_evaluate``.

Each logs into the active run (``with ml.run(): ...``); outside a run it starts a run of its
own in the default experiment (``train_and_evaluate`` takes ``experiment=`` and ``name=``),
named after the estimator class (``tracked_fit``), ``evaluate <Class>`` or ``predict <Class>``,
and ends it when done (``failed`` if the fit or prediction raised). Unlike autolog, a tracking
error here raises: you asked for the logging explicitly.
"""

from __future__ import annotations

from typing import Any

from chachaml import artifact_api, registry, validate
from chachaml.errors import InvalidInput
from chachaml.sklearn import fitlog, metrics
from chachaml.sklearn.support import Step, tracked_call
from chachaml.tracking import ActiveRun, current_run


def _nothing(run: ActiveRun) -> list[Step]:
    return []


def tracked_fit(model: Any, X: Any, y: Any = None, **fit_kw: Any) -> Any:
    """``model.fit(X, y, **fit_kw)``, logging params, fit time, training score, the training
    data's fingerprint and the fitted model (artifact ``model``, joblib); returns the model.

    Fits nested inside (a Pipeline's steps; also with autolog on) are not logged again.
    """

    def fit() -> Any:
        return model.fit(X, **fit_kw) if y is None else model.fit(X, y, **fit_kw)

    def after(run: ActiveRun, seconds: float) -> list[Step]:
        weight = fit_kw.get("sample_weight")
        return fitlog.after_fit(run, model, X, y, seconds, sample_weight=weight)

    tracked_call(
        fit,
        name=fitlog.estimator_name(model),
        before=lambda run: fitlog.before_fit(run, model),
        after=after,
        lenient=False,
    )
    return model


def tracked_predict(model: Any, X: Any) -> Any:
    """``model.predict(X)``, logging the prediction time (``predict_time_s``), the number of
    predictions (``predict_rows``) and the input's fingerprint (dataset role ``predict``)."""
    out: list[Any] = []

    def predict() -> Any:
        out.append(model.predict(X))
        return out[0]

    def after(run: ActiveRun, seconds: float) -> list[Step]:
        return [
            ("logging the prediction time", lambda: run.log_metric("predict_time_s", seconds)),
            ("logging the row count", lambda: run.log_metric("predict_rows", len(out[0]))),
            ("logging the input", lambda: fitlog.log_data(run, X, "predict")),
        ]

    return tracked_call(
        predict,
        name=f"predict {fitlog.estimator_name(model)}",
        before=_nothing,
        after=after,
        lenient=False,
    )


def _check_prefix(prefix: object) -> str:
    if not isinstance(prefix, str):
        raise InvalidInput(f"prefix must be a string such as 'test_', got {prefix!r}")
    if prefix:
        validate.key(prefix, "metric prefix")
    return prefix


def evaluate(
    model: Any, X: Any, y: Any, task: str = "auto", prefix: str = "test_"
) -> dict[str, float]:
    """Compute and log the metrics of a fitted ``model`` on ``(X, y)``; returns them by their
    logged name (``prefix`` + metric, e.g. ``test_accuracy``).

    ``task``: ``"auto"`` (from the estimator), ``"classification"`` or ``"regression"``.
    Classification also logs the confusion matrix as table artifact ``<prefix>confusion_matrix``,
    regression a residual summary as ``<prefix>residuals``; one evaluation per prefix and run.
    """
    prefix = _check_prefix(prefix)
    kind = metrics.resolve_task(model, task)
    table_name = prefix + ("confusion_matrix" if kind == "classification" else "residuals")
    role = prefix.strip("_") or "evaluation"
    validate.key(role, "dataset role")
    compute = metrics.classification if kind == "classification" else metrics.regression
    result: dict[str, Any] = {}

    def before(run: ActiveRun) -> list[Step]:
        names = {a["name"] for a in artifact_api.list_artifacts(run.id, store=run.store)}
        if table_name in names:
            raise InvalidInput(
                f"run {run.id} already has an evaluation with prefix {prefix!r} (artifact "
                f"{table_name!r}); pass another prefix, e.g. prefix='val_'"
            )
        return []

    def call() -> None:
        values, table = compute(model, X, y)
        result["metrics"] = {prefix + k: v for k, v in values.items()}
        result["table"] = table

    def after(run: ActiveRun, seconds: float) -> list[Step]:
        return [
            ("logging metrics", lambda: run.log_metrics(result["metrics"])),
            ("logging the table", lambda: run.log_table(table_name, result["table"])),
            ("logging the data", lambda: fitlog.log_data(run, X, role)),
        ]

    tracked_call(
        call,
        name=f"evaluate {fitlog.estimator_name(model)}",
        before=before,
        after=after,
        lenient=False,
    )
    scores: dict[str, float] = result["metrics"]
    return scores


def train_and_evaluate(
    model: Any,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    *,
    task: str = "auto",
    prefix: str = "test_",
    experiment: str | None = None,
    name: str | None = None,
    register: str | None = None,
    promote: bool = False,
    fit_kw: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """:func:`tracked_fit` on the training data, then :func:`evaluate` on the test data, in one
    run (the active one, else a new run in ``experiment`` named ``name`` or the estimator class).

    ``register="churn"`` registers the logged model as a new version of model ``churn``;
    with ``promote=True`` that version goes straight to ``production`` (archiving the previous
    production version). Returns ``{"run_id", "metrics", "model_version"}`` (the version dict,
    or None without ``register``).
    """
    if promote and register is None:
        raise InvalidInput("promote=True needs register='<model name>' to know what to promote")
    if register is not None:
        validate.name(register, "model name")
    _check_prefix(prefix)
    metrics.resolve_task(model, task)
    if fit_kw is not None and not isinstance(fit_kw, dict):
        raise InvalidInput(f"fit_kw must be a dict of fit() arguments, got {fit_kw!r}")
    result: dict[str, Any] = {}

    def call() -> None:
        run = current_run()
        tracked_fit(model, X_train, y_train, **(fit_kw or {}))
        result["metrics"] = evaluate(model, X_test, y_test, task=task, prefix=prefix)
        version = None
        if register is not None:
            stage = "production" if promote else "none"
            version = registry.register_model(
                register, artifact=fitlog.MODEL_ARTIFACT, run_id=run.id, stage=stage
            )
        result.update(run_id=run.id, model_version=version)

    tracked_call(
        call,
        name=name or fitlog.estimator_name(model),
        experiment=experiment,
        tags=fitlog.estimator_tags(model),
        before=_nothing,
        after=lambda run, seconds: [],
        lenient=False,
    )
    return {k: result[k] for k in ("run_id", "metrics", "model_version")}
