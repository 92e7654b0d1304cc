"""Bad input gets a precise error and leaves stored data untouched."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

import chachaml as ml
from chachaml import validate

LONG_KEY = "k" * 251


def snapshot(run_id: str) -> dict[str, Any]:
    got = ml.get_run(run_id)
    assert got is not None
    histories = {k: ml.metric_history(run_id, k) for k in got["metrics"]}
    return {
        "params": got["params"],
        "metrics": got["metrics"],
        "tags": got["tags"],
        "name": got["name"],
        "histories": histories,
        "datasets": got["datasets"],
    }


BAD_METRIC_CALLS: list[tuple[str, Callable[[], None], type[Exception], str]] = [
    (
        "int key",
        lambda: ml.log_metric(5, 1.0),
        ml.InvalidInput,
        "metric key must be a string, got int 5",
    ),  # type: ignore[arg-type]
    ("empty key", lambda: ml.log_metric("", 1.0), ml.InvalidInput, "metric key must not be empty"),
    (
        "long key",
        lambda: ml.log_metric(LONG_KEY, 1.0),
        ml.InvalidInput,
        "is 251 characters long; the limit is 250",
    ),
    (
        "control char",
        lambda: ml.log_metric("a\nb", 1.0),
        ml.InvalidInput,
        "contains a control character",
    ),
    (
        "str value",
        lambda: ml.log_metric("m", "0.5"),
        ml.InvalidInput,
        "metric 'm' value must be a number, got str '0.5'",
    ),  # type: ignore[arg-type]
    (
        "bool value",
        lambda: ml.log_metric("m", True),
        ml.InvalidInput,
        "value must be a number, got bool True",
    ),
    (
        "None value",
        lambda: ml.log_metric("m", None),
        ml.InvalidInput,
        "value must be a number, got NoneType",
    ),  # type: ignore[arg-type]
    (
        "list value",
        lambda: ml.log_metric("m", [1.0]),
        ml.InvalidInput,
        "value must be a number, got list",
    ),  # type: ignore[arg-type]
    (
        "complex value",
        lambda: ml.log_metric("m", 1j),
        ml.InvalidInput,
        "value must be a number, got complex",
    ),  # type: ignore[arg-type]
    (
        "huge int value",
        lambda: ml.log_metric("m", 10**400),
        ml.InvalidInput,
        "value must be a number, got int",
    ),
    (
        "float step",
        lambda: ml.log_metric("m", 1.0, step=1.0),
        ml.InvalidInput,
        "metric 'm' step must be an integer, got float 1.0",
    ),  # type: ignore[arg-type]
    (
        "nan step",
        lambda: ml.log_metric("m", 1.0, step=math.nan),
        ml.InvalidInput,
        "step must be an integer, got float nan",
    ),  # type: ignore[arg-type]
    (
        "inf step",
        lambda: ml.log_metric("m", 1.0, step=math.inf),
        ml.InvalidInput,
        "step must be an integer, got float inf",
    ),  # type: ignore[arg-type]
    (
        "bool step",
        lambda: ml.log_metric("m", 1.0, step=True),
        ml.InvalidInput,
        "step must be an integer, got bool True",
    ),
    (
        "str step",
        lambda: ml.log_metric("m", 1.0, step="3"),
        ml.InvalidInput,
        "step must be an integer, got str",
    ),  # type: ignore[arg-type]
    (
        "step too big",
        lambda: ml.log_metric("m", 1.0, step=2**63),
        ml.InvalidInput,
        "outside the int64 range",
    ),
    (
        "step too small",
        lambda: ml.log_metric("m", 1.0, step=-(2**63) - 1),
        ml.InvalidInput,
        "outside the int64 range",
    ),
    (
        "param long key",
        lambda: ml.log_param(LONG_KEY, 1),
        ml.InvalidInput,
        "param key is 251 characters long",
    ),
    (
        "param int key",
        lambda: ml.log_params({1: 1}),
        ml.InvalidInput,
        "param key must be a string, got int 1",
    ),  # type: ignore[dict-item]
    (
        "param conflict",
        lambda: ml.log_params({"new": 1, "lr": 0.5}),
        ml.ParamConflict,
        "param 'lr'",
    ),
    (
        "param bad value",
        lambda: ml.log_param("x", b"bytes"),
        ml.InvalidInput,
        "type bytes that is not JSON-serialisable",
    ),
    (
        "tag long key",
        lambda: ml.log_tag(LONG_KEY, "v"),
        ml.InvalidInput,
        "tag key is 251 characters long",
    ),
    (
        "tag bad value",
        lambda: ml.log_tags({"ok": "1", "bad": None}),
        ml.InvalidInput,
        "tag 'bad' value must be",
    ),
    ("empty name", lambda: ml.set_name(""), ml.InvalidInput, "run name must not be empty"),
    ("name type", lambda: ml.set_name(3), ml.InvalidInput, "run name must be a string, got int"),  # type: ignore[arg-type]
    (
        "dataset role",
        lambda: ml.log_dataset(role=""),
        ml.InvalidInput,
        "dataset role must not be empty",
    ),
    (
        "end status",
        lambda: ml.end_run(status="finished"),
        ml.InvalidInput,
        "status 'finished' is not one of: completed, failed, killed, crashed",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [c[1:] for c in BAD_METRIC_CALLS],
    ids=[c[0] for c in BAD_METRIC_CALLS],
)
def test_bad_logging_input_raises_a_precise_error_and_changes_nothing(
    store: ml.Store, call: Callable[[], None], error: type[Exception], message: str
) -> None:
    with ml.run(name="r", tags={"t": "1"}) as run:
        ml.log_params({"lr": 0.1})
        ml.log_metric("m", 1.0)
        ml.log_metric("m", 2.0)
        before = snapshot(run.id)
        with pytest.raises(error) as info:
            call()
        assert message in str(info.value)
        assert snapshot(run.id) == before
        ml.log_metric("m", 3.0)  # the run keeps working
    assert ml.metric_history(run.id, "m")[-1]["step"] == 2


@pytest.mark.parametrize(
    "call",
    [
        lambda: ml.log_metric("m", 1.0),
        lambda: ml.log_metrics({"m": 1.0}),
        lambda: ml.log_param("p", 1),
        lambda: ml.log_params({"p": 1}),
        lambda: ml.log_tag("t", "v"),
        lambda: ml.log_tags({"t": "v"}),
        lambda: ml.set_name("n"),
        lambda: ml.log_dataset(n_rows=1),
        ml.current_run,
        ml.end_run,
    ],
)
def test_logging_outside_a_run_raises_no_active_run_naming_the_fix(
    store: ml.Store, call: Callable[[], object]
) -> None:
    with pytest.raises(ml.NoActiveRun) as info:
        call()
    assert "needs an active run" in str(info.value)
    assert "with ml.run(" in str(info.value)
    assert ml.runs() == []


@pytest.mark.parametrize(
    "call",
    [
        ml.get_run,
        lambda rid: ml.metric_history(rid, "m"),
        lambda rid: ml.add_tag(rid, "k", "v"),
        lambda rid: ml.remove_tag(rid, "k"),
        ml.get_tags,
        lambda rid: ml.set_note(rid, "x"),
        ml.get_datasets,
        lambda rid: ml.compare_runs([rid]),
        lambda rid: ml.runs(parent_run_id=rid),
    ],
)
@pytest.mark.parametrize("bad_id", ["", "abc", "G" * 32, "a" * 33, " " + "a" * 31, 123])
def test_malformed_run_ids_are_invalid_input(
    store: ml.Store, call: Callable[[object], object], bad_id: object
) -> None:
    with pytest.raises(ml.InvalidInput, match="run id"):
        call(bad_id)


@pytest.mark.parametrize(
    "call",
    [
        lambda rid: ml.metric_history(rid, "m"),
        lambda rid: ml.add_tag(rid, "k", "v"),
        lambda rid: ml.remove_tag(rid, "k"),
        ml.get_tags,
        lambda rid: ml.set_note(rid, "x"),
        ml.get_datasets,
        lambda rid: ml.compare_runs([rid]),
    ],
)
def test_unknown_run_ids_are_not_found_and_create_nothing(
    store: ml.Store, call: Callable[[str], object]
) -> None:
    ghost = "0123456789abcdef" * 2
    with pytest.raises(ml.NotFound) as info:
        call(ghost)
    assert ghost in str(info.value)
    assert ml.runs(include_archived=True) == []
    assert ml.search_runs(ids=[ghost], include_archived=True) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "archive"}, "status 'archive' is not one of"),
        ({"status": 1}, "status 1 is not one of"),
        ({"limit": -1}, "limit must be a non-negative integer, got -1"),
        ({"limit": 1.5}, "limit must be a non-negative integer, got 1.5"),
        ({"offset": -1}, "offset must be a non-negative integer, got -1"),
        ({"name": ""}, "name must not be empty"),
        ({"created_by": LONG_KEY}, "created_by is 251 characters long"),
        ({"tags": ["a"]}, "tags must be a dict, got list"),
        ({"tags": {"a": object()}}, "tag 'a' value must be a string, number or bool"),
    ],
)
def test_bad_query_arguments_are_invalid_input(
    store: ml.Store, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ml.InvalidInput) as info:
        ml.runs(**kwargs)
    assert message in str(info.value)


def test_bad_run_start_arguments_create_no_run(store: ml.Store) -> None:
    for kwargs, message in (
        ({"experiment": ""}, "experiment must not be empty"),
        ({"experiment": LONG_KEY}, "experiment is 251 characters long"),
        ({"name": 3}, "run name must be a string"),
        ({"created_by": ""}, "created_by must not be empty"),
        ({"tags": {"": "x"}}, "tag key must not be empty"),
        ({"parent": "nope"}, "malformed"),
    ):
        with pytest.raises(ml.InvalidInput) as info, ml.run(**kwargs):
            pass
        assert message in str(info.value)
    assert ml.runs() == []
    with pytest.raises(ml.NoActiveRun):
        ml.current_run()


def test_a_param_conflict_in_a_batch_stores_nothing_of_that_call(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_params({"a": 1, "b": [1, 2]})
        with pytest.raises(ml.ParamConflict) as info:
            ml.log_params({"c": 3, "b": [2, 1], "d": {"x": 1}})
        assert "param 'b'" in str(info.value)
        assert "[1,2]" in str(info.value)
        assert "[2,1]" in str(info.value)
    assert ml.get_run(run.id)["params"] == {"a": 1, "b": [1, 2]}


def test_validators_directly() -> None:
    assert validate.metric_value(3, "m") == 3.0
    assert validate.limit(None) is None
    with pytest.raises(ml.InvalidInput, match="offset must be"):
        validate.limit(None, "offset", allow_none=False)
    assert validate.finite_number(2, "x") == 2.0
    with pytest.raises(ml.InvalidInput, match="x must be a number, got bool"):
        validate.finite_number(True, "x")
    with pytest.raises(ml.InvalidInput, match="x must be finite, got inf"):
        validate.finite_number(math.inf, "x")
    assert validate.tag_value("t", 1.5) == "1.5"
    long_repr = validate._describe("x" * 100)
    assert len(long_repr) == 60
    assert long_repr.endswith("...")


def test_errors_carry_codes_exit_codes_and_http_statuses() -> None:
    cases = [
        (ml.InvalidInput("x"), "invalid_input", 2, 422),
        (ml.NotFound("x"), "not_found", 4, 404),
        (ml.AlreadyExists("x"), "already_exists", 5, 409),
        (ml.InUse("x"), "in_use", 5, 409),
        (ml.ParamConflict("x"), "param_conflict", 5, 409),
        (ml.NoActiveRun(), "no_active_run", 2, 400),
        (ml.StoreUnavailable("x"), "store_unavailable", 3, 503),
        (ml.ChachamlError("x"), "error", 1, 500),
    ]
    for exc, code, exit_code, http in cases:
        assert isinstance(exc, ml.ChachamlError)
        assert (exc.code, exc.exit_code, exc.http_status) == (code, exit_code, http)
        assert exc.to_dict() == {"code": code, "message": exc.message}
    assert isinstance(ml.InvalidInput("x"), ValueError)
    assert isinstance(ml.NotFound("x"), LookupError)
    flt = ml.InvalidFilter("unexpected token", position=4, text="acc >> 1")
    assert flt.position == 4
    assert str(flt) == "unexpected token (at column 5)\n  acc >> 1\n      ^"
    assert isinstance(flt, ml.InvalidInput)
    assert str(ml.InvalidFilter("plain")) == "plain"


# -- text that cannot be stored: NUL, lone surrogates, deep JSON ---------------------------------
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: validate.note("a\x00b"), "note contains a NUL character (at position 1)"),
        (lambda: validate.note("\ud800", "description"), "description contains a lone surrogate"),
        (lambda: validate.key("k\udfff"), "key contains a lone surrogate U+DFFF"),
        (lambda: validate.tag_value("t", "v\x00"), "tag 't' value contains a NUL"),
        (lambda: validate.tags({"t": "\ud83d"}), "tag 't' value contains a lone surrogate"),
        (lambda: validate.param_json("p", {"a": ["x", "\x00"]}), "param 'p'.a[1] contains a NUL"),
        (lambda: validate.param_json("p", {"k\x00": 1}), "param 'p' has a key that contains a NUL"),
        (lambda: validate.param_json("p", "\ud800"), "param 'p' contains a lone surrogate"),
        (lambda: validate.param_json("p", _nested(101)), "nested more than 100"),
        (lambda: validate.json_value({"a": "\x00"}, "env"), "env value.a contains a NUL"),
        (lambda: validate.json_value(_nested(5000), "env"), "env value"),
        (lambda: validate.error_text("trace\x00"), "error contains a NUL"),
        (lambda: validate.text(3, "dataset source"), "dataset source must be a string"),
        (lambda: validate.text("x" * 11, "source", limit=10), "source is 11 characters long"),
    ],
)
def test_unstorable_text_is_invalid_input(call: Any, message: str) -> None:
    with pytest.raises(ml.InvalidInput) as info:
        call()
    assert message in str(info.value)


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_storable_text_passes_unchanged() -> None:
    text = "line 1\n\tline 2 😀 \\u0000"
    assert validate.note(text) == text and validate.text(text, "x") == text
    assert validate.error_text(None) is None and validate.optional_text(None, "x") is None
    assert validate.param_json("p", {"e": "😀", "d": _nested(99)}).startswith('{"d":[[[')
    assert validate.tag_value("t", "a\tb") == "a\tb"
    assert validate.text_problem("fine") is None
