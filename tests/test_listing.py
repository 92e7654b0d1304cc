"""One listing behind ml.runs, ml.search_runs, ml.count_runs, ml.my_runs and the HTTP API:
the same arguments give the same runs in the same order, and a cut result says so."""

from __future__ import annotations

import warnings

import pytest

import chachaml as ml
from chachaml import query, runs_api
from chachaml.store.protocol import NewRun


def make(experiment: str = "e", acc: float | None = None, **tags: str) -> str:
    with ml.run(experiment=experiment, tags=tags or None) as run:
        if acc is not None:
            ml.log_metric("acc", acc)
    return run.id


def insert(st: ml.Store, run_id: str, start: int) -> None:
    st.meta.create_run(
        NewRun(id=run_id, experiment="p", name=None, start_time=start, created_by="u")
    )


def test_runs_takes_a_filter_expression(store: ml.Store) -> None:
    low, high = make(acc=0.2), make(acc=0.9)
    assert [r["id"] for r in ml.runs(filter="metrics.acc > 0.5")] == [high]
    assert [r["id"] for r in ml.runs(filter="metrics.acc < 0.5")] == [low]


def test_search_runs_takes_status_tags_and_the_other_run_filters(store: ml.Store) -> None:
    reviewed = make(acc=0.5, reviewed="true")
    make(acc=0.6)
    with pytest.raises(ValueError), ml.run(experiment="e") as failed:
        raise ValueError("x")
    assert [r["id"] for r in ml.search_runs(tags={"reviewed": "true"})] == [reviewed]
    assert [r["id"] for r in ml.search_runs(status="failed")] == [failed.id]
    assert ml.search_runs("metrics.acc > 0", status="failed") == []


def test_experiment_may_be_a_list_of_names(store: ml.Store) -> None:
    a, b, _ = make("a"), make("b"), make("c")
    assert {r["id"] for r in ml.runs(experiment=["a", "b"])} == {a, b}
    assert {r["id"] for r in ml.search_runs(experiment=("b",))} == {b}
    assert ml.count_runs(experiment=["a", "b", "c"]) == 3
    with pytest.raises(ml.InvalidInput, match=r"experiment=\[\] names no experiment"):
        ml.runs(experiment=[])


def test_my_runs_takes_tags_and_a_filter(store: ml.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHACHA_USER", "ada")
    mine = make(acc=0.9, team="x")
    make(acc=0.1, team="y")
    assert [r["id"] for r in ml.my_runs(tags={"team": "x"})] == [mine]
    assert [r["id"] for r in ml.my_runs(filter="metrics.acc > 0.5")] == [mine]
    monkeypatch.setenv("CHACHA_USER", "bob")
    assert ml.my_runs(tags={"team": "x"}) == []


def test_a_default_limit_that_cuts_the_result_says_so(store: ml.Store) -> None:
    for i in range(101):
        insert(store, runs_api.new_run_id(), i)
    with pytest.warns(ml.ResultTruncated, match="showing the first 100 matching runs"):
        cut = ml.runs()
    assert len(cut) == 100 and cut.truncated is True
    with pytest.warns(ml.ResultTruncated):
        assert ml.search_runs().truncated is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit limit is what was asked for: no warning
        explicit = ml.runs(limit=100)
        everything = ml.runs(limit=None)
    assert len(explicit) == 100 and explicit.truncated is False
    assert len(everything) == 101 and everything.truncated is False


def test_a_default_limit_that_does_not_cut_is_silent(store: ml.Store) -> None:
    for i in range(100):
        insert(store, runs_api.new_run_id(), i)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = ml.runs()
    assert len(found) == 100 and found.truncated is False


def test_metric_alone_lists_the_runs_that_logged_it_best_first(store: ml.Store) -> None:
    mid, high, low = make(acc=0.5), make(acc=0.9), make(acc=0.1)
    make()  # no acc
    ranked = [r["id"] for r in ml.search_runs(metric="acc")]
    assert ranked == [high, mid, low]
    assert ml.count_runs(metric="acc") == 3


# -- run id prefixes --------------------------------------------------------------------------


def test_a_unique_prefix_of_four_or_more_characters_names_a_run(store: ml.Store) -> None:
    run = make(acc=0.5)
    for prefix in (run[:4], run[:8], run[:31], run[:8].upper()):
        assert ml.get_run(prefix)["id"] == run
    ml.add_tag(run[:8], "seen", "yes")
    ml.set_note(run[:8], "# note")
    assert ml.get_tags(run[:8]) == {"seen": "yes"}
    assert ml.metric_history(run[:8], "acc")[0]["value"] == 0.5
    assert ml.compare_runs([run[:6]])["run_ids"] == [run]
    assert ml.list_artifacts(run[:8]) == []


def test_an_ambiguous_prefix_lists_the_candidates(store: ml.Store) -> None:
    first, second = "abcd" + "1" * 28, "abcd" + "2" * 28
    insert(store, first, 1)
    insert(store, second, 2)
    with pytest.raises(ml.InvalidInput, match="prefix 'abcd' is ambiguous") as info:
        ml.get_run("abcd")
    assert first in str(info.value) and second in str(info.value)
    assert ml.get_run("abcd1")["id"] == first


def test_prefixes_that_match_nothing_or_are_too_short(store: ml.Store) -> None:
    make()
    with pytest.raises(ml.NotFound, match="no run id starts with 'ffffffff'"):
        ml.get_run("ffffffff")
    with pytest.raises(ml.InvalidInput, match="malformed"):
        ml.get_run("abc")  # under 4 characters: never a prefix
    with pytest.raises(ml.InvalidInput, match="malformed"):
        ml.get_run("zzzzzzzz")


def test_a_prefix_never_reaches_sql_as_text(store: ml.Store) -> None:
    # Only hex characters are ever used as a prefix; anything else is refused before a query.
    for hostile in ("abcd%", "abcd'--", "abcd_", "ab%d"):
        with pytest.raises(ml.InvalidInput):
            query.find_run_id(hostile)
