"""Filter expressions: parser, every operator on a fixed run set, precedence, errors, order by."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

import chachaml as ml
from chachaml import filters
from chachaml.errors import InvalidFilter, InvalidInput
from chachaml.filters.nodes import And, Compare, Field, Filter, Not, Or, OrderKey, Value
from chachaml.store import sqlfilter, sqlquery
from test_filters_reference import Run, load, search_ids

H = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z

RUNS = [
    Run(
        "a" * 32,
        "iris",
        "rf-1",
        "completed",
        start_time=T0,
        end_time=T0 + 60_000,
        params={
            "model": "rf",
            "depth": 5,
            "lr": 0.1,
            "learning rate": 0.5,
            "version": "1.10",
            "flag": True,
        },
        metrics={"acc": [0.5, 0.95], "loss": [1.0, 0.2, 0.4]},
        tags={"reviewed": "true"},
    ),
    Run(
        "b" * 32,
        "iris",
        "gbm-1",
        "failed",
        start_time=T0 + H,
        end_time=T0 + 3 * H,
        params={"model": "gbm", "depth": 12, "lr": "0.01", "flag": False},
        metrics={"acc": [0.85], "loss": [math.nan]},
        tags={"reviewed": "false", "team": "Vision"},
        created_by="bob",
    ),
    Run(
        "c" * 32,
        "mnist",
        None,
        "running",
        stale=False,
        start_time=T0 + 2 * H,
        end_time=None,
        params={"model": "RF", "depth": None},
        metrics={"acc": [0.99, math.nan]},
        parent_run_id="a" * 32,
    ),
    Run(
        "d" * 32,
        "mnist",
        "100%_done",
        "running",
        stale=True,
        start_time=T0 + 3 * H,
        end_time=None,
        tags={"team": "vision"},
    ),
]
A, B, C, D = (r.id for r in RUNS)


@pytest.fixture(scope="module")
def st() -> Iterator[ml.Store]:
    store = ml.open_store("sqlite:///:memory:")
    load(store, RUNS)
    yield store
    store.close()


# -- operators (each row: expression, expected runs) -----------------------------------------
CASES = [
    # attributes
    ("status = 'completed'", {A}),
    ("status = 'running'", {C}),
    ("status = 'crashed'", {D}),  # stale heartbeat
    ("status != 'running'", {A, B, D}),
    ("status in ('failed', 'crashed')", {B, D}),
    ("status not in ('failed', 'crashed')", {A, C}),
    ("status like 'c%'", {A, D}),
    ("experiment = 'iris'", {A, B}),
    ("experiment == 'iris'", {A, B}),
    ("experiment <> 'iris'", {C, D}),
    ("experiment > 'iris'", {C, D}),
    ("experiment >= 'mnist'", {C, D}),
    ("experiment < 'mnist'", {A, B}),
    ("experiment <= 'iris'", {A, B}),
    ("name = 'rf-1'", {A}),
    ("name != 'rf-1'", {B, D}),  # a missing name is never compared true
    ("name is null", {C}),
    ("name is not null", {A, B, D}),
    ("name like 'rf%'", {A}),
    ("name like 'RF%'", set()),
    ("name ilike 'RF%'", {A}),
    ("name like '100\\%\\_done'", {D}),
    ("name like '___-_'", {B}),
    ("name like '__-_'", {A}),
    ("name not like 'rf%'", {B, D}),
    ("name not ilike 'GBM%'", {A, D}),
    ("created_by = 'bob'", {B}),
    ("id = '" + "b" * 32 + "'", {B}),
    ("id in ('" + A + "', '" + C + "')", {A, C}),
    ("parent_run_id = '" + A + "'", {C}),
    ("parent_run_id is null", {A, B, D}),
    ("start_time >= '2024-01-01T01:00:00Z'", {B, C, D}),
    ("start_time < '2024-01-01T02:00'", {A, B}),
    (f"start_time = {T0}", {A}),
    ("start_time > '2024-01-01'", {B, C, D}),
    ("end_time is null", {C, D}),
    ("end_time > 0", {A, B}),
    ("duration > 5m", {B}),
    ("duration <= 60s", {A}),
    ("duration = 60000", {A}),
    ("duration >= 1.5h", {B}),
    ("duration < 1d", {A, B}),
    ("duration is null", {C, D}),
    # metrics (latest value; NaN never compares true)
    ("metrics.acc > 0.9", {A}),
    ("metrics.acc >= 0.85", {A, B}),
    ("metrics.acc < 0.9", {B}),
    ("metrics.acc <= 0.85", {B}),
    ("metrics.acc = 0.95", {A}),
    ("metrics.acc != 0.95", {B}),
    ("metrics.acc in (0.85, 0.95)", {A, B}),
    ("metrics.acc not in (0.85)", {A}),
    ("metrics.acc is null", {D}),
    ("metrics.acc is not null", {A, B, C}),
    ("metrics.loss != 0", {A}),
    ("metrics.loss is not null and not metrics.loss >= 0 and not metrics.loss < 0", {B}),
    ("metrics.loss.min < 0.3", {A}),
    ("metrics.loss.max = 1", {A}),
    ("metrics.loss.first = 1.0", {A}),
    ("metrics.loss.count = 3", {A}),
    ("metrics.acc.count >= 2", {A, C}),
    ("metrics.acc.max > 0.98", {C}),
    ("metrics.acc.last < 1", {A, B}),
    # params: numbers numerically, otherwise as text
    ("params.model = 'rf'", {A}),
    ('params.model = "rf"', {A}),
    ("params.model != 'rf'", {B, C}),
    ("params.model in ('rf', 'gbm')", {A, B}),
    ("params.model not in ('rf', 'gbm')", {C}),
    ("params.model like 'r%'", {A}),
    ("params.model ilike 'r%'", {A, C}),
    ("params.model > 'gbm'", {A}),
    ("params.depth >= 5", {A, B}),
    ("params.depth > 10", {B}),
    ("params.depth = 5.0", {A}),
    ("params.depth < 6", {A}),
    ("params.depth <= 12", {A, B}),
    ("params.depth = '5'", {A}),
    ("params.depth is null", {C, D}),  # logged as None counts as missing
    ("params.depth is not null", {A, B}),
    ("params.lr = 0.1", {A}),
    ("params.lr = 0.01", {B}),  # B's lr is the string "0.01": text, the number as written
    ("params.lr = 0.010", set()),
    ("params.lr = '0.01'", {B}),
    ("params.lr < 0.05", {B}),  # A: 0.1 < 0.05 numerically; B: "0.01" < "0.05" as text
    ("params.lr < 0.5", {A, B}),
    ("params.version = 1.10", {A}),
    ("params.version = 1.1", set()),
    ('params."learning rate" = 0.5', {A}),
    ("params.'learning rate' > 0.1", {A}),
    ("params.flag = true", {A}),
    ("params.flag = false", {B}),
    ("params.flag != true", {B}),
    # tags: text
    ("tags.reviewed = 'true'", {A}),
    ("tags.reviewed = true", {A}),
    ("tags.reviewed != true", {B}),
    ("tags.team = 'vision'", {D}),
    ("tags.team ilike 'VISION'", {B, D}),
    ("tags.team like 'V%'", {B}),
    ("tags.team in ('Vision', 'x')", {B}),
    ("tags.team not in ('Vision')", {D}),
    ("tags.team is null", {A, C}),
    ("tags.team > 'a'", {D}),
    # boolean structure and precedence: not > and > or
    ("not status = 'completed'", {B, C, D}),
    ("not not status = 'completed'", {A}),
    ("not (metrics.acc > 0.9)", {B, C, D}),
    ("status = 'completed' or status = 'failed' and created_by = 'ann'", {A}),
    ("(status = 'completed' or status = 'failed') and created_by = 'ann'", {A}),
    ("status = 'failed' and created_by = 'bob' or name = 'rf-1'", {A, B}),
    ("not status = 'completed' and experiment = 'iris'", {B}),
    ("not (status = 'completed' and experiment = 'iris')", {B, C, D}),
    ("NOT status = 'completed' AND experiment = 'iris' OR name IS NULL", {B, C}),
    ("metrics.acc > 0.9 and (params.model = 'rf' or params.depth >= 5)", {A}),
    ("((((experiment = 'iris'))))", {A, B}),
    ("", {A, B, C, D}),
    ("order by start_time", {A, B, C, D}),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_operator_selects_the_expected_runs(st: ml.Store, text: str, expected: set[str]) -> None:
    assert search_ids(st, text) == expected


def test_every_operator_is_covered() -> None:
    texts = " ".join(c[0] for c in CASES)
    for op in (
        " = ",
        " != ",
        " < ",
        " <= ",
        " > ",
        " >= ",
        " in (",
        " not in (",
        " like ",
        " ilike ",
        " is null",
        " is not null",
        "not ",
        " and ",
        " or ",
        "(",
    ):
        assert op in texts, op


# -- the AST -----------------------------------------------------------------------------------
def test_parse_builds_a_frozen_ast_with_precedence() -> None:
    f = filters.parse(
        "a_or := 1" if False else "not tags.x = 1 and metrics.l.min < 2 or name = 'n'"
    )
    x = Compare(Field("tag", "x"), "=", (Value("number", 1, "1"),))
    lmin = Compare(Field("metric", "l", "min"), "<", (Value("number", 2, "2"),))
    n = Compare(Field("attribute", "name"), "=", (Value("string", "n", "n"),))
    assert f == Filter(Or((And((Not(x), lmin)), n)))
    with pytest.raises(AttributeError):
        f.where = None  # type: ignore[misc]


def test_dotted_and_quoted_keys() -> None:
    def field(text: str) -> Field:
        where = filters.parse(text + " is null").where
        assert isinstance(where, Compare)
        return where.field

    assert field("metrics.val.acc") == Field("metric", "val.acc")
    assert field("metrics.val.acc.max") == Field("metric", "val.acc", "max")
    assert field('metrics."loss.min"') == Field("metric", "loss.min")
    assert field("metrics.loss.min.last") == Field("metric", "loss.min")
    assert field("metrics.train/loss-x") == Field("metric", "train/loss-x")
    assert field('params."it""s"') == Field("param", 'it"s')
    assert field("params.optimizer.lr") == Field("param", "optimizer.lr")
    assert field("TAGS.Team") == Field("tag", "Team")


def test_literals_are_converted_for_their_field() -> None:
    def values(text: str) -> tuple[Value, ...]:
        where = filters.parse(text).where
        assert isinstance(where, Compare)
        return where.values

    assert values("duration > 1.5h")[0].value == 5_400_000
    assert values("duration > 250ms")[0].value == 250
    assert values("duration > 2w")[0].value == 14 * 86_400_000
    assert values("start_time > '2024-01-01'")[0].value == T0
    assert values("start_time > '2024-01-01T01:00:00+01:00'")[0].value == T0
    assert values("params.x = 99999999999999999999")[0].value == 1e20
    assert values("params.x = -.5e1")[0].value == -5.0
    assert values("params.x = 'it''s'")[0].value == "it's"


def test_compiled_sql_binds_every_literal() -> None:
    text = "name = 'x' and params.p like 'a%' and tags.t in ('?', '%s') and metrics.m > 1"
    sql, params = sqlfilter.compile_where(text, dialect="sqlite", stale_before=7)
    assert "'x'" not in sql and "?'" not in sql and "%" not in sql
    assert sql.count("?") == len(params)
    assert params == ["p", "a*", "t", "?", "%s", "m", 1, "x"] or sorted(map(str, params)) == sorted(
        map(str, ["p", "a*", "t", "?", "%s", "m", 1, "x"])
    )


def test_postgresql_dialect_compiles_without_question_marks_or_percent_in_sql() -> None:
    text = (
        "params.p like 'a%' and params.p ilike '_b' and params.q > 1 and tags.t < 'x' "
        "and status in ('running') and status = 'crashed' and name ilike '%'"
    )
    sql, params = sqlfilter.compile_where(text, dialect="postgresql", stale_before=7)
    assert "%" not in sql
    assert sql.count("?") == len(params)
    assert "jsonb" in sql and 'COLLATE "C"' in sql and "translate(" in sql
    assert 7 in params


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(InvalidInput, match="dialect"):
        sqlfilter.compile_where("name = 'x'", dialect="oracle", stale_before=0)


def test_stale_before_is_bound_per_call() -> None:
    _, first = sqlfilter.compile_where("status != 'running'", dialect="sqlite", stale_before=1)
    _, second = sqlfilter.compile_where("status != 'running'", dialect="sqlite", stale_before=2)
    assert first == [1, "running"] and second == [2, "running"]


def test_empty_condition_compiles_to_nothing() -> None:
    assert sqlfilter.compile_where("order by name", dialect="sqlite", stale_before=0) == ("", [])


# -- order by ----------------------------------------------------------------------------------
def test_order_by_pairs() -> None:
    text = "status = 'completed' order by metrics.acc desc, params.lr, tags.t asc, start_time DESC"
    assert filters.order_by(text) == [
        ("metrics.acc", True),
        ("params.lr", False),
        ("tags.t", False),
        ("start_time", True),
    ]
    assert filters.order_by("order by metrics.loss.min") == [("metrics.loss.min", False)]
    assert filters.order_by('order by metrics."loss.min"') == [("metrics.loss.min.last", False)]
    assert filters.order_by("name = 'x'") == []
    assert filters.parse("order by name desc").order == (
        OrderKey(Field("attribute", "name"), True),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("order by metrics.acc desc", [A, B, D, C]),  # C's latest is NaN: last, like missing
        ("order by metrics.acc", [B, A, D, C]),
        ("order by metrics.loss.count desc", [A, B, D, C]),
        ("order by params.depth desc", [B, A, D, C]),  # None and missing: last
        ("order by params.depth", [A, B, D, C]),
        ("order by tags.team", [B, D, C, A]),
        ("order by duration desc", [B, A, D, C]),
        ("experiment = 'iris' order by name", [B, A]),
    ],
)
def test_order_by_sorts_results(st: ml.Store, text: str, expected: list[str]) -> None:
    assert [r["id"] for r in ml.search_runs(text, limit=None, store=st)] == expected


def test_order_term_understands_aggregates_and_tags() -> None:
    sql, params = sqlquery.order_term("metrics.loss.max", True)
    assert "s.max_value" in sql and params == ["loss"]
    sql, params = sqlquery.order_term("metrics.loss.min.last", False)
    assert "s.last_value" in sql and params == ["loss.min"]
    sql, params = sqlquery.order_term("tags.t", False)
    assert "t.value" in sql and params == ["t"]
    with pytest.raises(InvalidInput):
        sqlquery.order_term("bogus", False)


# -- errors point at the offending column -------------------------------------------------------
ERRORS = [
    ("metrics.acc", 11, "expected an operator"),  # SPEC §14.9: a key with no operator
    ("metrics.acc >", 13, "expected a value"),
    ("metrics.acc > 'x'", 14, "is a number"),
    ("metrics.acc like 'x%'", 17, "needs text"),
    ("metrics.acc = true", 14, "true/false"),
    ("foo = 1", 0, "unknown field 'foo'"),
    ("Status = 'failed'", 0, "lower case"),
    ("param.lr = 1", 0, "did you mean params"),
    ("params = 1", 0, "needs a key"),
    ("params. = 1", 7, "expected a key"),
    ("params.'' = 1", 7, "must not be empty"),
    ("name = 'abc", 7, "unterminated string"),
    ('name = "abc', 7, "unterminated string"),
    ("name = 'a' and", 14, "expected a field"),
    ("name = 'a' or or name = 'b'", 14, "expected a field"),
    ("(name = 'a'", 11, "expected ')'"),
    ("name = 'a')", 10, "unmatched ')'"),
    ("name = 'a' name = 'b'", 11, "expected 'and', 'or', 'order by'"),
    ("name in 'a'", 8, "expected '('"),
    ("name in ()", 9, "expected a value"),
    ("name in ('a' 'b')", 13, "expected ',' or ')'"),
    ("name not = 'a'", 9, "expected 'in', 'like' or 'ilike'"),
    ("name is 'a'", 8, "'null' after 'is'"),
    ("name = null", 7, "is null"),
    ("name like 5", 10, "quoted pattern"),
    ("status = 'done'", 9, "not one of"),
    ("status in ('failed', 'nope')", 21, "not one of"),
    ("start_time > 'yesterday'", 13, "not a date"),
    ("start_time > 5m", 13, "only compares with duration"),
    ("duration > 5 min", 13, "expected 'and'"),
    ("duration > 5min", 12, "unknown unit"),
    ("duration > 'x'", 11, "is a number"),
    ("params.flag < true", 14, "true/false only"),
    ("params.x = 1e400", 11, "out of range"),
    ("name = 'a' # comment", 11, "unexpected character '#'"),
    ("name = 'a' ; drop", 11, "unexpected character ';'"),
    ("name = 'a' order name", 17, "'by' after 'order'"),
    ("order by", 8, "expected a field"),
    ("name = 'a' order by name sideways", 25, "expected"),
    ("name ! 'a'", 5, "unexpected character '!'"),
    ("x = 1", 0, "unknown field"),
    ("name = 'a' and -", 15, "unexpected '-'"),
    ("name = 'a'\x00", 10, "control character"),
]


@pytest.mark.parametrize(("text", "position", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_invalid_filter_points_at_the_column(text: str, position: int, message: str) -> None:
    with pytest.raises(InvalidFilter) as info:
        filters.validate(text)
    assert info.value.position == position
    assert message in info.value.message
    assert info.value.code == "invalid_filter" and info.value.http_status == 422


def test_error_message_shows_a_caret_under_the_column() -> None:
    with pytest.raises(InvalidFilter) as info:
        filters.parse("metrics.acc > 'x'")
    lines = info.value.message.splitlines()
    assert lines[0].endswith("(at column 15)")
    assert lines[2].index("^") == lines[1].index("'x'")


def test_long_filter_errors_show_a_window() -> None:
    text = "name = 'a' and " * 30 + "bogus = 1"
    with pytest.raises(InvalidFilter) as info:
        filters.parse(text)
    assert info.value.position == text.index("bogus")
    lines = info.value.message.splitlines()
    assert len(lines[1]) < 120
    assert lines[1][lines[2].index("^") :].startswith("  bogus"[2:])


def test_search_runs_raises_invalid_filter_before_querying(st: ml.Store) -> None:
    with pytest.raises(InvalidFilter, match="expected an operator"):
        ml.search_runs("metrics.acc", store=st)
    with pytest.raises(InvalidInput, match="must be a string"):
        ml.search_runs(filter=42, store=st)  # type: ignore[arg-type]


def test_parse_is_cached() -> None:
    text = "metrics.cache_probe > 1"
    assert filters.parse(text) is filters.parse(text)
