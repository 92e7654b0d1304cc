"""chachaml.sklearn's explicit API on real estimators and bundled data: every logged value is
compared with what sklearn.metrics computes itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import CalibratedClassifierCV
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import chachaml as ml
from chachaml.sklearn import evaluate, tracked_fit, tracked_predict, train_and_evaluate

SRC = str(Path(ml.__file__).resolve().parent.parent)


def split(loader: Any) -> tuple[Any, Any, Any, Any]:
    X, y = loader(return_X_y=True)
    X = StandardScaler().fit_transform(X)  # lbfgs and SVC converge fast on scaled data
    parts: tuple[Any, Any, Any, Any] = tuple(  # type: ignore[assignment]
        train_test_split(X, y, test_size=0.3, random_state=0, stratify=None)
    )
    return parts


def expected_classification(model: Any, X: Any, y: Any) -> dict[str, float]:
    pred = model.predict(X)
    out = {
        "test_accuracy": skm.accuracy_score(y, pred),
        "test_balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "test_precision_macro": skm.precision_score(y, pred, average="macro", zero_division=0),
        "test_recall_macro": skm.recall_score(y, pred, average="macro", zero_division=0),
        "test_f1_macro": skm.f1_score(y, pred, average="macro", zero_division=0),
        "test_precision_weighted": skm.precision_score(
            y, pred, average="weighted", zero_division=0
        ),
        "test_recall_weighted": skm.recall_score(y, pred, average="weighted", zero_division=0),
        "test_f1_weighted": skm.f1_score(y, pred, average="weighted", zero_division=0),
    }
    return {k: float(v) for k, v in out.items()}


def stored_metrics(run_id: str) -> dict[str, float]:
    return dict(ml.get_run(run_id)["metrics"])


def assert_metrics(got: dict[str, float], want: dict[str, float]) -> None:
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def test_logistic_regression_multiclass_metrics_equal_sklearns() -> None:
    X_tr, X_te, y_tr, y_te = split(load_iris)
    model = LogisticRegression(max_iter=1000)
    with ml.run(experiment="iris") as run:
        tracked_fit(model, X_tr, y_tr)
        returned = evaluate(model, X_te, y_te)
    proba = model.predict_proba(X_te)
    want = expected_classification(model, X_te, y_te)
    want["test_log_loss"] = skm.log_loss(y_te, proba, labels=model.classes_)
    want["test_roc_auc"] = skm.roc_auc_score(y_te, proba, multi_class="ovr", average="macro")
    assert_metrics(returned, want)
    stored = stored_metrics(run.id)
    assert_metrics({k: v for k, v in stored.items() if k.startswith("test_")}, want)
    assert stored["training_score"] == pytest.approx(skm.accuracy_score(y_tr, model.predict(X_tr)))
    assert stored["fit_time_s"] > 0
    full = ml.get_run(run.id)
    assert full["params"]["C"] == 1.0 and full["params"]["max_iter"] == 1000
    table = ml.load_artifact(run.id, "test_confusion_matrix")
    matrix = skm.confusion_matrix(y_te, model.predict(X_te), labels=model.classes_)
    assert table["headers"] == ["actual \\ predicted", "0", "1", "2"]
    assert [row[1:] for row in table["rows"]] == matrix.tolist()
    roles = {d["role"]: d for d in ml.get_datasets(run.id)}
    assert roles["train"]["n_rows"] == len(X_tr) and roles["test"]["n_rows"] == len(X_te)
    loaded = ml.load_artifact(run.id, "model")
    assert np.array_equal(loaded.predict(X_te), model.predict(X_te))


def test_random_forest_on_wine() -> None:
    X_tr, X_te, y_tr, y_te = split(load_wine)
    model = RandomForestClassifier(n_estimators=20, random_state=0)
    with ml.run() as run:
        tracked_fit(model, X_tr, y_tr)
        evaluate(model, X_te, y_te)
    proba = model.predict_proba(X_te)
    want = expected_classification(model, X_te, y_te)
    want["test_log_loss"] = skm.log_loss(y_te, proba, labels=model.classes_)
    want["test_roc_auc"] = skm.roc_auc_score(y_te, proba, multi_class="ovr")
    stored = stored_metrics(run.id)
    assert_metrics({k: v for k, v in stored.items() if k.startswith("test_")}, want)
    assert ml.get_run(run.id)["params"]["n_estimators"] == 20


def test_gradient_boosting_binary_roc_auc_from_probabilities() -> None:
    X_tr, X_te, y_tr, y_te = split(load_breast_cancer)
    model = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X_tr, y_tr)
    returned = evaluate(model, X_te, y_te, prefix="holdout_")
    proba = model.predict_proba(X_te)
    want = {
        k.replace("test_", "holdout_"): v
        for k, v in expected_classification(model, X_te, y_te).items()
    }
    want["holdout_log_loss"] = skm.log_loss(y_te, proba)
    want["holdout_roc_auc"] = skm.roc_auc_score(y_te, proba[:, 1])
    assert_metrics(returned, want)
    # Outside a run, evaluate() started and ended a run of its own.
    run = ml.last_run()
    assert run is not None and run["name"] == "evaluate GradientBoostingClassifier"
    assert run["status"] == "completed"
    assert_metrics(stored_metrics(run["id"]), want)
    assert "holdout_confusion_matrix" in {a["name"] for a in ml.list_artifacts(run["id"])}


@pytest.mark.parametrize("probability", [True, False])
def test_svc_with_and_without_probabilities(probability: bool) -> None:
    # scikit-learn 1.9 deprecates SVC(probability=True) for CalibratedClassifierCV(SVC(),
    # ensemble=False), which is what gives an SVC probabilities here.
    X_tr, X_te, y_tr, y_te = split(load_breast_cancer)
    svc: Any = CalibratedClassifierCV(SVC(C=2.0), ensemble=False) if probability else SVC(C=2.0)
    model = make_pipeline(StandardScaler(), svc)
    with ml.run() as run:
        tracked_fit(model, X_tr, y_tr)
        returned = evaluate(model, X_te, y_te)
    want = expected_classification(model, X_te, y_te)
    if probability:
        proba = model.predict_proba(X_te)
        want["test_log_loss"] = skm.log_loss(y_te, proba)
        want["test_roc_auc"] = skm.roc_auc_score(y_te, proba[:, 1])
    else:  # no probabilities: no log loss; ROC-AUC ranks by the decision function
        assert not hasattr(model, "predict_proba")
        want["test_roc_auc"] = skm.roc_auc_score(y_te, model.decision_function(X_te))
    assert_metrics(returned, want)
    params = ml.get_run(run.id)["params"]
    c_key = "calibratedclassifiercv__estimator__C" if probability else "svc__C"
    assert params[c_key] == 2.0
    assert params["standardscaler"].startswith("StandardScaler")


def test_svc_with_probability_true_as_written_by_users() -> None:
    # The literal SVC(probability=True) that older code uses: scikit-learn 1.9 deprecates it
    # (a FutureWarning of scikit-learn's own, ignored here); probabilities still get log loss
    # and ROC-AUC.
    X_tr, X_te, y_tr, y_te = split(load_breast_cancer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model = SVC(C=2.0, probability=True, random_state=0)
        with ml.run() as run:
            tracked_fit(model, X_tr, y_tr)
            returned = evaluate(model, X_te, y_te)
        want = expected_classification(model, X_te, y_te)
        proba = model.predict_proba(X_te)
    want["test_log_loss"] = skm.log_loss(y_te, proba)
    want["test_roc_auc"] = skm.roc_auc_score(y_te, proba[:, 1])
    assert_metrics(returned, want)
    stored = stored_metrics(run.id)
    assert_metrics({k: v for k, v in stored.items() if k.startswith("test_")}, want)
    assert stored["training_score"] == pytest.approx(model.score(X_tr, y_tr))
    assert ml.get_run(run.id)["params"]["probability"] is True


def test_ridge_regression_metrics_and_residuals() -> None:
    X_tr, X_te, y_tr, y_te = split(load_diabetes)
    model = Ridge(alpha=0.5)
    with ml.run() as run:
        tracked_fit(model, X_tr, y_tr)
        returned = evaluate(model, X_te, y_te)
    pred = model.predict(X_te)
    residuals = y_te - pred
    want = {
        "test_r2": skm.r2_score(y_te, pred),
        "test_mae": skm.mean_absolute_error(y_te, pred),
        "test_rmse": float(np.sqrt(skm.mean_squared_error(y_te, pred))),
        "test_mape": skm.mean_absolute_percentage_error(y_te, pred),
        "test_residual_mean": float(residuals.mean()),
        "test_residual_std": float(residuals.std()),
    }
    assert_metrics(returned, want)
    stored = stored_metrics(run.id)
    assert stored["training_score"] == pytest.approx(skm.r2_score(y_tr, model.predict(X_tr)))
    table = ml.load_artifact(run.id, "test_residuals")
    rows = {r[0]: r[1] for r in table["rows"]}
    assert rows["median"] == pytest.approx(float(np.median(residuals)))
    assert rows["max"] == pytest.approx(float(residuals.max()))


def test_kmeans_tracked_fit_logs_sklearns_score_and_refuses_auto_evaluate() -> None:
    X, _ = load_iris(return_X_y=True)
    model = tracked_fit(KMeans(n_clusters=3, n_init=2, random_state=0), X)
    run = ml.last_run()
    assert run is not None and run["name"] == "KMeans" and run["status"] == "completed"
    full = ml.get_run(run["id"])
    assert full["metrics"]["training_score"] == pytest.approx(-model.inertia_)
    assert full["params"]["n_clusters"] == 3
    assert full["tags"]["estimator_class"] == "sklearn.cluster._kmeans.KMeans"
    with pytest.raises(ml.InvalidInput, match="task='classification'"):
        evaluate(model, X, model.labels_)


def test_tracked_predict_logs_time_and_rows() -> None:
    X_tr, X_te, y_tr, _ = split(load_iris)
    model = LogisticRegression(max_iter=1000).fit(X_tr, y_tr)
    with ml.run() as run:
        pred = tracked_predict(model, X_te)
    assert np.array_equal(pred, model.predict(X_te))
    metrics = stored_metrics(run.id)
    assert metrics["predict_rows"] == len(X_te) and metrics["predict_time_s"] >= 0
    assert [d["role"] for d in ml.get_datasets(run.id)] == ["predict"]


def test_train_and_evaluate_registers_and_promotes() -> None:
    X_tr, X_te, y_tr, y_te = split(load_breast_cancer)
    first = train_and_evaluate(
        make_pipeline(StandardScaler(), LogisticRegression()),
        X_tr,
        y_tr,
        X_te,
        y_te,
        experiment="cancer",
        register="cancer",
        promote=True,
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1))
    second = train_and_evaluate(
        model, X_tr, y_tr, X_te, y_te, experiment="cancer", name="c=0.1", register="cancer"
    )
    assert first["model_version"]["stage"] == "production"
    assert second["model_version"]["version"] == 2 and second["model_version"]["stage"] == "none"
    run = ml.get_run(second["run_id"])
    assert run["experiment"] == "cancer" and run["name"] == "c=0.1"
    assert run["status"] == "completed" and run["parent_run_id"] is None
    want = skm.accuracy_score(y_te, model.predict(X_te))
    assert run["metrics"]["test_accuracy"] == pytest.approx(want)
    assert second["metrics"]["test_accuracy"] == pytest.approx(want)
    live = ml.registry.load_model("cancer")  # version 1 stayed in production
    assert ml.registry.model("cancer")["production_version"] == 1
    assert live[-1].C == 1.0
    staged = ml.registry.load_model("cancer", 2)
    assert np.array_equal(staged.predict(X_te), model.predict(X_te))


def test_inside_an_active_run_everything_logs_into_it() -> None:
    X_tr, X_te, y_tr, y_te = split(load_iris)
    with ml.run(experiment="outer") as run:
        out = train_and_evaluate(LogisticRegression(max_iter=1000), X_tr, y_tr, X_te, y_te)
    assert out["run_id"] == run.id
    assert ml.count_runs() == 1
    assert ml.get_run(run.id)["children"] == []


def test_failed_fit_propagates_and_marks_the_own_run_failed() -> None:
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=r"Unknown label type|continuous"):
        tracked_fit(LogisticRegression(), X, y + 0.5)
    run = ml.last_run()
    assert run is not None and run["status"] == "failed"
    assert ml.get_run(run["id"])["params"]["C"] == 1.0  # params were logged before the fit


def test_bad_arguments_are_refused_before_anything_is_logged() -> None:
    X_tr, X_te, y_tr, y_te = split(load_iris)
    model = LogisticRegression(max_iter=1000).fit(X_tr, y_tr)
    with pytest.raises(ml.InvalidInput, match="task"):
        evaluate(model, X_te, y_te, task="ranking")
    with pytest.raises(ml.InvalidInput, match="register"):
        train_and_evaluate(model, X_tr, y_tr, X_te, y_te, promote=True)
    assert ml.count_runs() == 0
    with ml.run() as run:
        evaluate(model, X_te, y_te)
        with pytest.raises(ml.InvalidInput, match="prefix='val_'"):
            evaluate(model, X_te, y_te)
        evaluate(model, X_tr, y_tr, prefix="train_")
    metrics = stored_metrics(run.id)
    assert metrics["train_accuracy"] == pytest.approx(model.score(X_tr, y_tr))
    assert len(ml.metric_history(run.id, "test_accuracy")) == 1


def test_import_chachaml_sklearn_without_sklearn_names_the_extra() -> None:
    code = (
        "import sys, json\n"
        "sys.modules['sklearn'] = None\n"
        "import chachaml as ml\n"
        "try:\n"
        "    import chachaml.sklearn\n"
        "except ImportError as exc:\n"
        "    print(json.dumps([type(exc).__name__, str(exc), isinstance(exc, ml.InvalidInput)]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    name, message, is_invalid_input = json.loads(out.stdout)
    assert name == "SklearnNotInstalled" and is_invalid_input
    assert "pip install 'chachaml[sklearn]'" in message
