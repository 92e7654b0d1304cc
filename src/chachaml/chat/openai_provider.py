"""OpenAI Chat Completions (``POST {base_url}/chat/completions``) through the official
``openai`` SDK: OpenAI itself, or any OpenAI-compatible server at ``base_url`` (llama.cpp's
``llama-server``, vLLM, Ollama).

Tools are sent as ``{"type": "function", "function": {"name", "description", "parameters"}}``;
the model asks for them in ``choices[0].message.tool_calls`` (``function.arguments`` is a JSON
string) and gets one ``role: "tool"`` message per call back. The format has no error flag, so a
failed tool's message starts with ``Error:``. The SDK is imported when a conversation starts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chachaml.chat.config import ChatConfig, endpoint_label
from chachaml.chat.failures import ProviderBadResponse, ProviderError, from_sdk_error
from chachaml.chat.protocol import Reply, ToolCall, ToolResult, decode_body
from chachaml.tools import Tool

__all__ = ["OpenAIConversation"]

_STOPS = {"stop": "end", "tool_calls": "tool_use", "function_call": "tool_use"}


class OpenAIConversation:
    """One chat over Chat Completions."""

    def __init__(
        self, config: ChatConfig, tools: Sequence[Tool], system: str, question: str
    ) -> None:
        import openai

        self._sdk = openai
        self._config = config
        self._where = endpoint_label(config)
        self._tools = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.input_schema,
                },
            }
            for t in tools
        ]
        self._messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": question},
        ]
        self._client = openai.OpenAI(
            api_key=config.api_key,
            base_url=config.base_url,
            max_retries=config.max_retries,
            timeout=config.timeout,
        )
        self._calls = 0

    def _fail(self, exc: BaseException) -> ProviderError:
        return from_sdk_error(
            exc,
            provider="openai",
            where=self._where,
            key=self._config.api_key,
            retries=self._config.max_retries,
        )

    def reply(self) -> Reply:
        request: dict[str, Any] = {"model": self._config.model, "messages": self._messages}
        if self._tools:
            request["tools"] = self._tools
        create: Any = self._client.chat.completions.with_raw_response.create
        try:
            raw = create(**request)
            content: bytes = raw.http_response.content
        except self._sdk.APIError as exc:
            raise self._fail(exc) from None
        data = decode_body(
            content, raw.headers.get("content-type"), provider="openai", where=self._where
        )
        return self._parse(data)

    def _bad(self, what: str) -> ProviderBadResponse:
        return ProviderBadResponse(
            f"openai at {self._where} sent a malformed chat completion: {what}"
        )

    def _parse(self, data: dict[str, Any]) -> Reply:
        if "error" in data and "choices" not in data:
            raise self._bad("an error object with status 200")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._bad("no 'choices'")
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise self._bad("choices[0] has no 'message'")
        text = message.get("content")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise self._bad("message.content is not a string")
        raw_calls = message.get("tool_calls") or []
        if not isinstance(raw_calls, list):
            raise self._bad("message.tool_calls is not a list")
        calls: list[ToolCall] = []
        echo_calls: list[dict[str, Any]] = []
        for raw in raw_calls:
            function = raw.get("function") if isinstance(raw, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise self._bad("a tool call without function.name")
            self._calls += 1
            call_id = raw.get("id")
            if not isinstance(call_id, str) or not call_id:
                call_id = f"call_{self._calls}"  # some local servers send none
            calls.append(self._call(call_id, function["name"], function.get("arguments")))
            arguments = function.get("arguments")
            if not isinstance(arguments, str):  # a few servers send an object
                arguments = json.dumps(arguments)
            echo_calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": function["name"], "arguments": arguments},
                }
            )
        echo: dict[str, Any] = {"role": "assistant", "content": text or None}
        if echo_calls:
            echo["tool_calls"] = echo_calls
        self._messages.append(echo)
        reason = choices[0].get("finish_reason")
        stop = "max_tokens" if reason == "length" else _STOPS.get(str(reason), "end")
        return Reply(text.strip(), calls, stop)

    @staticmethod
    def _call(call_id: str, name: str, arguments: Any) -> ToolCall:
        if arguments is None or arguments == "":
            return ToolCall(call_id, name, {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                return ToolCall(call_id, name, None, "the arguments are not valid JSON")
        if not isinstance(arguments, dict):
            return ToolCall(call_id, name, None, "the arguments must be a JSON object")
        return ToolCall(call_id, name, arguments)

    def add_results(self, results: Sequence[ToolResult]) -> None:
        for r in results:
            content = f"Error: {r.content}" if r.is_error else r.content
            self._messages.append({"role": "tool", "tool_call_id": r.call_id, "content": content})

    def close(self) -> None:
        self._client.close()
