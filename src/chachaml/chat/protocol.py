"""What the loop and the provider adapters exchange: one model reply, its tool calls and
their results, in no provider's wire format."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from chachaml.chat.failures import ProviderBadResponse

__all__ = ["Conversation", "Reply", "ToolCall", "ToolResult", "decode_body"]


class ToolCall(NamedTuple):
    """A tool the model asked for. ``problem`` says why its arguments are unusable (then
    ``arguments`` is None)."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    problem: str | None = None


class Reply(NamedTuple):
    """One model turn: its text, the tools it asked for and why it stopped (``"end"``,
    ``"tool_use"`` or ``"max_tokens"``)."""

    text: str
    tool_calls: list[ToolCall]
    stop: str


class ToolResult(NamedTuple):
    call_id: str
    content: str
    is_error: bool


class Conversation(Protocol):
    """A chat in progress with one provider (it keeps the messages in its own format)."""

    def reply(self) -> Reply:
        """Send the conversation so far; the model's next turn (added to the conversation)."""

    def add_results(self, results: Sequence[ToolResult]) -> None:
        """Answer the tool calls of the last reply."""

    def close(self) -> None:
        """Release the HTTP client."""


def decode_body(
    content: bytes, content_type: str | None, *, provider: str, where: str
) -> dict[str, Any]:
    """A 2xx response body as a JSON object, or :class:`ProviderBadResponse` (which never
    quotes the body: a misbehaving server might echo the request)."""
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        kind = (content_type or "no content type").split(";", 1)[0].strip()[:60]
        raise ProviderBadResponse(
            f"{provider} at {where} answered with a body that is not JSON ({len(content)} "
            f"bytes of {kind}); is the base URL right?"
        ) from None
    if not isinstance(data, dict):
        raise ProviderBadResponse(f"{provider} at {where} answered with JSON that is no object")
    return data
