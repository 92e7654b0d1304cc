"""Markdown to sanitised HTML: markdown-it-py with raw HTML off, then nh3 with an allow-list.

Math (``$...$`` inline, ``$$...$$`` display) is kept as text inside ``<span class="math">`` so
KaTeX's auto-render can typeset it in the browser; markdown never touches what is inside it.

>>> str(render_markdown("**hi** <script>x</script> $a_b$"))
'<p><strong>hi</strong> &lt;script&gt;x&lt;/script&gt; <span class="math">$a_b$</span></p>'
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import markupsafe
import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

__all__ = ["render_markdown"]

MAX_CHARS = 200_000
_TAGS = {
    "a", "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
    "code", "pre", "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
    "span",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
_SCHEMES = {"http", "https", "mailto"}


def _math(state: StateInline, silent: bool) -> bool:
    """``$x$`` / ``$$x$$``: a math token holding the text as written (no emphasis inside)."""
    src, start = state.src, state.pos
    if src[start] != "$":
        return False
    fence = "$$" if src.startswith("$$", start) else "$"
    begin = start + len(fence)
    end = src.find(fence, begin)
    while end != -1 and src[end - 1] == "\\":
        end = src.find(fence, end + 1)
    if end in (-1, begin):
        return False
    body = src[begin:end]
    # "$5 and $10" is not math: inline math does not start or end with a space.
    if fence == "$" and (body[0].isspace() or body[-1].isspace()):
        return False
    if not silent:
        token = state.push("math", "", 0)
        token.content = fence + body + fence
    state.pos = end + len(fence)
    return True


def _render_math(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    return f'<span class="math">{html.escape(tokens[idx].content)}</span>'


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.inline.ruler.before("escape", "math", _math)
    md.add_render_rule("math", _render_math)
    return md


def render_markdown(text: str | None) -> markupsafe.Markup:
    """Sanitised HTML of markdown ``text`` (raw HTML shown as text, scripts, styles, event
    handlers and ``javascript:`` links removed; links get ``rel="noopener noreferrer
    nofollow"``). Text over 200,000 characters is cut."""
    if not text:
        return markupsafe.Markup("")
    raw = _parser().render(text[:MAX_CHARS])
    clean = nh3.clean(
        raw,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        allowed_classes={"span": {"math"}},
        link_rel="noopener noreferrer nofollow",
        url_schemes=_SCHEMES,
        strip_comments=True,
    )
    return markupsafe.Markup(clean.strip())  # noqa: S704 - sanitised by nh3 just above
