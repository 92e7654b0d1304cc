"""chachaml.sklearn.autolog on real estimators: what one fit logs, nested estimators, searches
and cross-validation as child runs, on/off/on, threads, and tracking failures that must not
break the fit. Expected values come from the fitted estimators and sklearn.metrics."""

from __future__ import annotations

import inspect
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from joblib import parallel_backend
from scipy import sparse
from sklearn import model_selection
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, _validation
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import chachaml as ml
from chachaml.sklearn import AutologWarning, autolog, cross_validate, tracked_fit
from chachaml.sklearn.support import Guarded, outermost

X, y = load_iris(return_X_y=True)
X = StandardScaler().fit_transform(X)  # scaled: lbfgs converges in a few steps
BOTH_INSIDE = threading.Barrier(2, timeout=30)


def wait_for_the_other_thread(data: Any) -> Any:
    BOTH_INSIDE.wait()  # returns only while both threads are inside their fit
    return data


@pytest.fixture
def autologging() -> Iterator[None]:
    autolog()
    try:
        yield
    finally:
        autolog(disable=True)


def children(run_id: str) -> list[dict[str, Any]]:
    return [ml.get_run(c) for c in ml.get_run(run_id)["children"]]


def only_run() -> dict[str, Any]:
    runs = ml.runs()
    assert len(runs) == 1, [r["name"] for r in runs]
    return ml.get_run(runs[0]["id"])


def test_one_fit_logs_params_time_score_data_and_model(autologging: None) -> None:
    model = LogisticRegression(C=0.5, max_iter=1000)
    assert model.fit(X, y) is model
    run = only_run()
    assert run["name"] == "LogisticRegression" and run["status"] == "completed"
    assert run["tags"]["autolog"] == "sklearn" and run["tags"]["estimator"] == "LogisticRegression"
    params = model.get_params(deep=True)
    assert run["params"]["C"] == 0.5 and set(run["params"]) == set(params)
    assert run["metrics"]["training_score"] == pytest.approx(model.score(X, y))
    assert run["metrics"]["fit_time_s"] > 0
    (dataset,) = ml.get_datasets(run["id"])
    assert (dataset["role"], dataset["n_rows"], dataset["n_cols"]) == ("train", 150, 4)
    assert len(dataset["hash"]) == 64
    loaded = ml.load_artifact(run["id"], "model")
    assert np.array_equal(loaded.coef_, model.coef_)


def shift_by(data: Any, by: float, note: str) -> Any:
    return data + by


def test_long_and_nested_param_values_are_flattened_and_truncated(autologging: None) -> None:
    pipe = make_pipeline(
        FunctionTransformer(shift_by, kw_args={"by": 5.0, "note": "x" * 400}),
        FunctionTransformer(np.log1p),
        LogisticRegression(max_iter=1000),
    )
    pipe.fit(X, y)
    run = only_run()
    assert run["name"] == "Pipeline"
    assert run["params"]["functiontransformer-1__func"] == f"{__name__}.shift_by"
    assert run["params"]["functiontransformer-2__func"] == "numpy.log1p"
    assert run["params"]["logisticregression__max_iter"] == 1000
    assert run["params"]["logisticregression"] == "LogisticRegression(max_iter=1000)"
    long = run["params"]["functiontransformer-1__kw_args"]
    assert len(long) == 250 and long.startswith("{'by': 5.0, 'note': 'xxx") and long.endswith("…")
    assert run["metrics"]["training_score"] == pytest.approx(pipe.score(X, y))


def test_sample_weight_sparse_data_and_estimators_without_score(autologging: None) -> None:
    weights = np.linspace(0.5, 2.0, len(y))
    model = LogisticRegression(max_iter=1000).fit(X, y, sample_weight=weights)
    weighted = ml.get_run(ml.runs()[0]["id"])
    assert weighted["metrics"]["training_score"] == pytest.approx(
        model.score(X, y, sample_weight=weights)
    )
    assert weighted["metrics"]["training_score"] != pytest.approx(model.score(X, y))
    StandardScaler(with_mean=False).fit(sparse.csr_matrix(X))
    scaler_run = ml.get_run(ml.runs(name="StandardScaler")[0]["id"])
    assert sorted(scaler_run["metrics"]) == ["fit_time_s"]  # a transformer has no score
    (dataset,) = ml.get_datasets(scaler_run["id"])
    assert (dataset["n_rows"], dataset["n_cols"], dataset["hash"]) == (150, 4, None)


def test_nested_estimators_log_the_outer_fit_only(autologging: None) -> None:
    make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    OneVsRestClassifier(LogisticRegression(max_iter=1000)).fit(X, y)
    RandomForestClassifier(n_estimators=10, n_jobs=2, random_state=0).fit(X, y)
    names = sorted(r["name"] for r in ml.runs())
    assert names == ["OneVsRestClassifier", "Pipeline", "RandomForestClassifier"]
    assert all(r["parent_run_id"] is None for r in ml.runs())


def test_fit_transform_and_fit_predict_log_the_outer_estimator_once() -> None:
    """Pipeline.fit_transform and ColumnTransformer.fit_transform never call their own fit:
    without wrapping them, their steps' fits were logged as outermost runs of their own."""
    pipe_ft = vars(Pipeline)["fit_transform"]
    pca = make_pipeline(StandardScaler(), PCA(n_components=2))
    expected = make_pipeline(StandardScaler(), PCA(n_components=2)).fit_transform(X)
    columns = ColumnTransformer([("scaled", StandardScaler(), [0, 1]), ("pca", PCA(1), [2, 3])])
    plain_labels = KMeans(3, n_init=2, random_state=0).fit_predict(X)
    autolog()
    try:
        assert np.allclose(pca.fit_transform(X), expected)
        assert [r["name"] for r in ml.runs()] == ["Pipeline"]
        assert columns.fit_transform(X).shape == (150, 3)
        clusters = make_pipeline(StandardScaler(), KMeans(3, n_init=2, random_state=0))
        labels = clusters.fit_predict(X)
        kmeans = KMeans(3, n_init=2, random_state=0)
        assert np.array_equal(kmeans.fit_predict(X), plain_labels)
        assert not hasattr(make_pipeline(LogisticRegression()), "fit_transform")
    finally:
        autolog(disable=True)
    assert vars(Pipeline)["fit_transform"] is pipe_ft
    assert [r["name"] for r in ml.runs()] == ["KMeans", "Pipeline", "ColumnTransformer", "Pipeline"]
    assert len(set(labels)) == 3
    run = ml.get_run(ml.runs()[0]["id"])  # fit_predict calls fit: logged once, fully
    assert run["metrics"]["training_score"] == pytest.approx(kmeans.score(X))
    assert [a["name"] for a in run["artifacts"]] == ["model"]


def test_inner_fits_in_joblib_threads_are_not_logged(autologging: None) -> None:
    with parallel_backend("threading", n_jobs=2):
        GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2, n_jobs=2).fit(X, y)
    names = sorted(r["name"] for r in ml.runs())
    assert names == ["GridSearchCV", "candidate 0", "candidate 1"]
    task = pickle.loads(pickle.dumps(Guarded(outermost)))  # process backends pickle tasks
    assert outermost() and task() is False


def test_tracked_fit_with_autolog_on_logs_once(autologging: None) -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression())
    tracked_fit(model, X, y)
    run = only_run()
    assert run["name"] == "Pipeline" and "autolog" not in run["tags"]
    assert [a["name"] for a in run["artifacts"]] == ["model"]


def test_inside_a_run_the_fit_logs_into_it(autologging: None) -> None:
    with ml.run(experiment="mine") as run:
        LogisticRegression(max_iter=1000).fit(X, y)
    got = only_run()
    assert got["id"] == run.id and got["params"]["max_iter"] == 1000
    assert [a["name"] for a in got["artifacts"]] == ["model"]


def test_a_second_fit_with_other_params_in_one_run_warns_and_keeps_the_first() -> None:
    autolog()
    try:
        with ml.run() as run:
            LogisticRegression(C=1.0, max_iter=1000).fit(X, y)
            with pytest.warns(AutologWarning) as caught:
                second = LogisticRegression(C=2.0, max_iter=1000).fit(X, y)
    finally:
        autolog(disable=True)
    assert second.coef_.shape == (3, 4)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert "logging params failed (ParamConflict" in messages[0]
    assert "logging the model failed (AlreadyExists" in messages[1]
    assert ml.get_run(run.id)["params"]["C"] == 1.0


def test_on_off_on_restores_the_very_same_functions() -> None:
    originals = {
        "lr": LogisticRegression.fit,
        "pipe": Pipeline.fit,
        "search": vars(model_selection.GridSearchCV.__mro__[1])["fit"],
        "cv": model_selection.cross_validate,
        "cv_internal": _validation.cross_validate,
    }
    signature = inspect.signature(LogisticRegression.fit)
    autolog()
    try:
        assert LogisticRegression.fit is not originals["lr"]
        assert model_selection.cross_validate is not originals["cv"]
        assert inspect.signature(LogisticRegression.fit) == signature
        LogisticRegression(max_iter=1000).fit(X, y)
        assert ml.count_runs() == 1
        autolog(log_models=False)  # again while on: new settings, no double patching
        assert LogisticRegression.fit.__wrapped__ is originals["lr"]  # type: ignore[attr-defined]
    finally:
        autolog(disable=True)
    assert LogisticRegression.fit is originals["lr"]
    assert Pipeline.fit is originals["pipe"]
    assert vars(model_selection.GridSearchCV.__mro__[1])["fit"] is originals["search"]
    assert model_selection.cross_validate is originals["cv"]
    assert _validation.cross_validate is originals["cv_internal"]
    LogisticRegression(max_iter=1000).fit(X, y)
    assert ml.count_runs() == 1  # off: nothing logged
    autolog()
    try:
        LogisticRegression(max_iter=1000).fit(X, y)
    finally:
        autolog(disable=True)
    assert ml.count_runs() == 2
    newest = ml.get_run(ml.runs()[0]["id"])
    assert [a["name"] for a in newest["artifacts"]] == ["model"]


def test_log_models_false_and_bad_settings() -> None:
    autolog(log_models=False)
    try:
        LogisticRegression(max_iter=1000).fit(X, y)
    finally:
        autolog(disable=True)
    assert only_run()["artifacts"] == []
    with pytest.raises(ml.InvalidInput, match="max_children"):
        autolog(max_children=-1)
    with pytest.raises(ml.InvalidInput, match="disable"):
        autolog(disable="yes")  # type: ignore[arg-type]
    assert LogisticRegression.fit is vars(LogisticRegression)["fit"]
    assert not hasattr(LogisticRegression.fit, "chachaml_autolog")


def test_grid_search_logs_one_child_per_candidate_and_tags_the_best(autologging: None) -> None:
    grid = {"C": [0.01, 0.1, 1.0, 10.0]}
    search = GridSearchCV(LogisticRegression(max_iter=1000), grid, cv=3).fit(X, y)
    parents = ml.runs(parent_run_id=None)
    parent = ml.get_run(next(r["id"] for r in parents if r["parent_run_id"] is None))
    assert parent["name"] == "GridSearchCV"
    assert ml.count_runs() == 5  # the search and its four candidates, no run per inner fit
    kids = children(parent["id"])
    results = search.cv_results_
    assert len(kids) == 4
    for kid in kids:
        i = int(kid["tags"]["candidate"])
        assert kid["params"] == {"C": results["params"][i]["C"]}
        assert kid["metrics"]["mean_test_score"] == pytest.approx(results["mean_test_score"][i])
        assert kid["metrics"]["std_test_score"] == pytest.approx(results["std_test_score"][i])
        assert kid["metrics"]["split2_test_score"] == pytest.approx(results["split2_test_score"][i])
        assert kid["metrics"]["rank_test_score"] == results["rank_test_score"][i]
    best = [k for k in kids if k["tags"].get("best") == "true"]
    assert len(best) == 1 and best[0]["params"] == search.best_params_
    assert parent["metrics"]["best_score"] == pytest.approx(search.best_score_)
    assert parent["params"]["best_C"] == search.best_params_["C"]
    assert parent["tags"]["candidates"] == "4" and parent["tags"]["candidates_logged"] == "4"
    assert parent["metrics"]["training_score"] == pytest.approx(search.score(X, y))
    assert ml.load_artifact(parent["id"], "model").best_params_ == search.best_params_


def test_search_children_are_capped_best_first() -> None:
    autolog(max_children=2)
    try:
        search = RandomizedSearchCV(
            make_pipeline(StandardScaler(), KNeighborsClassifier()),
            {"kneighborsclassifier__n_neighbors": [1, 5, 15, 40, 80]},
            n_iter=5,
            cv=3,
            random_state=0,
        ).fit(X, y)
    finally:
        autolog(disable=True)
    parent = next(r for r in ml.runs() if r["parent_run_id"] is None)
    full = ml.get_run(parent["id"])
    assert full["name"] == "RandomizedSearchCV"
    assert full["tags"]["candidates"] == "5" and full["tags"]["candidates_logged"] == "2"
    kids = children(parent["id"])
    ranks = search.cv_results_["rank_test_score"]
    logged = sorted(int(k["tags"]["candidate"]) for k in kids)
    assert search.best_index_ in logged
    assert sorted(ranks[logged]) == sorted(ranks)[:2]
    assert [k["tags"].get("best") for k in kids].count("true") == 1


def test_cross_validate_folds_become_children(autologging: None) -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression())
    # Through the module attribute: autolog replaced it there.
    result = model_selection.cross_validate(model, X, y, cv=4, return_train_score=True)
    parent = next(r for r in ml.runs() if r["parent_run_id"] is None)
    full = ml.get_run(parent["id"])
    assert full["name"] == "cross_validate Pipeline"
    assert full["params"]["logisticregression__C"] == 1.0
    assert full["metrics"]["mean_test_score"] == pytest.approx(result["test_score"].mean())
    assert full["metrics"]["std_train_score"] == pytest.approx(result["train_score"].std())
    kids = sorted(children(parent["id"]), key=lambda k: int(k["tags"]["fold"]))
    assert [k["name"] for k in kids] == ["fold 0", "fold 1", "fold 2", "fold 3"]
    for i, kid in enumerate(kids):
        assert kid["metrics"]["test_score"] == pytest.approx(result["test_score"][i])
        assert kid["metrics"]["train_score"] == pytest.approx(result["train_score"][i])
    assert ml.count_runs() == 5  # the folds' own fits are not separate runs


def test_cross_val_score_goes_through_cross_validate(autologging: None) -> None:
    scores = model_selection.cross_val_score(KNeighborsClassifier(), X, y, cv=3)
    parent = next(r for r in ml.runs() if r["parent_run_id"] is None)
    kids = sorted(children(parent["id"]), key=lambda k: int(k["tags"]["fold"]))
    assert [k["metrics"]["test_score"] for k in kids] == pytest.approx(list(scores))
    model_selection.cross_val_predict(KNeighborsClassifier(), X, y, cv=3)
    assert ml.count_runs() == 4  # cross_val_predict's fits are not logged one by one


def test_explicit_cross_validate_without_autolog_logs_fold_models() -> None:
    X_bc, y_bc = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    with ml.run(experiment="cv") as run:
        result = cross_validate(
            model, X_bc, y_bc, cv=3, scoring=["accuracy", "roc_auc"], return_estimator=True
        )
    expected = model_selection.cross_validate(model, X_bc, y_bc, cv=3, scoring="roc_auc")
    assert list(result["test_roc_auc"]) == pytest.approx(list(expected["test_score"]))
    full = ml.get_run(run.id)
    assert full["metrics"]["mean_test_accuracy"] == pytest.approx(result["test_accuracy"].mean())
    kids = sorted(children(run.id), key=lambda k: int(k["tags"]["fold"]))
    assert len(kids) == 3 and all(k["experiment"] == "cv" for k in kids)
    fold_model = ml.load_artifact(kids[1]["id"], "model")
    assert np.array_equal(fold_model[-1].coef_, result["estimator"][1][-1].coef_)


def test_threads_fitting_at_once_get_a_run_each(autologging: None) -> None:
    errors: list[BaseException] = []

    def train(c: float) -> None:
        try:
            pipe = make_pipeline(
                FunctionTransformer(wait_for_the_other_thread),
                LogisticRegression(C=c, max_iter=1000),
            )
            pipe.fit(X, y)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=train, args=(c,)) for c in (0.5, 2.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    runs = [ml.get_run(r["id"]) for r in ml.runs()]
    assert len(runs) == 2 and all(r["status"] == "completed" for r in runs)
    assert sorted(r["params"]["logisticregression__C"] for r in runs) == [0.5, 2.0]
    assert all(r["parent_run_id"] is None and r["children"] == [] for r in runs)
    assert all([a["name"] for a in r["artifacts"]] == ["model"] for r in runs)


def test_a_failing_fit_raises_exactly_as_without_autolog(autologging: None) -> None:
    bad = X.copy()
    bad[0, 0] = np.nan
    autolog(disable=True)
    with pytest.raises(ValueError) as plain:
        LogisticRegression().fit(bad, y)
    autolog()
    with pytest.raises(ValueError) as logged:
        LogisticRegression().fit(bad, y)
    assert type(logged.value) is type(plain.value) and str(logged.value) == str(plain.value)
    run = only_run()
    assert run["status"] == "failed" and "NaN" in run["error"]
    assert run["params"]["C"] == 1.0


def test_an_unusable_store_only_warns(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    reference = LogisticRegression(max_iter=1000).fit(X, y)
    autolog()
    try:
        model = LogisticRegression(max_iter=1000)
        with (
            ml.store(f"sqlite:///{blocker}/chachaml.db"),
            pytest.warns(AutologWarning, match="starting a run"),
        ):
            fitted = model.fit(X, y)
    finally:
        autolog(disable=True)
    assert fitted is model
    assert np.array_equal(model.coef_, reference.coef_)


def test_a_failing_artifact_store_only_warns_and_the_rest_is_logged(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the artifact folder should be")
    autolog()
    try:
        with ml.store(f"sqlite:///{tmp_path}/ok.db", artifacts=str(blocker / "artifacts")):
            with pytest.warns(AutologWarning, match="logging the model"):
                model = LogisticRegression(max_iter=1000).fit(X, y)
            run = only_run()
    finally:
        autolog(disable=True)
    assert run["status"] == "completed" and run["artifacts"] == []
    assert run["metrics"]["training_score"] == pytest.approx(model.score(X, y))


def test_a_read_only_remote_store_only_warns_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live server whose only token reads refuses every write (403): each fit (a plain one
    and a search) still returns what it returns without autolog, warns once, and the served
    store, its artifacts and the client's outbox stay exactly as they were."""
    from chachaml.server.settings import Settings, parse_tokens
    from chachaml.server.testing import LiveServer

    served = tmp_path / "served.db"
    with ml.store(str(served)), ml.run(experiment="before", name="kept") as kept:
        ml.log_metric("acc", 0.5)
    monkeypatch.setenv("CHACHAML_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("CHACHAML_TOKEN", "reader-only-token")
    settings = Settings(
        store_url=str(served),
        artifacts_url=str(tmp_path / "served-blobs"),
        tokens=parse_tokens("reader-only-token:read"),
    )
    grid = {"C": [0.1, 1.0]}
    reference = LogisticRegression(max_iter=1000).fit(X, y)
    reference_search = GridSearchCV(LogisticRegression(max_iter=1000), grid, cv=3).fit(X, y)
    with LiveServer.start(settings) as live:
        autolog()
        try:
            with ml.store(live.url) as remote:
                assert [r["id"] for r in ml.runs(store=remote)] == [kept.id]  # reads work
                model = LogisticRegression(max_iter=1000)
                with pytest.warns(AutologWarning, match=r"starting a run .*\(403\).*read-only"):
                    fitted = model.fit(X, y)
                search = GridSearchCV(LogisticRegression(max_iter=1000), grid, cv=3)
                with pytest.warns(AutologWarning) as caught:
                    assert search.fit(X, y) is search
        finally:
            autolog(disable=True)
    assert fitted is model and np.array_equal(model.coef_, reference.coef_)
    assert search.best_params_ == reference_search.best_params_
    assert np.array_equal(search.best_estimator_.coef_, reference_search.best_estimator_.coef_)
    assert [str(w.message).split(" failed")[0] for w in caught] == [
        "chachaml autolog: starting a run"
    ]  # one warning: the candidates' fits were not logged (nor tried) on their own
    with ml.store(str(served)) as local:
        assert [r["id"] for r in ml.runs(store=local, include_archived=True)] == [kept.id]
        assert ml.get_run(kept.id, store=local)["metrics"] == {"acc": 0.5}
    assert not any(p.is_file() for p in (tmp_path / "served-blobs").rglob("*"))
    assert not any((tmp_path / "outbox").rglob("*"))  # nothing spooled to send later
