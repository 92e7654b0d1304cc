"""Recursive-descent parser: tokens -> :class:`~chachaml.filters.nodes.Filter`.

Precedence, loosest first: ``or``, ``and``, ``not``, then comparisons. Each comparison is
checked against its field as it is parsed (types, operators, dates, status names), so every
error carries the position of the token at fault.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from chachaml.filters.lexer import DURATION_UNITS, Token, error, tokenize
from chachaml.filters.nodes import (
    AGGREGATES,
    ATTRIBUTE,
    METRIC,
    PARAM,
    TAG,
    And,
    Compare,
    Field,
    Filter,
    Node,
    Not,
    Or,
    OrderKey,
    Value,
)
from chachaml.validate import INT64_MAX, INT64_MIN, RUN_STATUSES

MAX_DEPTH = 32  # nested parentheses / `not`s; SQL parsers have small stacks
MAX_COMPARISONS = 250  # SQLite caps expression depth at 1000

TEXT_ATTRIBUTES = ("id", "experiment", "name", "status", "created_by", "parent_run_id")
TIME_ATTRIBUTES = ("start_time", "end_time")
ATTRIBUTES = (*TEXT_ATTRIBUTES, *TIME_ATTRIBUTES, "duration")
NAMESPACES = {"params": PARAM, "metrics": METRIC, "tags": TAG}


def _to_number(text: str, pos: int, source: str) -> int | float:
    """An int when it fits int64, else a finite float."""
    if not any(c in text for c in ".eE"):
        whole = int(text)
        if INT64_MIN <= whole <= INT64_MAX:
            return whole
    number = float(text)
    if not math.isfinite(number):
        raise error(f"number {text} is out of range", pos, source)
    return number


def _epoch_ms(text: str, pos: int, source: str) -> int:
    """ISO date or datetime (naive means UTC) -> epoch milliseconds."""
    raw = text.strip()
    try:
        moment = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in "zZ" and raw else raw)
    except ValueError:
        raise error(
            f"{text!r} is not a date: use epoch milliseconds or an ISO date such as "
            "'2024-05-01' or '2024-05-01T12:30:00Z'",
            pos,
            source,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.comparisons = 0

    # -- token helpers ------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.tok
        return tok.kind == kind and (text is None or tok.text == text)

    def at_word(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.text in words

    def take(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def fail(self, message: str, tok: Token | None = None) -> Exception:
        return error(message, (tok or self.tok).pos, self.text)

    def describe(self, tok: Token) -> str:
        return "the end of the filter" if tok.kind == "eof" else repr(tok.text)

    def expect_word(self, word: str, hint: str) -> Token:
        if not self.at_word(word):
            raise self.fail(f"expected {hint}, found {self.describe(self.tok)}")
        return self.take()

    # -- grammar ------------------------------------------------------------------------------
    def parse(self) -> Filter:
        where = None if self.at_word("order") or self.at("eof") else self.or_expr()
        order: tuple[OrderKey, ...] = ()
        if self.at_word("order"):
            order = self.order_clause()
        if not self.at("eof"):
            hint = "'and', 'or', 'order by'" if where is not None else "'order by'"
            if self.at("punct", ")"):
                raise self.fail("unmatched ')'")
            raise self.fail(f"expected {hint} or the end, found {self.describe(self.tok)}")
        return Filter(where, order)

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.at_word("or"):
            self.take()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.at_word("and"):
            self.take()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"filter nests deeper than {MAX_DEPTH} levels")

    def not_expr(self) -> Node:
        if self.at_word("not"):
            self.nest()
            self.take()
            node: Node = Not(self.not_expr())
            self.depth -= 1
            return node
        if self.at("punct", "("):
            self.nest()
            opening = self.take()
            inner = self.or_expr()
            if not self.at("punct", ")"):
                found = self.describe(self.tok)
                raise self.fail(
                    f"expected ')' to close the '(' at column {opening.pos + 1}, found {found}"
                )
            self.take()
            self.depth -= 1
            return inner
        return self.comparison()

    def field(self) -> Field:
        tok = self.tok
        if tok.kind == "word" and tok.text in ATTRIBUTES:
            self.take()
            return Field(ATTRIBUTE, tok.text, pos=tok.pos)
        if tok.kind == "field":
            self.take()
            return self.namespaced(tok)
        if tok.kind == "word" and tok.text.lower() in ATTRIBUTES:
            raise self.fail(
                f"unknown field {tok.text!r}; fields are lower case: {tok.text.lower()}"
            )
        if tok.kind == "word" and tok.text in (*NAMESPACES, "order"):
            raise self.fail(f"{tok.text!r} needs a key, e.g. {tok.text}.accuracy")
        if tok.kind == "word" and tok.text not in ("and", "or", "not", "true", "false", "null"):
            name = tok.text
            raise self.fail(
                f"unknown field {name!r}: use one of {', '.join(ATTRIBUTES)}, or "
                f"params.{name}, metrics.{name}, tags.{name}"
            )
        raise self.fail(f"expected a field such as metrics.accuracy, found {self.describe(tok)}")

    def namespaced(self, tok: Token) -> Field:
        head, *rest = tok.parts
        kind = NAMESPACES.get(head[0].lower())
        if kind is None:
            suggestion = {"param": "params", "metric": "metrics", "tag": "tags"}.get(
                head[0].lower()
            )
            hint = f"; did you mean {suggestion}.?" if suggestion else ""
            raise self.fail(
                f"unknown field {tok.text!r}: use params.*, metrics.* or tags.*{hint}", tok
            )
        aggregate = "last"
        if kind == METRIC and len(rest) > 1 and not rest[-1][1] and rest[-1][0] in AGGREGATES:
            aggregate = rest.pop()[0]
        return Field(kind, ".".join(part for part, _ in rest), aggregate, pos=tok.pos)

    def literal(self) -> Token:
        tok = self.tok
        if tok.kind in ("string", "number", "duration") or self.at_word("true", "false"):
            return self.take()
        if self.at_word("null"):
            raise self.fail("null is only used as 'is null' / 'is not null'")
        raise self.fail(
            f"expected a value (number, 'string', true/false), found {self.describe(tok)}"
        )

    def comparison(self) -> Compare:
        field = self.field()
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise error(f"filter has more than {MAX_COMPARISONS} comparisons", field.pos, self.text)
        op_tok = self.tok
        if self.at("op"):
            op = self.take().text
            return self.check(field, op, [self.literal()], op_tok)
        if self.at_word("is"):
            self.take()
            negated = self.at_word("not")
            if negated:
                self.take()
            self.expect_word("null", "'null' after 'is'")
            return Compare(field, "is not null" if negated else "is null", (), pos=op_tok.pos)
        negated = self.at_word("not")
        if negated:
            self.take()
            if not self.at_word("in", "like", "ilike"):
                raise self.fail(
                    f"expected 'in', 'like' or 'ilike' after 'not', found {self.describe(self.tok)}"
                )
        if self.at_word("in"):
            self.take()
            if not self.at("punct", "("):
                raise self.fail(f"expected '(' after 'in', found {self.describe(self.tok)}")
            self.take()
            items = [self.literal()]
            while self.at("punct", ","):
                self.take()
                items.append(self.literal())
            if not self.at("punct", ")"):
                raise self.fail(
                    f"expected ',' or ')' in the 'in' list, found {self.describe(self.tok)}"
                )
            self.take()
            return self.check(field, "not in" if negated else "in", items, op_tok)
        if self.at_word("like", "ilike"):
            word = self.take().text
            return self.check(field, f"not {word}" if negated else word, [self.literal()], op_tok)
        written = self.text[field.pos : op_tok.pos].strip()
        raise self.fail(
            f"expected an operator (= != < <= > >= in like ilike is) after {written}, "
            f"found {self.describe(op_tok)}",
            op_tok,
        )

    # -- type rules -----------------------------------------------------------------------
    def check(self, field: Field, op: str, items: list[Token], op_tok: Token) -> Compare:
        values = tuple(self.value(field, op, tok) for tok in items)
        if field == Field(ATTRIBUTE, "status") and op in ("=", "!=", "in", "not in"):
            for value, tok in zip(values, items, strict=True):
                if value.text not in RUN_STATUSES:
                    raise self.fail(
                        f"status {value.text!r} is not one of: {', '.join(RUN_STATUSES)}", tok
                    )
        return Compare(field, op, values, pos=op_tok.pos)

    def value(self, field: Field, op: str, tok: Token) -> Value:
        what = field_label(field)
        pattern_op = op in ("like", "not like", "ilike", "not ilike")
        if pattern_op:
            if field.kind == METRIC or field.name in ("start_time", "end_time", "duration"):
                raise self.fail(f"{op!r} needs text; {what} is a number", tok)
            if tok.kind != "string":
                raise self.fail(f"{op!r} needs a quoted pattern such as 'rf%'", tok)
            return Value("string", str(tok.value), str(tok.value), tok.pos)
        if tok.kind == "word":  # true / false
            if field.kind == METRIC or (
                field.kind == ATTRIBUTE and field.name not in TEXT_ATTRIBUTES
            ):
                raise self.fail(f"{what} is a number; true/false does not apply", tok)
            if op not in ("=", "!=", "in", "not in"):
                raise self.fail(f"true/false only work with = != in, not {op!r}", tok)
            return Value("bool", tok.text == "true", tok.text, tok.pos)
        if tok.kind == "duration":
            if field != Field(ATTRIBUTE, "duration"):
                raise self.fail(f"a duration such as {tok.text} only compares with duration", tok)
            number = _to_number(tok.text[: -len(str(tok.value))], tok.pos, self.text)
            ms = number * DURATION_UNITS[str(tok.value)]
            exact = (
                int(ms) if float(ms).is_integer() and INT64_MIN <= ms <= INT64_MAX else float(ms)
            )
            return Value("number", exact, tok.text, tok.pos)
        if tok.kind == "number":
            number = _to_number(tok.text, tok.pos, self.text)
            return Value("number", number, tok.text, tok.pos)
        text = str(tok.value)
        if field.kind == METRIC or field.name == "duration":
            raise self.fail(f"{what} is a number; remove the quotes", tok)
        if field.name in TIME_ATTRIBUTES and field.kind == ATTRIBUTE:
            return Value("number", _epoch_ms(text, tok.pos, self.text), text, tok.pos)
        return Value("string", text, text, tok.pos)

    def order_clause(self) -> tuple[OrderKey, ...]:
        self.take()
        self.expect_word("by", "'by' after 'order'")
        keys = [self.order_key()]
        while self.at("punct", ","):
            self.take()
            keys.append(self.order_key())
        return tuple(keys)

    def order_key(self) -> OrderKey:
        field = self.field()
        descending = False
        if self.at_word("asc", "desc"):
            descending = self.take().text == "desc"
        return OrderKey(field, descending)


def field_label(field: Field) -> str:
    """How a field is written, for messages."""
    if field.kind == ATTRIBUTE:
        return field.name
    suffix = "" if field.aggregate == "last" else f".{field.aggregate}"
    return f"{field.kind}s.{field.name}{suffix}"


def parse_text(text: str) -> Filter:
    return _Parser(text).parse()
