"""A pure-Python reference for filter expressions, and a loader that writes runs into any store.

The property and injection tests build expressions as small tuples (rendered to text here), load
the same runs into a store through the metadata-store protocol, and check that the SQL answer
equals :func:`evaluate`. Nothing here uses chachaml's parser: the semantics are written out again
from docs/filters.md. A PostgreSQL store plugs in by giving the tests another store factory.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import chachaml as ml
from chachaml import validate
from chachaml.store.protocol import NewRun

# -- runs ------------------------------------------------------------------------------------


@dataclass
class Run:
    id: str
    experiment: str = "exp"
    name: str | None = None
    status: str = "completed"  # as stored; a stale "running" run reads as "crashed"
    stale: bool = False
    start_time: int = 1_600_000_000_000
    end_time: int | None = 1_600_000_001_000
    created_by: str = "ann"
    parent_run_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # python values
    metrics: dict[str, list[float]] = field(default_factory=dict)  # points in step order
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def effective_status(self) -> str:
        return "crashed" if self.status == "running" and self.stale else self.status


def load(store: ml.Store, runs: Sequence[Run]) -> None:
    """Write ``runs`` (parents before children) through the store protocol."""
    meta = store.meta
    for run in runs:
        meta.create_run(
            NewRun(
                run.id, run.experiment, run.name, run.start_time, run.created_by, run.parent_run_id
            )
        )
        if run.params:
            meta.log_params(run.id, {k: validate.param_json(k, v) for k, v in run.params.items()})
        if run.tags:
            meta.set_tags(run.id, run.tags)
        points = [
            (run.id, key, step, value, run.start_time + step)
            for key, values in run.metrics.items()
            for step, value in enumerate(values)
        ]
        if points:
            meta.log_metrics(points)
        if run.status != "running":
            assert run.end_time is not None
            meta.finish_run(run.id, run.status, run.end_time, None)
        elif not run.stale:
            meta.heartbeat([run.id], time.time_ns() // 1_000_000)  # alive


def search_ids(store: ml.Store, text: str) -> set[str]:
    return {r["id"] for r in ml.search_runs(text, limit=None, store=store)}


@contextmanager
def sqlite_memory_store() -> Iterator[ml.Store]:
    st = ml.open_store("sqlite:///:memory:")
    try:
        yield st
    finally:
        st.close()


@contextmanager
def postgres_store() -> Iterator[ml.Store]:
    """An empty PostgreSQL schema (skipped, or failed with CI=true, without a server).

    One schema and store per session, emptied before each use: a fresh schema per hypothesis
    example would spend most of the test creating tables.
    """
    import backends

    st = backends.shared_pg_store()
    backends.pg_delete_all(st)
    yield st


StoreFactory = Callable[[], Any]
STORE_FACTORIES: dict[str, StoreFactory] = {
    "sqlite": sqlite_memory_store,
    "postgres": postgres_store,
}

# -- expressions -----------------------------------------------------------------------------
# Field: ("attr", name) | ("param", key) | ("metric", key, aggregate) | ("tag", key)
# Literal: ("num", text) | ("str", text) | ("bool", bool) | ("dur", text)
# Node: ("cmp", field, op, [literals]) | ("not", node) | ("and", a, b) | ("or", a, b)

_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def render_key(key: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_]+", key) and key not in ("min", "max", "first", "last", "count"):
        return key
    return '"' + key.replace('"', '""') + '"'


def render_field(f: tuple[Any, ...]) -> str:
    if f[0] == "attr":
        return str(f[1])
    if f[0] == "metric":
        agg = "" if f[2] == "last" else "." + f[2]
        return f"metrics.{render_key(f[1])}{agg}"
    return f"{f[0]}s.{render_key(f[1])}"


def render_literal(lit: tuple[Any, Any]) -> str:
    kind, value = lit
    if kind == "str":
        return quote(value)
    if kind == "bool":
        return "true" if value else "false"
    return str(value)


def render(node: tuple[Any, ...], parens: Callable[[], bool] = lambda: False) -> str:
    """Text for ``node`` with just the parentheses precedence needs (plus any ``parens()``)."""
    prec = {"or": 1, "and": 2, "not": 3, "cmp": 4}

    def wrap(child: tuple[Any, ...], needed: int) -> str:
        text = render(child, parens)
        return f"({text})" if prec[child[0]] < needed or parens() else text

    kind = node[0]
    if kind == "cmp":
        _, f, op, lits = node
        left = render_field(f)
        if op in ("is null", "is not null"):
            return f"{left} {op}"
        if op in ("in", "not in"):
            return f"{left} {op} (" + ", ".join(render_literal(v) for v in lits) + ")"
        return f"{left} {op} {render_literal(lits[0])}"
    if kind == "not":
        return "not " + wrap(node[1], 3)
    return f" {kind} ".join((wrap(node[1], prec[kind]), wrap(node[2], prec[kind] + 1)))


# -- reference semantics ----------------------------------------------------------------------


def _number(text: str) -> float:
    return float(text)


def _literal_number(lit: tuple[Any, Any]) -> float:
    kind, value = lit
    if kind == "dur":
        unit = re.search(r"[a-z]+$", value)
        assert unit is not None
        return float(value[: unit.start()]) * _UNITS[unit.group()]
    if kind == "str":  # a date
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return float(int(moment.timestamp() * 1000))
    return _number(value)


def _literal_text(lit: tuple[Any, Any]) -> str:
    kind, value = lit
    if kind == "bool":
        return "true" if value else "false"
    return str(value)


def _like(value: str, pattern: str, fold: bool) -> bool:
    out = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    if fold:
        table = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
        value = value.translate(table)
        return re.fullmatch("".join(out).translate(table), value, re.S) is not None
    return re.fullmatch("".join(out), value, re.S) is not None


def _op(a: Any, op: str, b: Any) -> bool:
    return {
        "=": a == b,
        "!=": a != b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[op]


def _get(run: Run, f: tuple[Any, ...]) -> Any:
    kind = f[0]
    if kind == "attr":
        name = f[1]
        if name == "status":
            return run.effective_status
        if name == "duration":
            return None if run.end_time is None else run.end_time - run.start_time
        return getattr(run, name)
    if kind == "param":
        if f[1] not in run.params:
            return None
        raw = validate.param_json(f[1], run.params[f[1]])
        return None if raw == "null" else raw
    if kind == "tag":
        return run.tags.get(f[1])
    points = run.metrics.get(f[1])
    if points is None:
        return None
    finite = [p for p in points if not math.isnan(p)]
    return {
        "last": points[-1],
        "first": points[0],
        "min": min(finite) if finite else math.nan,
        "max": max(finite) if finite else math.nan,
        "count": float(len(points)),
    }[f[2]]


def _compare_one(f: tuple[Any, ...], value: Any, op: str, lit: tuple[Any, Any]) -> bool:
    kind = f[0]
    if op in ("like", "ilike"):
        text = value
        if kind == "param":
            text = json.loads(value) if value.startswith('"') else value
        return _like(text, lit[1], fold=op == "ilike")
    if kind == "metric":
        return not math.isnan(value) and _op(value, op, _literal_number(lit))
    if kind == "attr" and f[1] in ("start_time", "end_time", "duration"):
        return _op(value, op, _literal_number(lit))
    if kind == "param":
        is_number = value[:1] in "-0123456789" and value != "-Infinity" and value != ""
        if lit[0] == "num" and is_number:
            return _op(float(value), op, _literal_number(lit))
        text = json.loads(value) if value.startswith('"') else value
        return _op(text, op, _literal_text(lit))
    return _op(value, op, _literal_text(lit))


def evaluate(node: tuple[Any, ...], run: Run) -> bool:
    kind = node[0]
    if kind == "not":
        return not evaluate(node[1], run)
    if kind == "and":
        return evaluate(node[1], run) and evaluate(node[2], run)
    if kind == "or":
        return evaluate(node[1], run) or evaluate(node[2], run)
    _, f, op, lits = node
    value = _get(run, f)
    if op == "is null":
        return value is None
    if op == "is not null":
        return value is not None
    if value is None:
        return False  # a comparison on a missing value is false
    if f[0] == "metric" and math.isnan(value):
        return False  # NaN satisfies no comparison, != and not in included
    if op == "in":
        return any(_compare_one(f, value, "=", lit) for lit in lits)
    if op == "not in":
        return not any(_compare_one(f, value, "=", lit) for lit in lits)
    if op.startswith("not "):
        return not _compare_one(f, value, op[4:], lits[0])
    if op == "!=":
        return not _compare_one(f, value, "=", lits[0])
    return _compare_one(f, value, op, lits[0])


def expected_ids(node: tuple[Any, ...], runs: Sequence[Run]) -> set[str]:
    return {run.id for run in runs if evaluate(node, run)}


# -- sanity checks of the reference itself ----------------------------------------------------


def test_reference_renders_precedence_with_minimal_parentheses() -> None:
    a = ("cmp", ("attr", "name"), "=", [("str", "a")])
    b = ("cmp", ("param", "learning rate"), ">", [("num", "0.1")])
    c = ("cmp", ("metric", "loss", "min"), "is null", [])
    assert render(("and", ("or", a, b), ("not", c))) == (
        "(name = 'a' or params.\"learning rate\" > 0.1) and not metrics.loss.min is null"
    )
    assert render(("or", a, ("and", b, c))) == (
        "name = 'a' or params.\"learning rate\" > 0.1 and metrics.loss.min is null"
    )


def test_reference_type_rules() -> None:
    run = Run("a" * 32, params={"lr": 0.1, "v": "1.10", "flag": True, "none": None})
    lr, v = ("param", "lr"), ("param", "v")
    assert evaluate(("cmp", lr, "=", [("num", "0.10")]), run)  # numeric
    assert evaluate(("cmp", lr, "=", [("str", "0.1")]), run)  # JSON text
    assert evaluate(("cmp", v, "=", [("num", "1.10")]), run)  # as written
    assert not evaluate(("cmp", v, "=", [("num", "1.1")]), run)
    assert evaluate(("cmp", ("param", "flag"), "=", [("bool", True)]), run)
    assert evaluate(("cmp", ("param", "none"), "is null", []), run)
    assert not evaluate(("cmp", ("param", "none"), "!=", [("str", "x")]), run)
