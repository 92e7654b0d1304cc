"""Listings sorted by a metric: the index-driven page equals a pure-Python reference sort.

``sqlquery.list_summaries`` reads a metric-sorted page by walking the metric's index over at
least ``MIN_WALK`` series and falls back to the one-statement sort when the walk cannot prove the
page. The property test shrinks ``MIN_WALK`` so small random stores take every path (page proven
by the walk, walk exhausted then runs without the metric, fallback), on SQLite and PostgreSQL.

Reference semantics, written out from docs/filters.md and the listing contract: the sort value is
the metric's latest value (or min / max / first / count of its points); NaN counts as missing;
runs without a value come after every run with one in both directions; ties, and the runs
without a value, go newest first (start time, then the later-created run).
"""

from __future__ import annotations

import math
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chachaml as ml
from chachaml import query
from chachaml.store import sqlquery
from test_filters_property import expressions
from test_filters_reference import STORE_FACTORIES, Run, expected_ids, load, render

AGGREGATES = ("last", "min", "max", "first", "count")
METRIC_KEYS = ("acc", "loss")
VALUES = (0.0, 0.5, 0.5, 1.0, -1.0, math.nan, math.inf, -math.inf)
EPOCH = 1_600_000_000_000
N = 3000  # runs in the big store: more than MIN_WALK


def aggregate(points: Sequence[float] | None, agg: str) -> float | None:
    """The stored sort value (``None``: missing, which is also what NaN becomes)."""
    if not points:
        return None
    finite = [v for v in points if not math.isnan(v)]
    value: float | None = {
        "last": points[-1],
        "first": points[0],
        "count": float(len(points)),
        "min": min(finite) if finite else None,
        "max": max(finite) if finite else None,
    }[agg]
    return None if value is None or math.isnan(value) else value


def field_name(key: str, agg: str) -> str:
    return f"metrics.{key}" if agg == "last" else f"metrics.{key}.{agg}"


def reference_order(
    runs: Sequence[Run], keep: set[str], order: Sequence[tuple[str, str, bool]]
) -> list[str]:
    """Ids of the ``keep`` runs sorted by ``order`` ((key, aggregate, descending) triples)."""
    position = {run.id: i for i, run in enumerate(runs)}

    def sort_key(run: Run) -> tuple[Any, ...]:
        out: list[Any] = []
        for key, agg, descending in order:
            value = aggregate(run.metrics.get(key), agg)
            out += [value is None, 0.0 if value is None else (-value if descending else value)]
        return (*out, -run.start_time, -position[run.id])

    return [run.id for run in sorted((r for r in runs if r.id in keep), key=sort_key)]


MAX_RUNS = 12


@st.composite
def stores(draw: st.DrawFn) -> list[Run]:
    runs: list[Run] = []
    for _ in range(draw(st.integers(0, MAX_RUNS))):
        start = EPOCH + draw(st.integers(0, 4)) * 1000  # few distinct times: many ties
        status = draw(st.sampled_from(("completed", "failed", "running")))
        runs.append(
            Run(
                id=uuid.uuid4().hex,
                experiment=draw(st.sampled_from(("exp", "other"))),
                status=status,
                stale=draw(st.booleans()),
                start_time=start,
                end_time=None if status == "running" else start + draw(st.integers(0, 3)) * 1000,
                parent_run_id=draw(st.sampled_from([None, *[r.id for r in runs[:2]]])),
                metrics=draw(
                    st.dictionaries(
                        st.sampled_from(METRIC_KEYS),
                        st.lists(st.sampled_from(VALUES), min_size=1, max_size=3),
                        max_size=2,
                    )
                ),
                tags=draw(st.dictionaries(st.just("team"), st.sampled_from(("a", "b")))),
            )
        )
    return runs


order_keys = st.tuples(st.sampled_from(METRIC_KEYS), st.sampled_from(AGGREGATES), st.booleans())


@pytest.mark.parametrize("backend", sorted(STORE_FACTORIES))
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(runs=stores(), data=st.data())
def test_metric_sorted_pages_match_the_reference(
    backend: str, runs: list[Run], data: st.DataObject, monkeypatch: pytest.MonkeyPatch
) -> None:
    with STORE_FACTORIES[backend]() as store:
        load(store, runs)
        cutoff = EPOCH + data.draw(st.integers(0, 8)) * 1000
        store.meta.archive_runs(cutoff, None)
        archived = {
            r.id
            for r in runs
            if r.status != "running" and (r.end_time or r.start_time) < cutoff  # never None
        }
        for _ in range(4):
            monkeypatch.setattr(sqlquery, "MIN_WALK", data.draw(st.sampled_from((1, 2, 3, 5))))
            order = data.draw(st.lists(order_keys, min_size=1, max_size=2))
            expr = data.draw(st.none() | expressions)
            include_archived = data.draw(st.booleans())
            experiment = data.draw(st.sampled_from((None, "exp")))
            keep = {
                r.id
                for r in runs
                if (include_archived or r.id not in archived)
                and (experiment is None or r.experiment == experiment)
            }
            if expr is not None:
                keep &= expected_ids(expr, runs)
            expected = reference_order(runs, keep, order)
            limit = data.draw(st.sampled_from((1, 2, 3, 5, 50, None)))
            # Bounded by the store size, not by len(expected): a draw's bounds must not depend
            # on what the test computed (hypothesis replays draws), and offsets past the end of
            # the listing are part of what is checked.
            offset = data.draw(st.integers(0, MAX_RUNS + 1))
            run_query = query.build_query(
                filter=None if expr is None else render(expr),
                order_by=[f"{field_name(k, a)} {'desc' if d else 'asc'}" for k, a, d in order],
                limit=limit,
                offset=offset,
                include_archived=include_archived,
                experiment=experiment,
            )
            page = [r["id"] for r in store.meta.list_runs(run_query)]
            end = None if limit is None else offset + limit
            assert page == expected[offset:end], (run_query, expected)


# -- shape of the plan and cost on a store too big for a full sort to go unnoticed ------------


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ml.Store, Path]]:
    """N runs, ``acc`` on all but every 10th, a tag on every 3rd."""
    path = tmp_path_factory.mktemp("sortshape") / "store.db"
    store = ml.open_store(str(path), artifacts=str(path.parent / "art"))
    runs = [
        Run(
            id=f"{i:032x}",
            start_time=EPOCH + i,
            metrics={} if i % 10 == 0 else {"acc": [((i * 7919) % N) / N]},
            tags={"team": "a" if i % 3 == 0 else "b"},
        )
        for i in range(N)
    ]
    load(store, runs)
    yield store, path
    store.close()


def test_a_metric_sorted_page_walks_the_metric_index(big_store: tuple[ml.Store, Path]) -> None:
    store, path = big_store
    run_query = query.build_query(order_by="metrics.acc desc", limit=50)
    split = sqlquery.metric_split(run_query, dialect="sqlite", walk=sqlquery.MIN_WALK)
    assert split is not None
    with sqlite3.connect(str(path)) as db:
        (edge,) = db.execute(*split.boundary).fetchone()
        sql, params = split.head(edge)
        plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params)]
    assert any("metric_series_by_last" in step for step in plan), plan
    assert not any("CORRELATED SCALAR SUBQUERY" in step for step in plan), plan
    assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan  # only ties get sorted
    page = store.meta.list_runs(run_query)
    # acc = ((i * 7919) % N) / N over runs with i % 10 != 0: the best values, worked out
    # directly (7919 is prime to N, so each value appears once).
    best = sorted((((i * 7919) % N) / N, i) for i in range(N) if i % 10 != 0)[::-1][:50]
    assert [r["id"] for r in page] == [f"{i:032x}" for _, i in best]


def test_runs_without_the_metric_follow_in_both_directions(
    big_store: tuple[ml.Store, Path],
) -> None:
    store, _ = big_store
    with_value = N - N // 10
    for direction in ("desc", "asc"):
        page = store.meta.list_runs(
            query.build_query(order_by=f"metrics.acc {direction}", limit=4, offset=with_value - 2)
        )
        ids = [int(r["id"], 16) for r in page]
        assert [i % 10 == 0 for i in ids] == [False, False, True, True]
        assert ids[2:] == [N - 10, N - 20]  # newest first among runs without the metric


def test_a_filter_the_walk_cannot_fill_falls_back_to_the_full_sort(
    big_store: tuple[ml.Store, Path],
) -> None:
    store, _ = big_store
    # One run in 3,000 matches: the 2,000-series walk proves nothing, the full sort answers.
    page = store.meta.list_runs(
        query.build_query(filter="id = '" + f"{1234:032x}" + "'", order_by="metrics.acc")
    )
    assert [r["id"] for r in page] == [f"{1234:032x}"]
    teams = store.meta.list_runs(
        query.build_query(tags={"team": "a"}, order_by="metrics.acc asc", limit=3)
    )
    expected = sorted((((i * 7919) % N) / N, -i) for i in range(0, N, 3) if i % 10 != 0)[:3]
    assert [r["id"] for r in teams] == [f"{-i:032x}" for _, i in expected]


@pytest.mark.parametrize("backend", sorted(STORE_FACTORIES))
@pytest.mark.parametrize("descending", [False, True])
def test_a_tie_at_the_end_of_the_walk_is_not_trusted(
    backend: str, descending: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Six runs share acc = 0.5 and one has acc = 2.0. A short walk sees only some of the tied
    # series (SQLite walks ties in creation order, backwards for desc), and the newest tied run,
    # which sorts first among them, is created where that walk misses it: the page must not be
    # taken from the walk.
    monkeypatch.setattr(sqlquery, "MIN_WALK", 1)
    starts = [5, 1, 4, 2, 0, 3] if descending else [3, 1, 4, 2, 0, 5]
    tied = [
        Run(id=uuid.uuid4().hex, start_time=EPOCH + s * 1000, metrics={"acc": [0.5]})
        for s in starts
    ]
    best = Run(id=uuid.uuid4().hex, start_time=EPOCH, metrics={"acc": [2.0]})
    newest_first = [tied[starts.index(s)].id for s in (5, 4, 3, 2, 1, 0)]
    expected = [best.id, *newest_first] if descending else [*newest_first, best.id]
    order = "metrics.acc desc" if descending else "metrics.acc asc"
    with STORE_FACTORIES[backend]() as store:
        load(store, [*tied, best])
        for offset, limit in ((0, 1), (1, 2), (0, 3), (2, 4)):
            page = store.meta.list_runs(
                query.build_query(order_by=order, limit=limit, offset=offset)
            )
            assert [r["id"] for r in page] == expected[offset : offset + limit], (offset, limit)
