"""Property-based round trips at the storage boundary (hypothesis)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chachaml as ml

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Keys: any printable unicode (no control characters), 1..250 characters.
keys = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=250)
# Storable text: anything but NUL and lone surrogates (both refused with InvalidInput, see
# tests/server/test_hardening.py), which no backend can store alike.
storable = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=50
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | storable
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(storable, inner, max_size=4),
    max_leaves=12,
)
metric_values = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -5e-324, 0.0, -0.0]
)
steps = st.integers(min_value=INT64_MIN, max_value=INT64_MAX) | st.sampled_from(
    [INT64_MIN, INT64_MAX, -1, 0, 1]
)


def same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@SETTINGS
@given(params=st.dictionaries(keys, json_values, max_size=8))
def test_params_round_trip(params: dict[str, Any]) -> None:
    with ml.open_store("sqlite:///:memory:") as store:
        with ml.run(store=store) as run:
            ml.log_params(params)
            ml.log_params(params)  # logging the same values again is a no-op
        got = ml.get_run(run.id, store=store)
        assert got is not None
        assert got["params"] == params


@SETTINGS
@given(
    points=st.lists(st.tuples(steps, metric_values), min_size=1, max_size=40),
    flush_every=st.integers(min_value=1, max_value=41),
)
def test_metrics_round_trip_with_correct_summaries(
    points: list[tuple[int, float]], flush_every: int
) -> None:
    expected: dict[int, float] = {}
    with ml.open_store("sqlite:///:memory:") as store:
        with ml.run(store=store) as run:
            for i, (step, value) in enumerate(points):
                ml.log_metric("m", value, step=step)
                expected[step] = value  # re-logging a step replaces the point
                if (i + 1) % flush_every == 0:
                    store.flush()
        history = ml.metric_history(run.id, "m", store=store)
        assert [p["step"] for p in history] == sorted(expected)
        for p in history:
            assert same_float(p["value"], expected[p["step"]])
            assert isinstance(p["value"], float)
        stats = ml.get_run(run.id, store=store)["metric_stats"]["m"]
        ordered = [expected[s] for s in sorted(expected)]
        real = [v for v in ordered if not math.isnan(v)]
        assert stats["count"] == len(expected)
        assert stats["last_step"] == max(expected)
        assert same_float(stats["last"], ordered[-1])
        assert same_float(stats["first"], ordered[0])
        assert stats["min"] == (min(real) if real else None)
        assert stats["max"] == (max(real) if real else None)


@SETTINGS
@given(values=st.lists(metric_values, min_size=1, max_size=30))
def test_auto_stepped_metrics_round_trip_in_order(values: list[float]) -> None:
    with ml.open_store("sqlite:///:memory:") as store:
        with ml.run(store=store) as run:
            for v in values:
                ml.log_metric("m", v)
        history = ml.metric_history(run.id, "m", store=store)
        assert [p["step"] for p in history] == list(range(len(values)))
        assert all(same_float(p["value"], v) for p, v in zip(history, values, strict=False))


tag_values = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=100,
    )
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
)


def tag_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return repr(value)


@SETTINGS
@given(
    inline=st.dictionaries(keys, tag_values, max_size=5),
    later=st.dictionaries(keys, tag_values, max_size=5),
)
def test_tags_round_trip_and_later_tags_win(inline: dict[str, Any], later: dict[str, Any]) -> None:
    with ml.open_store("sqlite:///:memory:") as store:
        with ml.run(store=store, tags=inline) as run:
            ml.log_tags(later)
        expected = {k: tag_text(v) for k, v in {**inline, **later}.items()}
        assert ml.get_tags(run.id, store=store) == expected
        assert ml.runs(store=store)[0]["tags"] == expected


@SETTINGS
@given(
    value=st.one_of(
        st.none(),
        st.text(),
        st.binary(),
        st.lists(st.integers()),
        st.complex_numbers(),
        st.booleans(),
        st.integers(),
        st.floats(),
    )
)
def test_any_metric_value_is_either_stored_as_a_float_or_invalid_input(value: object) -> None:
    with ml.open_store("sqlite:///:memory:") as store:
        with ml.run(store=store) as run:
            try:
                ml.log_metric("m", value)  # type: ignore[arg-type]
            except ml.InvalidInput:
                accepted = False
            else:
                accepted = True
        history = ml.metric_history(run.id, "m", store=store)
        assert len(history) == int(accepted)
        if accepted:
            assert same_float(history[0]["value"], float(value))  # type: ignore[arg-type]
