"""The Anthropic Messages API (``POST /v1/messages``) through the official ``anthropic`` SDK.

Tools are sent as ``{"name", "description", "input_schema"}``; the model asks for them with
``tool_use`` content blocks (``stop_reason: "tool_use"``) and gets ``tool_result`` blocks back
in the next user message (``is_error`` set when the tool failed, so the model can correct
itself). The SDK is imported when a conversation starts, never by ``import chachaml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chachaml.chat.config import ChatConfig, endpoint_label
from chachaml.chat.failures import ProviderBadResponse, ProviderError, from_sdk_error
from chachaml.chat.protocol import Reply, ToolCall, ToolResult, decode_body
from chachaml.tools import Tool

__all__ = ["AnthropicConversation", "MAX_TOKENS"]

#: Output tokens per model turn (the Messages API requires a limit).
MAX_TOKENS = 4096
_STOPS = {"end_turn": "end", "stop_sequence": "end", "tool_use": "tool_use"}


class AnthropicConversation:
    """One chat with a Claude model (or an Anthropic-compatible server at ``base_url``)."""

    def __init__(
        self, config: ChatConfig, tools: Sequence[Tool], system: str, question: str
    ) -> None:
        import anthropic

        self._sdk = anthropic
        self._config = config
        self._where = endpoint_label(config)
        self._system = system
        self._tools = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in tools
        ]
        self._messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
        self._client = anthropic.Anthropic(
            api_key=config.api_key,
            base_url=config.base_url,
            max_retries=config.max_retries,
            timeout=config.timeout,
        )

    def _fail(self, exc: BaseException) -> ProviderError:
        return from_sdk_error(
            exc,
            provider="anthropic",
            where=self._where,
            key=self._config.api_key,
            retries=self._config.max_retries,
        )

    def reply(self) -> Reply:
        request: dict[str, Any] = {
            "model": self._config.model,
            "max_tokens": MAX_TOKENS,
            "system": self._system,
            "messages": self._messages,
        }
        if self._tools:
            request["tools"] = self._tools
        create: Any = self._client.messages.with_raw_response.create
        try:
            raw = create(**request)
            content: bytes = raw.http_response.content
        except self._sdk.APIError as exc:
            raise self._fail(exc) from None
        data = decode_body(
            content, raw.headers.get("content-type"), provider="anthropic", where=self._where
        )
        return self._parse(data)

    def _bad(self, what: str) -> ProviderBadResponse:
        return ProviderBadResponse(f"anthropic at {self._where} sent a malformed message: {what}")

    def _parse(self, data: dict[str, Any]) -> Reply:
        blocks = data.get("content")
        if data.get("type") == "error":
            raise self._bad("an error object with status 200")
        if not isinstance(blocks, list):
            raise self._bad("no 'content' list")
        texts: list[str] = []
        calls: list[ToolCall] = []
        echo: list[dict[str, Any]] = []
        for block in blocks:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                text = block.get("text")
                if not isinstance(text, str):
                    raise self._bad("a text block without text")
                texts.append(text)
                echo.append({"type": "text", "text": text})
            elif kind == "tool_use":
                call_id, name, args = block.get("id"), block.get("name"), block.get("input")
                if not isinstance(call_id, str) or not isinstance(name, str):
                    raise self._bad("a tool_use block without an id or name")
                echo.append({"type": "tool_use", "id": call_id, "name": name, "input": args})
                if isinstance(args, dict):
                    calls.append(ToolCall(call_id, name, args))
                else:
                    calls.append(
                        ToolCall(call_id, name, None, "the tool input must be a JSON object")
                    )
            elif isinstance(block, dict):
                echo.append(block)  # e.g. thinking blocks: sent back unchanged
            else:
                raise self._bad("a content block that is not an object")
        self._messages.append({"role": "assistant", "content": echo})
        reason = data.get("stop_reason")
        stop = "max_tokens" if reason == "max_tokens" else _STOPS.get(str(reason), "end")
        return Reply("".join(texts).strip(), calls, stop)

    def add_results(self, results: Sequence[ToolResult]) -> None:
        self._messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": r.call_id,
                        "content": r.content,
                        "is_error": r.is_error,
                    }
                    for r in results
                ],
            }
        )

    def close(self) -> None:
        self._client.close()
