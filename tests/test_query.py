"""Reading runs: runs/get_run/metric_history/search/best/compare/export, experiments, cleanup."""

from __future__ import annotations

import csv
import io
import json
import math
import time

import pytest

import chachaml as ml
from chachaml import export, query, runs_api
from chachaml.store.protocol import NewRun


def fetch(run_id: str) -> dict:
    got = ml.get_run(run_id)
    assert got is not None
    return got


def make_run(
    experiment: str = "e",
    *,
    metrics: dict[str, list[float]] | None = None,
    params: dict | None = None,
    tags: dict | None = None,
    name: str | None = None,
) -> str:
    with ml.run(experiment=experiment, name=name, tags=tags) as run:
        if params:
            ml.log_params(params)
        for key, values in (metrics or {}).items():
            for v in values:
                ml.log_metric(key, v)
    return run.id


def ids(rows: list[dict]) -> list[str]:
    return [r["id"] for r in rows]


def insert_run(st: ml.Store, start_time: int, **kw: object) -> str:
    run_id = runs_api.new_run_id()
    fields = {"experiment": "e", "name": None, "created_by": "u", **kw}
    st.meta.create_run(NewRun(id=run_id, start_time=start_time, **fields))  # type: ignore[arg-type]
    return run_id


# -- runs() -----------------------------------------------------------------------------------


def test_runs_are_listed_newest_first_as_json_serialisable_summaries(store: ml.Store) -> None:
    made = [insert_run(store, start_time=1000 + i) for i in range(5)]
    listed = ml.runs()
    assert ids(listed) == made[::-1]
    assert set(listed[0]) == {
        "id",
        "experiment",
        "name",
        "status",
        "start_time",
        "end_time",
        "duration_ms",
        "error",
        "parent_run_id",
        "created_by",
        "archived",
        "tags",
    }
    json.dumps(listed)


def test_runs_started_in_the_same_millisecond_list_in_start_order(store: ml.Store) -> None:
    made = [insert_run(store, start_time=5000) for _ in range(30)]
    assert ids(ml.runs()) == made[::-1]
    assert ml.last_run()["id"] == made[-1]


def test_runs_filter_by_experiment_status_name_user_and_parent(store: ml.Store) -> None:
    a = make_run("alpha", name="x")
    with pytest.raises(RuntimeError), ml.run(experiment="beta", created_by="bob") as failed:
        raise RuntimeError
    with ml.run(experiment="alpha") as parent, ml.run(name="kid") as child:
        pass
    assert set(ids(ml.runs(experiment="alpha"))) == {a, parent.id, child.id}
    assert ids(ml.runs(status="failed")) == [failed.id]
    assert set(ids(ml.runs(status="completed"))) == {a, parent.id, child.id}
    assert ids(ml.runs(name="x")) == [a]
    assert ids(ml.runs(created_by="bob")) == [failed.id]
    assert ids(ml.runs(parent_run_id=parent.id)) == [child.id]
    assert ml.runs(experiment="alpha", status="failed") == []
    assert ml.runs(experiment="nope") == []


def test_runs_limit_and_offset_page_through_results(store: ml.Store) -> None:
    made = [insert_run(store, start_time=1000 + i) for i in range(7)][::-1]
    assert ids(ml.runs(limit=3)) == made[:3]
    assert ids(ml.runs(limit=3, offset=3)) == made[3:6]
    assert ids(ml.runs(limit=None, offset=5)) == made[5:]
    assert ids(ml.runs(limit=None)) == made
    assert ml.runs(limit=0) == []


def test_runs_order_by_metrics_params_tags_and_attributes(store: ml.Store) -> None:
    low = make_run(metrics={"acc": [0.9, 0.2]}, params={"lr": 10}, tags={"t": "b"}, name="c")
    mid = make_run(metrics={"acc": [0.5]}, params={"lr": 2}, tags={"t": "c"}, name="a")
    high = make_run(metrics={"acc": [0.1, 0.8]}, params={"lr": "x"}, tags={"t": "a"}, name="b")
    none = make_run(name="d")
    assert ids(ml.runs(order_by="metrics.acc desc")) == [high, mid, low, none]
    assert ids(ml.runs(order_by="metrics.acc")) == [low, mid, high, none]
    assert ids(ml.runs(order_by="metrics.acc.max desc")) == [low, high, mid, none]
    assert ids(ml.runs(order_by="metrics.acc.min")) == [high, low, mid, none]
    assert ids(ml.runs(order_by="metrics.acc.count desc")[:2]) in ([low, high], [high, low])
    assert ids(ml.runs(order_by="params.lr")) == [mid, low, high, none]  # numbers numerically
    assert ids(ml.runs(order_by="tags.t")) == [high, low, mid, none]
    assert ids(ml.runs(order_by="name DESC")) == [none, low, high, mid]
    assert ids(ml.runs(order_by=["status", "name asc"])) == [mid, high, low, none]


def test_bad_runs_arguments_are_invalid_input(store: ml.Store) -> None:
    with pytest.raises(ml.InvalidInput, match="limit must be a non-negative integer, got -1"):
        ml.runs(limit=-1)
    with pytest.raises(ml.InvalidInput, match="limit must be a non-negative integer, got True"):
        ml.runs(limit=True)
    with pytest.raises(ml.InvalidInput, match="over the maximum"):
        ml.runs(limit=query.MAX_LIMIT + 1)
    with pytest.raises(ml.InvalidInput, match="offset must be a non-negative integer"):
        ml.runs(offset=-5)
    with pytest.raises(ml.InvalidInput, match="offset must be a non-negative integer"):
        ml.runs(offset=None)  # type: ignore[arg-type]
    with pytest.raises(ml.InvalidInput, match="status 'done' is not one of: running, completed"):
        ml.runs(status="done")
    with pytest.raises(ml.InvalidInput, match="malformed"):
        ml.runs(parent_run_id="xyz")
    with pytest.raises(ml.InvalidInput, match="cannot order by 'colour'"):
        ml.runs(order_by="colour")
    with pytest.raises(ml.InvalidInput, match="must be '<field> \\[asc\\|desc\\]'"):
        ml.runs(order_by="name sideways")
    with pytest.raises(ml.InvalidInput, match="order_by entries must be strings"):
        ml.runs(order_by=["name", 3])  # type: ignore[list-item]
    with pytest.raises(ml.InvalidInput, match="order_by entries must be strings"):
        ml.runs(order_by="  ")
    with pytest.raises(ml.InvalidInput, match="experiment must be a name or a list of names"):
        ml.runs(experiment=5)  # type: ignore[arg-type]
    with pytest.raises(ml.InvalidInput, match="a filter must be a string, got int"):
        ml.search_runs(3)  # type: ignore[arg-type]


# -- get_run ----------------------------------------------------------------------------------


def test_get_run_returns_the_full_run_dict(store: ml.Store) -> None:
    with ml.run(experiment="full", name="n", tags={"a": "1"}) as run:
        ml.log_params({"lr": 0.1})
        ml.log_metric("acc", 0.5)
        ml.log_metric("acc", 0.7)
        ml.log_dataset(n_rows=10, role="test")
        with ml.run() as child:
            pass
    ml.set_note(run.id, "hello")
    got = fetch(run.id)
    assert got["params"] == {"lr": 0.1}
    assert got["metrics"] == {"acc": 0.7}
    assert got["metric_stats"]["acc"]["count"] == 2
    assert got["tags"] == {"a": "1"}
    assert got["children"] == [child.id]
    assert got["note"] == "hello"
    assert got["artifacts"] == []
    assert [d["role"] for d in got["datasets"]] == ["test"]
    assert got["archived"] is False
    assert got["env"]["pid"] == got["env"]["pid"] and isinstance(got["env"]["python"], str)
    json.dumps(got)  # plain data
    assert "<table" in got._repr_html_()


def test_every_lookup_of_an_unknown_run_id_raises_not_found(store: ml.Store) -> None:
    ghost = "a" * 32
    for call in (
        lambda: ml.get_run(ghost),
        lambda: ml.get_tags(ghost),
        lambda: ml.get_datasets(ghost),
        lambda: ml.list_artifacts(ghost),
        lambda: ml.add_tag(ghost, "k", "v"),
        lambda: ml.set_note(ghost, "n"),
        lambda: ml.compare_runs([ghost]),
    ):
        with pytest.raises(ml.NotFound, match=f"run '{ghost}' does not exist"):
            call()
    # A search that finds nothing is not an error: an empty list, or None for "the best one".
    assert ml.search_runs(ids=[ghost]) == []
    assert ml.best_run("acc") is None


def test_a_malformed_run_id_is_invalid_input(store: ml.Store) -> None:
    with pytest.raises(ml.InvalidInput, match="expected 32 lowercase hex characters"):
        ml.get_run("A" * 32)
    with pytest.raises(ml.InvalidInput, match="run id must be a string, got int"):
        ml.get_run(5)  # type: ignore[arg-type]


def test_get_run_inside_a_run_sees_the_metrics_logged_so_far(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_metric("m", 1.0)
        assert fetch(run.id)["metrics"] == {"m": 1.0}
        ml.log_metric("m", 2.0)
        assert ids(ml.search_runs(metric="m", op=">", value=1.5)) == [run.id]


# -- metric_history ---------------------------------------------------------------------------


def test_metric_history_is_in_step_order_with_timestamps(store: ml.Store) -> None:
    before = time.time_ns() // 1_000_000
    with ml.run() as run:
        ml.log_metric("m", 3.0, step=2)
        ml.log_metric("m", 1.0, step=0)
    history = ml.metric_history(run.id, "m")
    assert [(p["step"], p["value"]) for p in history] == [(0, 1.0), (2, 3.0)]
    assert all(before <= p["timestamp"] <= time.time_ns() // 1_000_000 for p in history)
    assert ml.metric_history(run.id, "other") == []


def test_metric_history_downsampling_keeps_the_global_min_and_max(store: ml.Store) -> None:
    values = [math.sin(i / 30) for i in range(1000)]
    values[357] = -50.0
    values[811] = 99.0
    with ml.run() as run:
        for v in values:
            ml.log_metric("m", v)
    for max_points in (4, 10, 50, 333):
        points = ml.metric_history(run.id, "m", max_points=max_points)
        steps = [p["step"] for p in points]
        assert len(points) <= max_points
        assert steps == sorted(set(steps))
        assert steps[0] == 0
        assert steps[-1] == 999
        assert 357 in steps
        assert 811 in steps
        assert all(p["value"] == values[p["step"]] for p in points)
    assert len(ml.metric_history(run.id, "m", max_points=1000)) == 1000
    assert [p["step"] for p in ml.metric_history(run.id, "m", max_points=2)] == [0, 999]
    assert ml.metric_history(run.id, "m", max_points=0) == []


def test_downsampling_keeps_a_point_of_an_all_nan_stretch(store: ml.Store) -> None:
    with ml.run() as run:
        for i in range(100):
            ml.log_metric("m", math.nan if 10 <= i < 90 else float(i))
    kept = ml.metric_history(run.id, "m", max_points=10)
    assert len(kept) <= 10
    assert any(math.isnan(p["value"]) for p in kept)
    assert kept[0]["step"] == 0
    assert kept[-1]["step"] == 99


def test_metric_history_bad_arguments(store: ml.Store) -> None:
    run_id = make_run()
    with pytest.raises(ml.InvalidInput, match="max_points must be a non-negative integer"):
        ml.metric_history(run_id, "m", max_points=-1)
    with pytest.raises(ml.InvalidInput, match="metric key must not be empty"):
        ml.metric_history(run_id, "")
    with pytest.raises(ml.NotFound, match="does not exist"):
        ml.metric_history("b" * 32, "m")


# -- last_run, users --------------------------------------------------------------------------


def test_last_run_is_the_newest_optionally_per_experiment(store: ml.Store) -> None:
    assert ml.last_run() is None
    a = insert_run(store, start_time=1, experiment="a")
    b = insert_run(store, start_time=2, experiment="b")
    assert ml.last_run()["id"] == b
    assert ml.last_run(experiment="a")["id"] == a
    assert "params" in ml.last_run()


def test_my_runs_are_the_runs_of_chacha_user(
    store: ml.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHACHA_USER", "ada")
    assert ml.current_user() == "ada"
    assert ml.my_last_run() is None
    mine = make_run("x")
    with ml.run(experiment="x", created_by="bob"):
        pass
    mine2 = make_run("y")
    assert ids(ml.my_runs()) == [mine2, mine]
    assert ids(ml.my_runs(experiment="x")) == [mine]
    assert ml.my_last_run()["id"] == mine2
    monkeypatch.setenv("CHACHA_USER", "bob")
    assert len(ml.my_runs()) == 1
    monkeypatch.delenv("CHACHA_USER")
    assert ml.current_user() not in ("", "ada", "bob")


# -- search_runs (SPEC §14.9) -----------------------------------------------------------------


@pytest.fixture
def acc_runs(store: ml.Store) -> dict[str, str]:
    return {
        "a": make_run(metrics={"acc": [0.1, 0.95, 0.5]}),  # best 0.95, latest 0.5
        "b": make_run(metrics={"acc": [0.8]}),
        "c": make_run(metrics={"acc": [0.2, 0.9]}),
        "d": make_run(metrics={"loss": [1.0]}),
    }


def test_metric_search_without_an_operator_returns_runs_having_the_metric(
    acc_runs: dict[str, str],
) -> None:
    found = ml.search_runs(metric="acc")
    assert ids(found) == [acc_runs["c"], acc_runs["b"], acc_runs["a"]]  # best latest first
    assert ml.search_runs(metric="f1") == []


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (">", 0.7, {"b", "c"}),
        (">=", 0.8, {"b", "c"}),
        ("<", 0.8, {"a"}),
        ("<=", 0.8, {"a", "b"}),
        ("=", 0.8, {"b"}),
        ("==", 0.8, {"b"}),
        ("!=", 0.8, {"a", "c"}),
        (">", 0.92, set()),  # a's best is 0.95, but its latest is 0.5
    ],
)
def test_keyword_search_compares_the_latest_value(
    acc_runs: dict[str, str], op: str, value: float, expected: set[str]
) -> None:
    found = ml.search_runs(metric="acc", op=op, value=value)
    assert set(ids(found)) == {acc_runs[k] for k in expected}


def test_keyword_search_respects_experiment_and_order(store: ml.Store) -> None:
    x1 = make_run("x", metrics={"acc": [0.6]})
    x2 = make_run("x", metrics={"acc": [0.9]})
    make_run("y", metrics={"acc": [0.99]})
    found = ml.search_runs(metric="acc", op=">", value=0.5, experiment="x", order_by="metrics.acc")
    assert ids(found) == [x1, x2]
    assert ids(ml.search_runs(metric="acc", experiment="x", limit=1)) == [x2]


def test_keyword_search_refuses_incomplete_or_bad_arguments(acc_runs: dict[str, str]) -> None:
    with pytest.raises(ml.InvalidInput, match="needs both op and value"):
        ml.search_runs(metric="acc", op=">")
    with pytest.raises(ml.InvalidInput, match="needs both op and value"):
        ml.search_runs(metric="acc", value=0.5)
    with pytest.raises(ml.InvalidInput, match="op '~' is not one of: >, >="):
        ml.search_runs(metric="acc", op="~", value=0.5)
    with pytest.raises(ml.InvalidInput, match="value must be finite"):
        ml.search_runs(metric="acc", op=">", value=math.nan)
    with pytest.raises(ml.InvalidInput, match="value must be a number, got str"):
        ml.search_runs(metric="acc", op=">", value="0.5")  # type: ignore[arg-type]
    with pytest.raises(ml.InvalidInput, match="op and value need a metric"):
        ml.search_runs(op=">", value=0.5)
    with pytest.raises(ml.InvalidInput, match="metric must be a string"):
        ml.search_runs(metric=1)  # type: ignore[arg-type]


# -- best_run (SPEC §14.8) --------------------------------------------------------------------


@pytest.fixture
def loss_runs(store: ml.Store) -> dict[str, str]:
    return {
        "a": make_run("t", metrics={"loss": [5.0, 1.0, 3.0]}),  # min 1 @1, max 5 @0
        "b": make_run("t", metrics={"loss": [2.0, 2.5]}),  # min 2 @0, max 2.5 @1
        "none": make_run("t", metrics={"acc": [100.0]}),  # no loss at all
        "nan": make_run("t", metrics={"loss": [math.nan]}),
        "other": make_run("u", metrics={"loss": [4.0, 9.0]}),
    }


def test_best_run_ranks_by_the_latest_value_by_default(loss_runs: dict[str, str]) -> None:
    # Latest values: a 3.0, b 2.5, other 9.0 (nan never wins).
    low = ml.best_run("loss", direction="min")
    assert low["id"] == loss_runs["b"]
    assert (low["metric_value"], low["metric_step"]) == (2.5, 1)
    high = ml.best_run("loss", experiment="t")
    assert high["id"] == loss_runs["a"]
    assert (high["metric_value"], high["metric_step"]) == (3.0, 2)
    assert high["metrics"] == {"loss": 3.0}  # the full run dict, latest value


def test_best_run_agrees_with_the_filter_language_on_the_latest_value(
    loss_runs: dict[str, str],
) -> None:
    best = ml.best_run("loss", experiment="t", direction="min")
    ranked = ml.search_runs("experiment = 't' order by metrics.loss asc", limit=1)
    assert best["id"] == ranked[0]["id"]


def test_best_run_by_min_ranks_by_each_runs_minimum(loss_runs: dict[str, str]) -> None:
    best = ml.best_run("loss", direction="min", by="min")
    assert best["id"] == loss_runs["a"]
    assert (best["metric_value"], best["metric_step"]) == (1.0, 1)


def test_best_run_by_max_ranks_by_each_runs_maximum(loss_runs: dict[str, str]) -> None:
    best = ml.best_run("loss", by="max")
    assert best["id"] == loss_runs["other"]
    assert (best["metric_value"], best["metric_step"]) == (9.0, 1)
    best_t = ml.best_run("loss", experiment="t", direction="max", by="max")
    assert best_t["id"] == loss_runs["a"]
    assert (best_t["metric_value"], best_t["metric_step"]) == (5.0, 0)


def test_runs_without_the_metric_never_win(loss_runs: dict[str, str]) -> None:
    assert ml.best_run("acc")["id"] == loss_runs["none"]
    assert ml.best_run("f1") is None
    assert ml.best_run("loss", experiment="nobody") is None
    for direction in ("min", "max"):
        assert ml.best_run("loss", direction=direction)["id"] != loss_runs["nan"]


def test_best_run_ignores_archived_runs(loss_runs: dict[str, str], store: ml.Store) -> None:
    assert ml.archive_runs(older_than_days=0, experiment="t") == 4
    assert ml.best_run("loss", direction="min")["id"] == loss_runs["other"]
    assert ml.best_run("loss", experiment="t") is None


def test_best_run_sees_points_of_a_run_still_in_progress(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_metric("acc", 0.4)
        assert ml.best_run("acc")["id"] == run.id


def test_best_run_bad_arguments(store: ml.Store) -> None:
    with pytest.raises(ml.InvalidInput, match="direction must be 'max' or 'min', got 'up'"):
        ml.best_run("acc", direction="up")
    with pytest.raises(ml.InvalidInput, match="by must be one of last, max, min, got 'mean'"):
        ml.best_run("acc", by="mean")
    with pytest.raises(ml.InvalidInput, match="metric must not be empty"):
        ml.best_run("")


# -- compare_runs -----------------------------------------------------------------------------


def test_compare_runs_splits_params_into_same_differ_and_partial(store: ml.Store) -> None:
    a = make_run(params={"model": "rf", "lr": 0.1, "seed": 1}, metrics={"acc": [0.5, 0.7]})
    b = make_run(params={"model": "rf", "lr": 0.2}, metrics={"acc": [0.6], "f1": [0.3]})
    cmp = ml.compare_runs([a, b])
    assert cmp["run_ids"] == [a, b]
    assert cmp["params"] == {
        "differ": {"lr": {a: 0.1, b: 0.2}},
        "partial": {"seed": {a: 1}},
        "same": {"model": {a: "rf", b: "rf"}},
    }
    assert list(cmp["params"]) == ["differ", "partial", "same"]  # what differs comes first
    # Metrics have the same shape; each value is the run's summary, grouped by latest value.
    assert cmp["metrics"]["differ"] == {
        "acc": {
            a: {"last": 0.7, "last_step": 1, "min": 0.5, "max": 0.7, "count": 2},
            b: {"last": 0.6, "last_step": 0, "min": 0.6, "max": 0.6, "count": 1},
        }
    }
    assert cmp["metrics"]["partial"] == {
        "f1": {b: {"last": 0.3, "last_step": 0, "min": 0.3, "max": 0.3, "count": 1}}
    }
    assert cmp["metrics"]["same"] == {}
    assert [r["id"] for r in cmp["runs"]] == [a, b]
    assert cmp["runs"][0]["status"] == "completed"
    json.dumps(cmp)


def test_compare_runs_treats_equal_json_values_as_the_same(store: ml.Store) -> None:
    a = make_run(params={"cfg": {"x": 1, "y": [1, 2]}})
    b = make_run(params={"cfg": {"y": [1, 2], "x": 1}})
    same = ml.compare_runs([a, b])["params"]["same"]
    assert same == {"cfg": {a: {"x": 1, "y": [1, 2]}, b: {"x": 1, "y": [1, 2]}}}


def test_compare_runs_reads_in_a_fixed_number_of_queries_however_many_runs(
    store: ml.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids_ = [make_run(params={"i": i}, metrics={"m": [float(i)]}) for i in range(30)]
    calls: list[str] = []
    for method in ("get_run", "list_runs", "params_of", "metric_summaries"):
        original = getattr(store.meta, method)

        def spy(*args: object, _m: str = method, _f: object = original, **kw: object) -> object:
            calls.append(_m)
            return _f(*args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(store.meta, method, spy)
    ml.compare_runs(ids_)
    assert sorted(calls) == ["list_runs", "metric_summaries", "params_of"]


def test_compare_runs_bad_input(store: ml.Store) -> None:
    a = make_run()
    with pytest.raises(ml.InvalidInput, match="non-empty list of run ids"):
        ml.compare_runs([])
    with pytest.raises(ml.InvalidInput, match="non-empty list of run ids"):
        ml.compare_runs(a)
    with pytest.raises(ml.NotFound, match="does not exist"):
        ml.compare_runs([a, "c" * 32])


# -- export -----------------------------------------------------------------------------------


def test_export_runs_always_prefixes_param_and_metric_columns(store: ml.Store) -> None:
    a = make_run(
        "x",
        params={"name": "p", "lr": 0.1, "depth": 3},
        metrics={"lr": [0.5, 0.05], "acc": [0.9]},
        name="run-a",
    )
    b = make_run("y", params={"depth": 4}, metrics={"acc": [0.8]})
    rows = ml.export_runs()
    assert [r["id"] for r in rows] == [b, a]
    row_a = rows[1]
    assert row_a["name"] == "run-a"  # the run column is untouched
    assert row_a["params.name"] == "p"
    assert row_a["params.lr"] == 0.1
    assert row_a["metrics.lr"] == 0.05
    assert row_a["params.depth"] == 3  # prefixed even where nothing collides
    assert row_a["metrics.acc"] == 0.9
    assert "lr" not in row_a and "depth" not in row_a and "acc" not in row_a
    assert row_a["status"] == "completed"
    assert row_a["duration_ms"] >= 0
    assert [r["id"] for r in ml.export_runs(experiment="y")] == [b]


def test_runs_df_is_a_dataframe_of_the_export(store: ml.Store) -> None:
    pd = pytest.importorskip("pandas")
    a = make_run(params={"lr": 0.1}, metrics={"acc": [0.9]})
    df = ml.runs_df()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns)[: len(export.RUN_COLUMNS)] == list(export.RUN_COLUMNS)
    assert df.loc[0, "id"] == a
    assert df.loc[0, "params.lr"] == 0.1
    assert df.loc[0, "metrics.acc"] == 0.9
    assert len(ml.runs_df(experiment="nothing")) == 0
    assert list(ml.runs_df(experiment="nothing").columns) == list(export.RUN_COLUMNS)


def test_export_csv_writes_one_line_per_run_with_nested_values_as_json(store: ml.Store) -> None:
    a = make_run(params={"cfg": {"k": [1, 2]}, "flag": True, "lr": 0.5}, metrics={"acc": [0.25]})
    text = export.export_csv(ml.export_runs())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1
    assert rows[0]["id"] == a
    assert json.loads(rows[0]["params.cfg"]) == {"k": [1, 2]}
    assert rows[0]["params.flag"] == "true"
    assert float(rows[0]["params.lr"]) == 0.5
    assert float(rows[0]["metrics.acc"]) == 0.25
    assert text.splitlines()[0].startswith(",".join(export.RUN_COLUMNS))


def test_export_csv_neutralises_spreadsheet_formulas(store: ml.Store) -> None:
    hostile = ["=cmd|'/c calc'!A1", "+1+1", "-2+3", "@SUM(A1)", "\tx"]
    make_run(params={f"p{i}": v for i, v in enumerate(hostile)}, metrics={"loss": [-0.5]})
    rows = list(csv.DictReader(io.StringIO(export.export_csv(ml.export_runs()))))
    for i, value in enumerate(hostile):
        cell = rows[0][f"params.p{i}"]
        if value[0] in "=+-@\t":
            assert cell == "'" + value  # shown as text, never evaluated
        else:
            assert cell == value
    assert rows[0]["metrics.loss"] == "-0.5"  # numbers are left as numbers


# -- experiments ------------------------------------------------------------------------------


def test_experiments_list_explicit_and_derived_with_counts_and_activity(store: ml.Store) -> None:
    created = ml.create_experiment("planned", description="# goal", owner="ada")
    assert created["explicit"] is True
    assert (created["description"], created["owner"], created["run_count"]) == (
        "# goal",
        "ada",
        0,
    )
    assert created["last_activity"] is None
    make_run("used")
    last = make_run("used")
    rows = {e["name"]: e for e in ml.experiments()}
    assert set(rows) == {"planned", "used"}
    assert rows["used"]["explicit"] is False
    assert rows["used"]["run_count"] == 2
    assert rows["used"]["last_activity"] == fetch(last)["end_time"]
    assert ml.experiments()[0]["name"] == "used"  # most recent activity first
    assert ml.experiment("used")["run_count"] == 2
    assert ml.experiment("planned")["owner"] == "ada"


def test_create_experiment_upserts_and_keeps_unset_fields(store: ml.Store) -> None:
    first = ml.create_experiment("e1", description="d", owner="o")
    again = ml.create_experiment("e1", owner="new owner")
    assert again["description"] == "d"
    assert again["owner"] == "new owner"
    assert again["created_at"] == first["created_at"]
    assert len(ml.experiments()) == 1


def test_experiment_lookup_and_bad_names(store: ml.Store) -> None:
    with pytest.raises(ml.NotFound, match=r"experiment 'ghost' does not exist"):
        ml.experiment("ghost")
    with pytest.raises(ml.InvalidInput, match="experiment name must not be empty"):
        ml.create_experiment("")
    with pytest.raises(ml.InvalidInput, match="description must be a markdown string"):
        ml.create_experiment("x", description=5)  # type: ignore[arg-type]
    with pytest.raises(ml.InvalidInput, match="owner must be a string"):
        ml.create_experiment("x", owner=5)  # type: ignore[arg-type]
    assert ml.experiments() == []


# -- archiving and deleting (SPEC §14.12) -----------------------------------------------------


def test_archiving_never_archives_running_runs(store: ml.Store) -> None:
    done = make_run("a")
    running = ml.start_run(experiment="a")
    assert ml.archive_runs(older_than_days=0) == 1
    assert fetch(running.id)["archived"] is False
    assert fetch(done)["archived"] is True
    ml.end_run()
    assert ml.archive_runs(older_than_days=0) == 1  # now finished, it can go


def test_archived_runs_are_hidden_by_default_and_listed_with_status_archived(
    store: ml.Store,
) -> None:
    old = make_run("a")
    assert ml.archive_runs(older_than_days=0) == 1
    keep = make_run("a")
    assert ids(ml.runs()) == [keep]
    assert ids(ml.runs(status="archived")) == [old]
    assert ids(ml.runs(status="archived", experiment="a")) == [old]
    assert set(ids(ml.runs(include_archived=True))) == {old, keep}
    assert ids(ml.search_runs(include_archived=False)) == [keep]
    assert ml.experiment("a")["run_count"] == 1
    assert fetch(old)["archived"] is True  # still readable by id


def test_archive_runs_respects_age_and_experiment(store: ml.Store) -> None:
    make_run("a")
    make_run("b")
    assert ml.archive_runs() == 0  # nothing older than 30 days
    assert ml.archive_runs(older_than_days=0, experiment="b") == 1
    assert [r["experiment"] for r in ml.runs()] == ["a"]
    assert ml.archive_runs(older_than_days=0) == 1
    assert ml.archive_runs(older_than_days=0) == 0  # already archived
    with pytest.raises(ml.InvalidInput, match="older_than_days must be >= 0"):
        ml.archive_runs(older_than_days=-1)
    with pytest.raises(ml.InvalidInput, match="older_than_days must be a number"):
        ml.archive_runs(older_than_days="7")  # type: ignore[arg-type]


def test_delete_archived_removes_archived_runs_and_their_data(store: ml.Store) -> None:
    gone = make_run("a", params={"p": 1}, metrics={"m": [1.0, 2.0]}, tags={"t": "1"})
    ml.archive_runs(older_than_days=0)
    kept = make_run("a", metrics={"m": [3.0]})
    assert ml.delete_archived() == 1
    assert ml.search_runs(ids=[gone], include_archived=True) == []
    assert ml.runs(status="archived") == []
    assert ids(ml.runs()) == [kept]
    assert ml.metric_history(kept, "m")[0]["value"] == 3.0
    assert ml.delete_archived() == 0
