"""Tokenizer for filter expressions, and the one way to report an error at a position.

A field reference is one token: a word, then ``.``-separated parts that are bare
(letters, digits, ``_``, ``-``, ``/``) or quoted (``params."learning rate"``).
Strings use ``'`` or ``"``; the quote character doubled stands for itself. There are no
backslash escapes in strings, so a ``like`` pattern's ``\\`` reaches the pattern unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chachaml.errors import InvalidFilter

MAX_LENGTH = 10_000
KEYWORDS = frozenset(
    ("and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false", "order", "by", "asc")
) | {"desc"}
DURATION_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
DURATION_UNITS["w"] = 7 * DURATION_UNITS["d"]
_OPERATORS = ("<=", ">=", "!=", "<>", "==", "=", "<", ">")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_UNIT = re.compile(r"[A-Za-z_]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WHITESPACE = " \t\r\n"
_SHOW = 100  # longer texts are shown as a window around the error


@dataclass(frozen=True)
class Token:
    """``kind``: word (keywords lower-cased), field, string, number, duration, op, punct, eof."""

    kind: str
    text: str
    pos: int
    parts: tuple[tuple[str, bool], ...] = ()  # field parts as (text, was_quoted)
    value: str | int | float = ""


def error(message: str, pos: int, text: str) -> InvalidFilter:
    """An :class:`InvalidFilter` whose message shows ``text`` with a caret under ``pos``."""
    shown = re.sub(r"[\t\r\n]", " ", text)
    if len(shown) <= _SHOW:
        return InvalidFilter(message, position=pos, text=shown)
    start = max(0, min(pos - _SHOW // 2, len(shown) - _SHOW))
    prefix = "..." if start else ""
    window = prefix + shown[start : start + _SHOW] + ("..." if start + _SHOW < len(shown) else "")
    pointer = " " * (pos - start + len(prefix)) + "^"
    exc = InvalidFilter(f"{message} (at column {pos + 1})\n  {window}\n  {pointer}")
    exc.position = pos
    return exc


def check_text(text: str) -> None:
    """Refuse input no valid filter contains: oversized, control characters, lone surrogates."""
    if len(text) > MAX_LENGTH:
        exc = InvalidFilter(
            f"filter is {len(text)} characters long; the limit is {MAX_LENGTH}", position=MAX_LENGTH
        )
        raise exc
    bad = _CONTROL.search(text)
    if bad:
        raise error(f"control character {bad.group()!r} is not allowed", bad.start(), text)
    for i, ch in enumerate(text):
        if "\ud800" <= ch <= "\udfff":
            raise error("invalid unicode (a lone surrogate)", i, text)


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """The content of the string starting at ``pos`` and the index just after it."""
    quote = text[pos]
    out: list[str] = []
    i = pos + 1
    while True:
        end = text.find(quote, i)
        if end < 0:
            raise error("unterminated string (missing closing " + quote + ")", pos, text)
        out.append(text[i:end])
        if text.startswith(quote, end + 1):  # a doubled quote stands for itself
            out.append(quote)
            i = end + 2
            continue
        return "".join(out), end + 1


def _is_word_start(ch: str) -> bool:
    return ch.isalpha() or ch == "_"


def _is_part_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_-/"


def _field(text: str, pos: int) -> tuple[Token, int]:
    """A word, optionally followed by ``.part`` segments."""
    i = pos
    while i < len(text) and (text[i].isalnum() or text[i] == "_"):
        i += 1
    parts: list[tuple[str, bool]] = [(text[pos:i], False)]
    while i < len(text) and text[i] == ".":
        i += 1
        if i < len(text) and text[i] in "'\"":
            content, i = _quoted(text, i)
            if not content:
                raise error("a key must not be empty", i - 2, text)
            parts.append((content, True))
            continue
        start = i
        while i < len(text) and _is_part_char(text[i]):
            i += 1
        if i == start:
            raise error("expected a key after '.' (quote odd keys: params.\"my key\")", i, text)
        parts.append((text[start:i], False))
    if len(parts) == 1:
        word = parts[0][0]
        lowered = word.lower()
        kind_text = lowered if lowered in KEYWORDS else word
        return Token("word", kind_text, pos), i
    return Token("field", text[pos:i], pos, tuple(parts)), i


def _number(text: str, pos: int) -> tuple[Token, int]:
    match = _NUMBER.match(text, pos)
    if match is None:
        raise error(f"unexpected {text[pos]!r}", pos, text)
    end = match.end()
    unit = _UNIT.match(text, end)
    if unit is None:
        return Token("number", match.group(), pos), end
    if unit.group() not in DURATION_UNITS:
        raise error(
            f"unknown unit {unit.group()!r} after a number (durations use "
            f"{', '.join(DURATION_UNITS)}, e.g. 5m)",
            end,
            text,
        )
    return Token("duration", text[pos : unit.end()], pos, value=unit.group()), unit.end()


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text``, ending with an ``eof`` token. Raises :class:`InvalidFilter`."""
    check_text(text)
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
        elif _is_word_start(ch):
            token, i = _field(text, i)
            tokens.append(token)
        elif ch in "'\"":
            content, end = _quoted(text, i)
            tokens.append(Token("string", text[i:end], i, value=content))
            i = end
        elif ch.isdigit() or ch in "-.":
            token, i = _number(text, i)
            tokens.append(token)
        elif ch in "(),":
            tokens.append(Token("punct", ch, i))
            i += 1
        else:
            op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
            if op is None:
                raise error(f"unexpected character {ch!r}", i, text)
            tokens.append(Token("op", {"==": "=", "<>": "!="}.get(op, op), i))
            i += len(op)
    tokens.append(Token("eof", "", n))
    return tokens
