"""The filter-expression AST: small frozen dataclasses, hashable, so parses can be cached.

Source positions (0-based character offsets) ride along for error messages but take no part in
equality, so ``parse("a = 1") == parse("a  =  1")``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Union

# Where a field's value lives.
ATTRIBUTE = "attribute"
PARAM = "param"
METRIC = "metric"
TAG = "tag"

# Metric aggregates over a run's series; ``last`` (the latest value) is the default.
AGGREGATES = ("last", "min", "max", "first", "count")


@dataclass(frozen=True)
class Field:
    """A run attribute (``name`` is the attribute), or a param/metric/tag (``name`` is the key)."""

    kind: str
    name: str
    aggregate: str = "last"
    pos: int = dataclasses.field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Value:
    """A literal, already converted for its field.

    ``kind`` is ``number`` (dates and durations arrive here as epoch/elapsed milliseconds),
    ``string`` or ``bool``. ``text`` is the form used when the value is compared as text: the
    string itself, a number exactly as written, ``true``/``false`` for booleans.
    """

    kind: str
    value: int | float | str | bool
    text: str
    pos: int = dataclasses.field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Compare:
    """``field op values``; ``op`` is one of :data:`OPERATORS` (``is null`` ops take no values)."""

    field: Field
    op: str
    values: tuple[Value, ...] = ()
    pos: int = dataclasses.field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Union[Compare, Not, And, Or]  # noqa: UP007 - a runtime alias, evaluated on 3.10


@dataclass(frozen=True)
class OrderKey:
    field: Field
    descending: bool = False


@dataclass(frozen=True)
class Filter:
    """A parsed filter expression: the condition (None when absent) and the ``order by`` keys."""

    where: Node | None
    order: tuple[OrderKey, ...] = ()


COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
OPERATORS = (
    *COMPARISONS,
    "in",
    "not in",
    "like",
    "not like",
    "ilike",
    "not ilike",
    "is null",
    "is not null",
)
