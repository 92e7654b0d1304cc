"""AST -> parameterised SQL over ``runs r``.

Every literal is bound as a ``?`` parameter; identifiers and SQL text are constants of this
module. The SQL never contains ``?`` or ``%`` except as placeholders, so a backend with another
paramstyle can rewrite ``?`` blindly.

Every comparison compiles to a two-valued condition (never SQL NULL): a missing param/metric/tag
or a NULL attribute makes a comparison false. That keeps ``not`` simple (``not x`` is exactly
the runs where ``x`` is false) and lets ``not`` be pushed down to the comparisons, which keeps
the generated SQL shallow: SQL parsers have small stacks (SQLite's overflows at ~100 levels).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Union

from chachaml import filters
from chachaml.errors import InvalidInput
from chachaml.filters.nodes import ATTRIBUTE, METRIC, PARAM, And, Compare, Node, Not, Value
from chachaml.store.sqlcommon import (
    ATTRIBUTES,
    PARAM_IS_NUMBER,
    PARAM_NUMBER,
    PARAM_PRESENT,
    STATUS_SQL,
    status_condition,
)

DIALECTS = ("sqlite", "postgresql")
STALE = "\x00stale_before"  # placeholder for the per-query heartbeat cutoff, swapped in later

NULLABLE = ("name", "end_time", "duration", "parent_run_id")
METRIC_COLUMNS = {
    "last": "s.last_value",
    "min": "s.min_value",
    "max": "s.max_value",
    "first": "s.first_value",
    "count": "s.count",
}
ORDERING = ("<", "<=", ">", ">=")

# -- the dialect switch: everything that differs between SQLite and PostgreSQL --------------
_JSON_STRING = {  # content of a JSON string
    "sqlite": "json_extract(p.value, '$')",
    "postgresql": "(p.value::jsonb #>> '{}')",
}
_TEXT_ORDER = {"sqlite": "", "postgresql": ' COLLATE "C"'}  # code-point order, as SQLite does
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _ascii_lower(sql: str, dialect: str) -> str:
    # SQLite's LIKE folds ASCII only; PostgreSQL gets the same folding spelled out.
    return sql if dialect == "sqlite" else f"translate({sql}, '{_UPPER}', '{_UPPER.lower()}')"


def param_text(dialect: str) -> str:
    """A param as text: a JSON string's content, any other JSON value its JSON text."""
    return f"CASE WHEN substr(p.value, 1, 1) = '\"' THEN {_JSON_STRING[dialect]} ELSE p.value END"


# -- LIKE patterns ------------------------------------------------------------------------------
def _pattern_parts(pattern: str) -> list[tuple[str, str]]:
    """``%`` -> ("any", ""), ``_`` -> ("one", ""), ``\\x`` and other chars -> ("char", x)."""
    parts: list[tuple[str, str]] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            parts.append(("char", next(chars, "\\")))
        elif ch == "%":
            parts.append(("any", ""))
        elif ch == "_":
            parts.append(("one", ""))
        else:
            parts.append(("char", ch))
    return parts


def _like(expr: str, op: str, pattern: str, dialect: str) -> tuple[str, list[Any]]:
    parts = _pattern_parts(pattern)
    if "ilike" in op or dialect != "sqlite":
        # LIKE with an explicit escape: SQLite's LIKE folds ASCII case, so it is `ilike`.
        out = []
        for kind, ch in parts:
            if kind == "any":
                out.append("%")
            elif kind == "one":
                out.append("_")
            else:
                out.append("\\" + ch if ch in "%_\\" else ch)
        bound = "".join(out)
        if "ilike" in op:
            expr, bound = _ascii_lower(expr, dialect), bound.translate(_LOWER)
        sql = f"{expr} LIKE ? ESCAPE '\\'"
    else:
        # case-sensitive on SQLite: GLOB, where * ? [ are the special characters
        glob = {"any": "*", "one": "?"}
        glob = {"any": "*", "one": "?"}
        bound = "".join(glob.get(kind, f"[{ch}]" if ch in "*?[" else ch) for kind, ch in parts)

        sql = f"{expr} GLOB ?"
    return (f"NOT ({sql})" if op.startswith("not ") else sql), [bound]


_LOWER = str.maketrans(_UPPER, _UPPER.lower())


def _marks(n: int) -> str:
    return ", ".join(["?"] * n)


def _scalar(expr: str, cmp: Compare, dialect: str, *, text: bool) -> tuple[str, list[Any]]:
    """``expr op values`` for a column that is never NULL where this is evaluated."""
    op, values = cmp.op, cmp.values
    if op in ("like", "not like", "ilike", "not ilike"):
        return _like(expr, op, str(values[0].value), dialect)
    binds = [v.text if text else v.value for v in values]
    if op in ("in", "not in"):
        return f"{expr} {op.upper()} ({_marks(len(binds))})", binds
    collate = _TEXT_ORDER[dialect] if text and op in ORDERING else ""
    return f"{expr}{collate} {op} ?", binds


# -- comparisons --------------------------------------------------------------------------------
def _attribute(cmp: Compare, dialect: str) -> tuple[str, list[Any]]:
    name = cmp.field.name
    if name == "status":
        if cmp.op == "=":
            return status_condition(str(cmp.values[0].text), STALE)  # type: ignore[arg-type]
        if cmp.op in ("is null", "is not null"):
            return f"r.status {cmp.op.upper()}", []
        sql, params = _scalar(f"({STATUS_SQL})", cmp, dialect, text=True)
        return sql, [STALE, *params]
    column = ATTRIBUTES[name]
    if cmp.op in ("is null", "is not null"):
        return f"{column} {cmp.op.upper()}", []
    text = name not in ("start_time", "end_time", "duration")
    sql, params = _scalar(column, cmp, dialect, text=text)
    return (f"({column} IS NOT NULL AND {sql})" if name in NULLABLE else sql), params


def _raw_forms(texts: list[str]) -> list[str]:
    """Stored JSON texts whose text form equals one of ``texts``: the JSON string, and the text
    itself (a number, ``true``, ``null``... is its own text) unless that would be a JSON string."""
    out: list[str] = []
    for t in texts:
        out.append(json.dumps(t, ensure_ascii=False))
        if not t.startswith('"'):
            out.append(t)
    return out


def _param_equals(values: tuple[Value, ...]) -> tuple[str, list[Any]]:
    """True when the param equals any of ``values`` (numbers numerically against numbers)."""
    numbers = [v for v in values if v.kind == "number"]
    texts = [v.text for v in values if v.kind != "number"]
    if not numbers:
        forms = _raw_forms(texts)
        return f"p.value IN ({_marks(len(forms))})", forms
    numeric = f"{PARAM_NUMBER} IN ({_marks(len(numbers))})"
    params: list[Any] = [v.value for v in numbers]
    as_text = [t for t in texts if not t.startswith('"')]  # a number's JSON text vs a string
    if as_text:
        numeric = f"({numeric} OR p.value IN ({_marks(len(as_text))}))"
        params.extend(as_text)
    forms = _raw_forms(texts + [v.text for v in numbers])
    params.extend(forms)
    sql = f"CASE WHEN {PARAM_IS_NUMBER} THEN {numeric} ELSE p.value IN ({_marks(len(forms))}) END"
    return sql, params


def _param_condition(cmp: Compare, dialect: str) -> tuple[str, list[Any]]:
    op = cmp.op
    if op in ("=", "in"):
        return _param_equals(cmp.values)
    if op in ("!=", "not in"):
        sql, params = _param_equals(cmp.values)
        return f"NOT ({sql})", params
    text = param_text(dialect)
    if op in ORDERING and cmp.values[0].kind == "number":
        value = cmp.values[0]
        collate = _TEXT_ORDER[dialect]
        sql = (
            f"CASE WHEN {PARAM_IS_NUMBER} THEN {PARAM_NUMBER} {op} ? "
            f"ELSE ({text}){collate} {op} ? END"
        )
        return sql, [value.value, value.text]
    return _scalar(f"({text})", cmp, dialect, text=True)


def _compare(cmp: Compare, dialect: str) -> tuple[str, list[Any]]:
    field = cmp.field
    if field.kind == ATTRIBUTE:
        return _attribute(cmp, dialect)
    if field.kind == METRIC:
        table = "SELECT s.run_id FROM metric_series s WHERE s.key = ?"
        condition = (
            None
            if cmp.op in ("is null", "is not null")
            else _scalar(METRIC_COLUMNS[field.aggregate], cmp, dialect, text=False)
        )
    elif field.kind == PARAM:
        table = f"SELECT p.run_id FROM params p WHERE p.key = ? AND {PARAM_PRESENT}"
        condition = None if cmp.op in ("is null", "is not null") else _param_condition(cmp, dialect)
    else:
        table = "SELECT t.run_id FROM tags t WHERE t.key = ?"
        condition = (
            None
            if cmp.op in ("is null", "is not null")
            else _scalar("t.value", cmp, dialect, text=True)
        )
    if condition is None:
        negated = "NOT " if cmp.op == "is null" else ""
        return f"r.id {negated}IN ({table})", [field.name]
    sql, params = condition
    return f"r.id IN ({table} AND {sql})", [field.name, *params]


# -- boolean structure ------------------------------------------------------------------------
@dataclass
class _Group:
    op: str  # "AND" / "OR"
    items: list[_Item]
    depth: int = 1


_Item = Union[_Group, tuple[Compare, bool]]  # noqa: UP007 - a runtime alias, evaluated on 3.10


def _depth(item: _Item) -> int:
    return item.depth if isinstance(item, _Group) else 0


def _normalise(node: Node, negated: bool = False) -> _Item:
    """Push ``not`` down to the comparisons (De Morgan) and flatten nested and/or chains."""
    if isinstance(node, Compare):
        return (node, negated)
    if isinstance(node, Not):
        return _normalise(node.operand, not negated)
    op = "AND" if isinstance(node, And) != negated else "OR"
    items: list[_Item] = []
    for child in node.operands:
        item = _normalise(child, negated)
        if isinstance(item, _Group) and item.op == op:
            items.extend(item.items)
        else:
            items.append(item)
    # The deepest operand goes first: a parser holds pending left operands on its stack.
    items.sort(key=_depth, reverse=True)
    return _Group(op, items, 1 + max(map(_depth, items)))


def _render(item: _Item, dialect: str, params: list[Any]) -> str:
    if isinstance(item, _Group):
        return "(" + f" {item.op} ".join(_render(i, dialect, params) for i in item.items) + ")"
    cmp, negated = item
    sql, extra = _compare(cmp, dialect)
    params.extend(extra)
    return f"NOT ({sql})" if negated else sql


def compile_node(node: Node, dialect: str) -> tuple[str, list[Any]]:
    """SQL condition and parameters for ``node``; :data:`STALE` marks the heartbeat cutoff."""
    if dialect not in DIALECTS:
        raise InvalidInput(f"unknown SQL dialect {dialect!r}: use one of {', '.join(DIALECTS)}")
    params: list[Any] = []
    return _render(_normalise(node), dialect, params), params


@lru_cache(maxsize=512)
def _compiled(text: str, dialect: str) -> tuple[str, tuple[Any, ...]]:
    where = filters.parse(text).where
    if where is None:
        return "", ()
    sql, params = compile_node(where, dialect)
    return sql, tuple(params)


def compile_where(text: str, *, dialect: str, stale_before: int) -> tuple[str, list[Any]]:
    """The condition of ``text`` as SQL over ``runs r`` with ``?`` placeholders, and its params.

    ``stale_before`` is the heartbeat cutoff (epoch ms) below which a ``running`` run reads as
    ``crashed``. An empty string means the filter has no condition (only ``order by``).

    >>> from chachaml.store.sqlfilter import compile_where
    >>> sql, params = compile_where("metrics.acc > 0.9", dialect="sqlite", stale_before=0)
    >>> sql
    'r.id IN (SELECT s.run_id FROM metric_series s WHERE s.key = ? AND s.last_value > ?)'
    >>> params
    ['acc', 0.9]
    """
    sql, params = _compiled(text, dialect)
    return sql, [stale_before if p is STALE else p for p in params]
