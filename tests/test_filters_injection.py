"""Hostile filter input: nothing changes the query's meaning, raises a database error or harms
the tables. Values and keys travel as bound parameters; oversized input is refused cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chachaml as ml
from chachaml import filters
from chachaml.errors import InvalidFilter
from chachaml.store import sqlfilter
from test_filters_reference import Run, expected_ids, load, render, search_ids

HOSTILE = [
    "'; DROP TABLE runs; --",
    "' OR '1'='1",
    '" OR "1"="1',
    "x' OR 1=1 --",
    "/* comment */",
    "*/ OR 1=1 /*",
    "-- trailing",
    "; SELECT * FROM params;",
    "%",
    "_",
    "?",
    "%s",
    "$1",
    ":name",
    "\\",
    "\\'",
    "'",
    '"',
    "''",
    "Robert'); DELETE FROM metric_series; --",
    "é中文🙂",
    "\u202eevil",
    "\ufeffbom",
    "a\tb\nc",
    "x" * 2000,
]

RUNS = [
    Run(
        "a" * 32,
        name=HOSTILE[0],
        params={"model": HOSTILE[1], HOSTILE[4]: 1},
        metrics={"acc": [0.5]},
        tags={"note": HOSTILE[2], HOSTILE[0]: "v"},
    ),
    Run(
        "b" * 32,
        name="plain",
        params={"model": "rf"},
        metrics={HOSTILE[5]: [1.0]},
        tags={"note": "%"},
    ),
    Run("c" * 32, name="é中文🙂", params={"model": "?"}, tags={"note": "\\"}),
]


@pytest.fixture(scope="module")
def st_() -> Iterator[ml.Store]:
    store = ml.open_store("sqlite:///:memory:")
    load(store, RUNS)
    yield store
    store.close()


def _full(store: ml.Store) -> list[dict[str, Any]]:
    return [ml.get_run(r.id, store=store) or {} for r in RUNS]


def _snapshot(store: ml.Store) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in run.items() if k not in ("metrics",)}
        | {"metric_keys": sorted(run["metrics"])}
        for run in _full(store)
    ]


def _fields(value: str) -> list[tuple[Any, ...]]:
    return [
        ("attr", "name"),
        ("attr", "experiment"),
        ("param", "model"),
        ("param", value),
        ("tag", "note"),
        ("tag", value),
        ("metric", value, "last"),
    ]


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_and_keys_are_only_data(st_: ml.Store, value: str) -> None:
    before = _snapshot(st_)
    for f in _fields(value):
        ops: list[tuple[str, list[tuple[str, Any]]]] = [("is null", []), ("is not null", [])]
        if f[0] != "metric":
            text_lit = ("str", value)
            ops += [
                ("=", [text_lit]),
                ("!=", [text_lit]),
                ("<", [text_lit]),
                ("like", [text_lit]),
                ("ilike", [text_lit]),
                ("in", [text_lit, ("str", "x")]),
                ("not in", [text_lit]),
            ]
        for op, lits in ops:
            expr = ("cmp", f, op, lits)
            text = render(expr)
            assert search_ids(st_, text) == expected_ids(expr, RUNS), text
            negated = ("not", expr)
            assert search_ids(st_, render(negated)) == expected_ids(negated, RUNS), text
    assert _snapshot(st_) == before


@pytest.mark.parametrize(
    "text",
    [
        "name = 'x'; DROP TABLE runs",
        "name = 'x' -- comment",
        "name = 'x' /* c */",
        "name = 'x' OR 1=1",
        "1 = 1",
        "name = x'00'",
        "name = 'x' UNION SELECT * FROM runs",
        "name = 'x') OR (1=1",
        "name = `x`",
        "name = $1",
        "name = :x",
        "name = ?",
        "name = %s",
        "name = 'a'\x00'",
        "name = '\udc80'",
        "name = 'x'\x1b",
        "params.x = 'y' \\",
        "r.id = 'x'",
        "name COLLATE NOCASE = 'x'",
        "name = 'x' order by (SELECT 1)",
        "name = 'x' order by name; DROP TABLE runs",
        "name = 'x' limit 1",
    ],
)
def test_sql_syntax_in_the_expression_is_refused(st_: ml.Store, text: str) -> None:
    before = _snapshot(st_)
    with pytest.raises(InvalidFilter) as info:
        ml.search_runs(text, store=st_)
    assert info.value.position is not None
    assert 0 <= info.value.position <= len(text)
    assert _snapshot(st_) == before


def test_oversized_input_is_refused_before_parsing() -> None:
    text = "name = 'x' or " * 1000 + "name = 'y'"
    assert len(text) > 10_000
    with pytest.raises(InvalidFilter, match="limit is 10000") as info:
        filters.parse(text)
    assert info.value.position == 10_000
    assert len(info.value.message) < 200


def test_a_huge_string_literal_within_the_limit_works(st_: ml.Store) -> None:
    value = "'" * 4000
    assert search_ids(st_, "name = " + "'" + value.replace("'", "''") + "'") == set()


def test_too_deep_nesting_is_refused() -> None:
    with pytest.raises(InvalidFilter, match="deeper than 32") as info:
        filters.parse("(" * 40 + "name = 'x'" + ")" * 40)
    assert info.value.position == 32
    with pytest.raises(InvalidFilter, match="deeper than 32"):
        filters.parse("not " * 33 + "name = 'x'")


def test_too_many_comparisons_are_refused() -> None:
    with pytest.raises(InvalidFilter, match="more than 250 comparisons"):
        filters.parse(" or ".join(["id = 'x'"] * 251))


def _worst_nesting(depth: int) -> tuple[Any, ...]:
    """Alternating and/or/not nested ``depth`` levels, the deep branch on the right."""
    leaf: tuple[Any, ...] = ("cmp", ("param", "model"), "<", [("num", "5")])
    node = leaf
    for level in range(depth):
        kind = "and" if level % 2 else "or"
        node = (
            "not",
            (kind, ("cmp", ("param", "model"), "in", [("num", "1"), ("str", "x")]), node),
        )
    return node


def test_the_deepest_accepted_expression_runs_without_database_error(st_: ml.Store) -> None:
    expr = _worst_nesting(16)  # each level is a `not (...)`: 32 levels of nesting
    text = render(expr)
    assert text.count("(") >= 16
    assert search_ids(st_, text) == expected_ids(expr, RUNS)
    alternating = "params.model < 5"
    for level in range(32):  # 32 nested groups, alternating or/and, deep branch on the right
        joiner = "and" if level % 2 else "or"
        alternating = f"(params.model in (1, 'x') {joiner} {alternating})"
    assert ml.search_runs(alternating, experiment="exp", order_by="metrics.acc", store=st_) == []
    wide = " or ".join(
        f"params.model in ({i}, 'x{i}') and tags.note like '%{i}'" for i in range(125)
    )
    assert len(sqlfilter.compile_where(wide, dialect="sqlite", stale_before=0)[1]) > 500
    assert search_ids(st_, wide) == set()
    long_in = "params.model in (" + ",".join(["1"] * 4900) + ")"  # ~9,800 bound values
    assert len(long_in) < 10_000
    assert search_ids(st_, long_in) == set()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=80))
def test_arbitrary_text_either_parses_and_runs_or_raises_invalid_filter(
    st_: ml.Store, text: str
) -> None:
    position = None
    try:
        ml.search_runs(text, limit=None, store=st_)
    except InvalidFilter as exc:
        position = exc.position
    assert position is None or 0 <= position <= len(text)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30))
def test_any_printable_string_literal_is_matched_exactly(st_: ml.Store, value: str) -> None:
    for f in (("attr", "name"), ("param", "model"), ("tag", "note"), ("param", value or "k")):
        expr = ("cmp", f, "=", [("str", value)])
        assert search_ids(st_, render(expr)) == expected_ids(expr, RUNS)
