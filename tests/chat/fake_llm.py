"""A scripted stand-in for the Anthropic and OpenAI HTTP APIs on 127.0.0.1.

It speaks their wire formats as their public API references define them:

- Anthropic Messages: ``POST /v1/messages`` answers a ``message`` object whose ``content`` holds
  ``text`` and ``tool_use`` blocks (``stop_reason: "tool_use"`` or ``"end_turn"``); errors are
  ``{"type": "error", "error": {"type", "message"}}``.
- OpenAI Chat Completions: ``POST /v1/chat/completions`` answers a ``chat.completion`` whose
  ``choices[0].message.tool_calls`` carry ``function.arguments`` as a JSON *string*
  (``finish_reason: "tool_calls"`` or ``"stop"``); errors are
  ``{"error": {"message", "type", "param", "code"}}``.

A test queues steps (``script``): each is a function of the decoded request body returning a
:class:`Answer`, so a reply can depend on what the client sent (e.g. quote a run id that a tool
result contained). Every request is recorded (path, headers, body) for assertions.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple


class Answer(NamedTuple):
    status: int
    body: bytes
    headers: dict[str, str]


class Request(NamedTuple):
    path: str
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any]


Step = Callable[[dict[str, Any]], Answer]


def json_answer(status: int, value: Any, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, json.dumps(value).encode(), headers or {})


# -- Anthropic Messages ------------------------------------------------------------------------
def anthropic_message(
    content: list[dict[str, Any]], stop_reason: str, model: str = "claude-test"
) -> dict[str, Any]:
    return {
        "id": "msg_01TestMessage",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 120, "output_tokens": 30},
    }


def anthropic_text(text: str) -> Answer:
    return json_answer(200, anthropic_message([{"type": "text", "text": text}], "end_turn"))


def anthropic_tools(*uses: tuple[str, dict[str, Any]], text: str = "") -> Answer:
    """A turn asking for tools ``(name, input)``; ids ``toolu_1``, ``toolu_2``, ..."""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for i, (name, args) in enumerate(uses, 1):
        blocks.append({"type": "tool_use", "id": f"toolu_{i}", "name": name, "input": args})
    return json_answer(200, anthropic_message(blocks, "tool_use"))


def anthropic_error(status: int, kind: str, message: str, **headers: str) -> Answer:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return json_answer(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


# -- OpenAI Chat Completions -------------------------------------------------------------------
def openai_completion(message: dict[str, Any], finish_reason: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_760_000_000,
        "model": "gpt-test",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }


def openai_text(text: str) -> Answer:
    message = {"role": "assistant", "content": text, "refusal": None}
    return json_answer(200, openai_completion(message, "stop"))


def openai_tools(*calls: tuple[str, dict[str, Any] | str]) -> Answer:
    """A turn asking for tools ``(name, arguments)``; a ``str`` is sent as the raw
    ``arguments`` string (to send malformed JSON); ids ``call_1``, ``call_2``, ..."""
    tool_calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {
                "name": name,
                "arguments": args if isinstance(args, str) else json.dumps(args),
            },
        }
        for i, (name, args) in enumerate(calls, 1)
    ]
    message = {"role": "assistant", "content": None, "tool_calls": tool_calls, "refusal": None}
    return json_answer(200, openai_completion(message, "tool_calls"))


def openai_error(status: int, kind: str, message: str, **headers: str) -> Answer:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return json_answer(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


# -- the server --------------------------------------------------------------------------------
class FakeLLM:
    """Serves queued steps in order on ``http://127.0.0.1:<port>``; a request with no step
    left gets a 500 (and the test sees it in ``unexpected``)."""

    PATHS = ("/v1/messages", "/v1/chat/completions")

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.unexpected: list[str] = []
        self._steps: list[Step] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                body = json.loads(raw) if raw else {}
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer = owner.handle(self.path, headers, body)
                self.send_response(answer.status)
                has_type = any(k.lower() == "content-type" for k in answer.headers)
                if not has_type:
                    self.send_header("content-type", "application/json")
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def root(self) -> str:
        """The Anthropic SDK's ``base_url`` (it appends ``/v1/messages``)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def v1(self) -> str:
        """The OpenAI SDK's ``base_url`` (it appends ``/chat/completions``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *steps: Step | Answer) -> None:
        """Queue replies: an :class:`Answer` as is, or a function of the request body."""
        with self._lock:
            for step in steps:
                if isinstance(step, Answer):
                    self._steps.append(lambda _body, a=step: a)
                else:
                    self._steps.append(step)

    def handle(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> Answer:
        with self._lock:
            self.requests.append(Request(path, headers, body))
            if path not in self.PATHS:
                self.unexpected.append(f"unknown path {path}")
                return json_answer(404, {"error": {"message": "no such path"}})
            if not self._steps:
                self.unexpected.append(f"no step left for request {len(self.requests)}")
                return json_answer(500, {"error": {"message": "script exhausted"}})
            step = self._steps.pop(0)
        return step(body)

    @property
    def left(self) -> int:
        with self._lock:
            return len(self._steps)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
