"""Params (immutable, JSON values), tags (mutable strings), notes."""

from __future__ import annotations

import pytest

import chachaml as ml


def fetch(run_id: str) -> dict:
    got = ml.get_run(run_id)
    assert got is not None
    return got


# -- params -----------------------------------------------------------------------------------


def test_params_keep_their_json_types(store: ml.Store) -> None:
    values = {
        "int": 3,
        "float": 0.1,
        "bool": True,
        "none": None,
        "str": "adam",
        "list": [1, "two", 3.0],
        "tuple": (1, 2),
        "dict": {"b": [1, {"c": None}], "a": 1},
        "unicode ключ": "значение ✓",
    }
    with ml.run() as run:
        ml.log_params(values)
    got = fetch(run.id)["params"]
    assert got == {**values, "tuple": [1, 2]}
    assert type(got["int"]) is int
    assert type(got["bool"]) is bool
    assert list(got) == sorted(got)  # keys come back sorted


def test_numpy_param_values_become_plain_json(store: ml.Store) -> None:
    np = pytest.importorskip("numpy")
    with ml.run() as run:
        ml.log_params({"n": np.int64(5), "x": np.float32(0.5), "arr": np.arange(3)})
    assert fetch(run.id)["params"] == {"n": 5, "x": 0.5, "arr": [0, 1, 2]}


def test_relogging_a_param_with_the_same_value_is_a_no_op(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_param("cfg", {"a": 1, "b": 2})
        ml.log_param("cfg", {"b": 2, "a": 1})  # same JSON, other key order
        ml.log_params({"cfg": {"a": 1, "b": 2}, "new": 1})
    assert fetch(run.id)["params"] == {"cfg": {"a": 1, "b": 2}, "new": 1}


def test_a_conflicting_param_raises_and_nothing_of_that_call_is_stored(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_params({"lr": 0.1, "layers": 2})
        with pytest.raises(ml.ParamConflict, match=r"param 'lr' .* is already 0\.1 .* to 0\.2"):
            ml.log_params({"batch": 32, "lr": 0.2, "dropout": 0.5})
        assert fetch(run.id)["params"] == {"layers": 2, "lr": 0.1}
        with pytest.raises(ml.ParamConflict, match="1 more keys conflict"):
            ml.log_params({"lr": 1, "layers": 3})
        with pytest.raises(ml.ParamConflict):
            run.log_param("layers", "2")  # "2" is not 2
    assert fetch(run.id)["params"] == {"layers": 2, "lr": 0.1}


def test_param_conflicts_are_per_run(store: ml.Store) -> None:
    with ml.run() as a:
        ml.log_param("lr", 0.1)
    with ml.run() as b:
        ml.log_param("lr", 0.2)
    assert fetch(a.id)["params"] == {"lr": 0.1}
    assert fetch(b.id)["params"] == {"lr": 0.2}


def test_an_empty_params_dict_is_accepted_and_stores_nothing(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_params({})
    assert fetch(run.id)["params"] == {}


def test_params_that_are_not_json_are_refused_with_the_path(store: ml.Store) -> None:
    with ml.run() as run:
        with pytest.raises(ml.InvalidInput, match=r"param 'opt'\.inner has a value of type set"):
            ml.log_params({"ok": 1, "opt": {"inner": {1, 2}}})
        with pytest.raises(ml.InvalidInput, match="non-string key 1"):
            ml.log_param("d", {1: "x"})
        with pytest.raises(ml.InvalidInput, match=r"param 'l'\[1\] has a value of type object"):
            ml.log_param("l", [1, object()])
        with pytest.raises(ml.InvalidInput, match="limit is 65536"):
            ml.log_param("big", "x" * 70_000)
        with pytest.raises(ml.InvalidInput, match="params must be a dict, got list"):
            ml.log_params([("a", 1)])  # type: ignore[arg-type]
    assert fetch(run.id)["params"] == {}


def test_logging_params_outside_a_run_raises_no_active_run(store: ml.Store) -> None:
    with pytest.raises(ml.NoActiveRun, match=r"log_param\(\) needs an active run"):
        ml.log_param("a", 1)
    with pytest.raises(ml.NoActiveRun, match=r"log_params\(\)"):
        ml.log_params({"a": 1})


# -- tags -------------------------------------------------------------------------------------


def test_inline_tags_merge_with_later_tags_and_later_values_win(store: ml.Store) -> None:
    with ml.run(tags={"team": "vision", "stage": "draft", "gpu": True}) as run:
        ml.log_tag("stage", "final")
        ml.log_tags({"seed": 7, "ratio": 0.5})
    got = fetch(run.id)["tags"]
    assert got == {"team": "vision", "stage": "final", "gpu": "true", "seed": "7", "ratio": "0.5"}
    assert ml.get_tags(run.id) == got
    assert ml.runs()[0]["tags"] == got


def test_add_tag_remove_tag_and_get_tags_work_on_finished_runs(store: ml.Store) -> None:
    with ml.run() as run:
        pass
    ml.add_tag(run.id, "reviewed", True)
    ml.add_tag(run.id, "score", 3)
    ml.add_tag(run.id, "off", False)
    assert ml.get_tags(run.id) == {"reviewed": "true", "score": "3", "off": "false"}
    assert ml.remove_tag(run.id, "score") is True
    assert ml.remove_tag(run.id, "score") is False
    assert ml.get_tags(run.id) == {"reviewed": "true", "off": "false"}
    ml.add_tag(run.id, "reviewed", "no")
    assert ml.get_tags(run.id)["reviewed"] == "no"


def test_runs_can_be_filtered_by_tags(store: ml.Store) -> None:
    with ml.run() as a:
        ml.log_tag("reviewed", True)
    with ml.run(tags={"reviewed": "true", "team": "x"}) as b:
        pass
    with ml.run(tags={"reviewed": "false"}):
        pass
    assert {r["id"] for r in ml.runs(tags={"reviewed": True})} == {a.id, b.id}
    assert [r["id"] for r in ml.runs(tags={"reviewed": "true", "team": "x"})] == [b.id]
    assert ml.runs(tags={"missing": "1"}) == []


def test_tag_operations_on_unknown_runs_are_not_found(store: ml.Store) -> None:
    ghost = "f" * 32
    with pytest.raises(ml.NotFound, match=f"run '{ghost}' does not exist"):
        ml.add_tag(ghost, "a", "b")
    with pytest.raises(ml.NotFound):
        ml.remove_tag(ghost, "a")
    with pytest.raises(ml.NotFound):
        ml.get_tags(ghost)
    with pytest.raises(ml.NotFound):
        ml.set_note(ghost, "hi")
    with pytest.raises(ml.NotFound):
        ml.get_datasets(ghost)
    assert ml.runs() == []


def test_bad_tags_are_refused_and_leave_tags_unchanged(store: ml.Store) -> None:
    with ml.run(tags={"keep": "me"}) as run:
        with pytest.raises(ml.InvalidInput, match="tag 'x' value must be a string, number or bool"):
            ml.log_tags({"ok": "1", "x": [1]})
        with pytest.raises(ml.InvalidInput, match="tag key must be a string, got int"):
            ml.log_tags({1: "a"})  # type: ignore[dict-item]
        with pytest.raises(ml.InvalidInput, match="limit is 5000"):
            ml.log_tag("long", "v" * 5001)
        with pytest.raises(ml.InvalidInput, match="tags must be a dict"):
            ml.log_tags("a=b")  # type: ignore[arg-type]
    with pytest.raises(ml.InvalidInput, match="tag key must not be empty"):
        ml.add_tag(run.id, "", "x")
    with pytest.raises(ml.InvalidInput, match="malformed"):
        ml.add_tag("abc", "k", "x")
    assert ml.get_tags(run.id) == {"keep": "me"}
    with pytest.raises(ml.InvalidInput), ml.run(tags={"k": None}):  # type: ignore[dict-item]
        pass


def test_log_tag_outside_a_run_raises(store: ml.Store) -> None:
    with pytest.raises(ml.NoActiveRun, match=r"log_tag\(\)"):
        ml.log_tag("a", "b")
    with pytest.raises(ml.NoActiveRun, match=r"log_tags\(\)"):
        ml.log_tags({"a": "b"})


# -- notes ------------------------------------------------------------------------------------


def test_set_note_replaces_the_note(store: ml.Store) -> None:
    with ml.run() as run:
        pass
    assert fetch(run.id)["note"] is None
    ml.set_note(run.id, "first $x^2$")
    ml.set_note(run.id, "## second\n\n$$\\int f$$")
    assert fetch(run.id)["note"] == "## second\n\n$$\\int f$$"
    with pytest.raises(ml.InvalidInput, match="note must be a markdown string, got int"):
        ml.set_note(run.id, 3)  # type: ignore[arg-type]
    with pytest.raises(ml.InvalidInput, match="larger than"):
        ml.set_note(run.id, "x" * (1024 * 1024 + 1))
    assert fetch(run.id)["note"] == "## second\n\n$$\\int f$$"
