"""Filter expressions: one small query language for the Python API, CLI, HTTP API, UI and MCP.

>>> from chachaml import filters
>>> f = filters.parse("metrics.acc > 0.9 and (params.model = 'rf' or params.depth >= 5)")
>>> f.where.operands[0].field
Field(kind='metric', name='acc', aggregate='last')
>>> filters.order_by("status = 'completed' order by metrics.acc desc")
[('metrics.acc', True)]

The grammar, type rules and NULL/NaN behaviour are documented in ``docs/filters.md``. Text is
parsed once (cached) into frozen AST dataclasses and compiled to parameterised SQL by the SQL stores
(:mod:`chachaml.store.sqlfilter`): no user text ever becomes SQL text.
"""

from __future__ import annotations

from functools import lru_cache
from typing import cast

from chachaml.errors import InvalidFilter
from chachaml.filters.nodes import AGGREGATES, ATTRIBUTE, Field, Filter
from chachaml.filters.parser import parse_text

__all__ = ["Filter", "order_by", "parse", "validate"]


def parse(text: str) -> Filter:
    """Parse a filter expression into its AST; raises :class:`~chachaml.errors.InvalidFilter`
    (with ``position``, the 0-based offending column) when the text is not a valid filter.

    >>> parse("tags.reviewed = true").where.op
    '='
    """
    if not isinstance(cast(object, text), str):  # transports may hand over anything
        raise InvalidFilter(f"a filter must be a string, got {type(text).__name__}")
    return _parse(text)


@lru_cache(maxsize=512)
def _parse(text: str) -> Filter:
    return parse_text(text)


def validate(text: str) -> None:
    """Raise :class:`~chachaml.errors.InvalidFilter` unless ``text`` is a valid filter.

    >>> validate("metrics.loss.min < 0.1 order by start_time desc")
    """
    parse(text)


def _order_field(field: Field) -> str:
    if field.kind == ATTRIBUTE:
        return field.name
    if field.kind != "metric":
        return f"{field.kind}s.{field.name}"
    # The aggregate is spelled out when the key itself ends like one (a quoted "loss.min").
    ambiguous = field.name.rsplit(".", 1)[-1] in AGGREGATES and "." in field.name
    suffix = f".{field.aggregate}" if field.aggregate != "last" or ambiguous else ""
    return f"metrics.{field.name}{suffix}"


def order_by(text: str) -> list[tuple[str, bool]]:
    """The ``order by`` keys of ``text`` as ``(field, descending)`` pairs (``[]`` without one).

    Fields are spelled as ``sqlquery.order_term`` reads them: ``start_time``,
    ``metrics.loss.min``, ``params.lr``, ``tags.team``.
    """
    return [(_order_field(key.field), key.descending) for key in parse(text).order]
