"""Random filter expressions over random run sets: the SQL answer equals the Python reference.

The store comes from ``STORE_FACTORIES`` (SQLite in memory today); a PostgreSQL store joins by
adding a factory there, and every example here then runs against it too.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_filters_reference import (
    STORE_FACTORIES,
    Run,
    expected_ids,
    load,
    render,
    search_ids,
)

STATUSES = ("running", "completed", "failed", "killed", "crashed")
TEXTS = ("rf", "RF", "gbm", "", "5", "1.10", "true", "a%b", "x_y", "É", "é", "it's", 'say "hi"')
PARAM_KEYS = ("lr", "model", "learning rate")
METRIC_KEYS = ("acc", "loss.min")
TAG_KEYS = ("team", "ok")
NUMBER_TEXTS = ("0", "5", "-2.5", "0.5", "0.1", "1.10", "5.0", "1e-05", "20", "0.9", "1", "2")
PATTERNS = ("%", "r%", "R%", "%b", "a\\%b", "_", "x\\_y", "%é%", "%E%", "é")
EPOCH = 1_600_000_000_000

param_values = st.one_of(
    st.integers(-3, 20),
    st.sampled_from([0.1, 0.5, -2.5, 1e-05, 1.1, 5.0, math.inf, -math.inf, math.nan]),
    st.sampled_from(TEXTS),
    st.booleans(),
    st.none(),
    st.just([1, 2]),
)
metric_points = st.lists(
    st.sampled_from([0.0, 0.5, 0.9, 1.0, -1.0, 2.0, math.nan, math.inf]), min_size=1, max_size=3
)


@st.composite
def run_sets(draw: st.DrawFn) -> list[Run]:
    runs: list[Run] = []
    for _ in range(draw(st.integers(0, 7))):
        status = draw(st.sampled_from(STATUSES))
        start = EPOCH + draw(st.integers(0, 48)) * 3_600_000
        run = Run(
            id=uuid.uuid4().hex,
            experiment=draw(st.sampled_from(("exp", "Exp", "other"))),
            name=draw(st.sampled_from((None, "alpha", "Beta", "a_b", "a%b"))),
            status=status,
            stale=draw(st.booleans()),
            start_time=start,
            end_time=None
            if status == "running"
            else start + draw(st.sampled_from((0, 1000, 60_000, 3_600_000))),
            created_by=draw(st.sampled_from(("ann", "bob"))),
            parent_run_id=draw(st.sampled_from([None, *[r.id for r in runs]])),
            params=draw(st.dictionaries(st.sampled_from(PARAM_KEYS), param_values, max_size=3)),
            metrics=draw(st.dictionaries(st.sampled_from(METRIC_KEYS), metric_points, max_size=2)),
            tags=draw(
                st.dictionaries(
                    st.sampled_from(TAG_KEYS),
                    st.sampled_from(("a", "A", "true", "false", "10", "9", "x y", "é")),
                    max_size=2,
                )
            ),
        )
        runs.append(run)
    return runs


def _text_literals() -> st.SearchStrategy[tuple[str, Any]]:
    return st.one_of(
        st.tuples(st.just("str"), st.sampled_from(TEXTS)),
        st.tuples(st.just("num"), st.sampled_from(NUMBER_TEXTS)),
        st.tuples(st.just("bool"), st.booleans()),
    )


def _ops(kinds: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from(kinds)


ORDER_OPS = ("=", "!=", "<", "<=", ">", ">=")
EQ_OPS = ("=", "!=")
LIKE_OPS = ("like", "ilike", "not like", "not ilike")
NULL_OPS = ("is null", "is not null")


@st.composite
def comparisons(draw: st.DrawFn) -> tuple[Any, ...]:
    family = draw(
        st.sampled_from(("text_attr", "status", "time", "duration", "param", "metric", "tag"))
    )
    if family == "metric":
        f: tuple[Any, ...] = (
            "metric",
            draw(st.sampled_from(METRIC_KEYS)),
            draw(st.sampled_from(("last", "min", "max", "first", "count"))),
        )
        lits = st.tuples(st.just("num"), st.sampled_from(NUMBER_TEXTS))
        op = draw(st.sampled_from((*ORDER_OPS, "in", "not in", *NULL_OPS)))
    elif family == "time":
        f = ("attr", draw(st.sampled_from(("start_time", "end_time"))))
        lits = st.one_of(
            st.tuples(st.just("num"), st.integers(0, 48).map(lambda h: str(EPOCH + h * 3_600_000))),
            st.tuples(
                st.just("str"),
                st.sampled_from(
                    ("2020-09-13", "2020-09-14T12:26:40Z", "2020-09-13T12:26:40", "2020-09-14")
                ),
            ),
        )
        op = draw(st.sampled_from((*ORDER_OPS, "in", "not in", *NULL_OPS)))
    elif family == "duration":
        f = ("attr", "duration")
        lits = st.one_of(
            st.tuples(
                st.just("dur"), st.sampled_from(("0s", "1s", "1m", "60m", "1h", "1.5h", "1000ms"))
            ),
            st.tuples(st.just("num"), st.sampled_from(("0", "1000", "60000"))),
        )
        op = draw(st.sampled_from((*ORDER_OPS, "in", "not in", *NULL_OPS)))
    elif family == "status":
        f = ("attr", "status")
        lits = st.tuples(st.just("str"), st.sampled_from(STATUSES))
        op = draw(st.sampled_from((*EQ_OPS, "in", "not in", "<", "like")))
        if op == "like":
            return ("cmp", f, op, [("str", draw(st.sampled_from(("r%", "%ed", "c_ashed"))))])
    else:
        if family == "text_attr":
            f = (
                "attr",
                draw(st.sampled_from(("name", "experiment", "created_by", "parent_run_id", "id"))),
            )
        elif family == "param":
            f = ("param", draw(st.sampled_from(PARAM_KEYS)))
        else:
            f = ("tag", draw(st.sampled_from(TAG_KEYS)))
        op = draw(st.sampled_from((*ORDER_OPS, "in", "not in", *LIKE_OPS, *NULL_OPS)))
        if op in LIKE_OPS:
            return ("cmp", f, op, [("str", draw(st.sampled_from(PATTERNS)))])
        lits = _text_literals()
        if op in ORDER_OPS[2:]:
            lits = st.one_of(
                st.tuples(st.just("str"), st.sampled_from(TEXTS)),
                st.tuples(st.just("num"), st.sampled_from(NUMBER_TEXTS)),
            )
    if op in NULL_OPS:
        return ("cmp", f, op, [])
    if op in ("in", "not in"):
        return ("cmp", f, op, draw(st.lists(lits, min_size=1, max_size=3)))
    return ("cmp", f, op, [draw(lits)])


expressions = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.just("and"), inner, inner),
        st.tuples(st.just("or"), inner, inner),
    ),
    max_leaves=6,
)


@pytest.mark.parametrize("backend", sorted(STORE_FACTORIES))
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(runs=run_sets(), exprs=st.lists(expressions, min_size=1, max_size=4), data=st.data())
def test_sql_matches_the_reference_evaluator(
    backend: str, runs: list[Run], exprs: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    with STORE_FACTORIES[backend]() as store:
        load(store, runs)
        for expr in exprs:
            text = render(expr)
            assert search_ids(store, text) == expected_ids(expr, runs), text
            extra = render(expr, parens=lambda: data.draw(st.integers(0, 4)) == 0)
            assert search_ids(store, extra) == expected_ids(expr, runs), extra
