"""The tool-calling loop: ask the model, run the tools it asks for, send the results back,
until it answers without tools or ``max_iterations`` model calls have been made."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from chachaml.chat.config import ChatConfig, resolve_config
from chachaml.chat.protocol import Conversation, ToolCall, ToolResult
from chachaml.errors import ChachamlError, InvalidInput
from chachaml.store import Store
from chachaml.tools import Tool, call_tool, tool_specs

__all__ = [
    "MAX_CALLS_PER_TURN",
    "MAX_ITERATIONS",
    "MAX_QUESTION_CHARS",
    "MAX_RESULT_CHARS",
    "SYSTEM_PROMPT",
    "ask",
]

_log = logging.getLogger("chachaml.chat")

MAX_QUESTION_CHARS = 8000
MAX_ITERATIONS = 20
#: Characters of one tool result sent to the model (the tools already page and clip).
MAX_RESULT_CHARS = 30_000
#: Tool calls run per model turn; further calls of that turn get an error result instead (a
#: misbehaving model must not make one question run thousands of queries).
MAX_CALLS_PER_TURN = 32

SYSTEM_PROMPT = """\
You answer questions about machine-learning experiments tracked with chachaml, using the \
tools to read the user's store: runs (params, metrics, tags, notes), experiments, registered \
models and their versions, pipelines and alerts. Look facts up with the tools; never invent \
run ids, names or numbers. Cite every run you mention by its id (for example \
"run 3f2a9c1e..."), and model versions by name and version number. If the tools find nothing \
relevant, say so. If a tool reports an error, correct the arguments and try again. Answer \
concisely in plain text or Markdown (never HTML)."""

_WRITES = {
    False: "Tools that change the store are not available in this chat.",
    True: "Tools that change the store (tags, notes, experiments) are available; use them "
    "only when the user asks for a change.",
}


def _conversation(
    config: ChatConfig, tools: Sequence[Tool], system: str, question: str
) -> Conversation:
    if config.provider == "anthropic":
        from chachaml.chat.anthropic_provider import AnthropicConversation

        return AnthropicConversation(config, tools, system, question)
    from chachaml.chat.openai_provider import OpenAIConversation

    return OpenAIConversation(config, tools, system, question)


def _run_tool(
    call: ToolCall, store: Store | None, allow_writes: bool, index: int = 0
) -> tuple[str, str | None]:
    """The tool's result as text for the model, and the error message if it failed (a
    failed call goes back to the model marked as an error; it does not end the chat).
    ``index`` is the call's place in its turn: past :data:`MAX_CALLS_PER_TURN` it is not run."""
    if index >= MAX_CALLS_PER_TURN:
        message = (
            f"not run: at most {MAX_CALLS_PER_TURN} tool calls per turn; call the ones you "
            "still need in the next turn"
        )
        return message, message
    if call.problem is not None:
        message = f"{call.problem}; call {call.name} again with a JSON object of arguments"
        return message, message
    try:
        result = call_tool(call.name, call.arguments, store=store, allow_writes=allow_writes)
    except ChachamlError as exc:
        return exc.message, exc.message
    text = json.dumps(result, ensure_ascii=False, default=str)
    if len(text) > MAX_RESULT_CHARS:
        cut = len(text) - MAX_RESULT_CHARS
        text = f"{text[:MAX_RESULT_CHARS]}... [truncated: {cut:,} more characters; ask for less]"
    return text, None


def ask(
    question: str,
    *,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    max_iterations: int = 10,
    allow_writes: bool = False,
    store: Store | None = None,
    max_retries: int = 2,
    timeout: float = 60.0,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Answer ``question`` about the tracked experiments with an LLM that calls chachaml's
    tools (the same tools as the MCP server) on ``store`` (default: the current store).

    Returns ``{"answer", "iterations", "tool_calls", "stop_reason", "provider", "model"}``:
    ``iterations`` counts model calls; each tool call is ``{"iteration", "name",
    "arguments", "error"}`` (``error`` None when it worked). ``stop_reason`` is ``"answer"``,
    ``"max_tokens"`` (the answer was cut at the output limit) or ``"max_iterations"``: the
    model still wanted tools after ``max_iterations`` calls; then ``answer`` says so (followed
    by any text the model had written) and the unrun tool calls are not executed.

    Provider, model, base URL and key come from the arguments, then the environment
    (``environ``, default ``os.environ``; the HTTP API passes ``{}``), then defaults (see
    :func:`chachaml.chat.config.resolve_config`); the key is used for this call
    only and never logged, stored or put in an error message. Provider failures raise
    :class:`~chachaml.chat.failures.ProviderError` subclasses; 429 and 5xx answers are retried
    ``max_retries`` times first (honouring ``retry-after``).

    >>> ask("Which run has the best accuracy?", base_url="http://127.0.0.1:8081/v1",
    ...     model="qwen2.5")  # doctest: +SKIP
    {'answer': 'Run 5c1f... has the best accuracy (0.97).', 'iterations': 2, ...}
    """
    if not isinstance(question, str) or not question.strip():
        raise InvalidInput("question must be a non-empty string")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInput(f"question is longer than {MAX_QUESTION_CHARS} characters")
    if (
        isinstance(max_iterations, bool)
        or not isinstance(max_iterations, int)
        or not 1 <= max_iterations <= MAX_ITERATIONS
    ):
        raise InvalidInput(f"max_iterations must be an integer from 1 to {MAX_ITERATIONS}")
    config = resolve_config(
        provider=provider,
        model=model,
        base_url=base_url,
        api_key=api_key,
        max_retries=max_retries,
        timeout=timeout,
        environ=environ,
    )
    allow_writes = bool(allow_writes)
    tools = tool_specs(allow_writes=allow_writes)
    system = f"{SYSTEM_PROMPT}\n{_WRITES[allow_writes]}"
    calls: list[dict[str, Any]] = []

    def result(answer: str, iterations: int, stop_reason: str) -> dict[str, Any]:
        return {
            "answer": answer,
            "iterations": iterations,
            "tool_calls": calls,
            "stop_reason": stop_reason,
            "provider": config.provider,
            "model": config.model,
        }

    conversation = _conversation(config, tools, system, question.strip())
    try:
        for iteration in range(1, max_iterations + 1):
            reply = conversation.reply()
            _log.debug(
                "chat: model call %d of %d asked for %d tool(s)",
                iteration,
                max_iterations,
                len(reply.tool_calls),
            )
            if not reply.tool_calls:
                stop = "max_tokens" if reply.stop == "max_tokens" else "answer"
                return result(reply.text or "(the model gave an empty answer)", iteration, stop)
            if iteration == max_iterations:
                wanted = ", ".join(sorted({c.name[:64] for c in reply.tool_calls}))
                note = (
                    f"[no final answer: stopped after {max_iterations} model calls "
                    f"(max_iterations) while the model still wanted to call {wanted}; ask a "
                    "narrower question or allow more iterations]"
                )
                return result(f"{note}\n\n{reply.text}".strip(), iteration, "max_iterations")
            results: list[ToolResult] = []
            for index, call in enumerate(reply.tool_calls):
                content, error = _run_tool(call, store, allow_writes, index)
                calls.append(
                    {
                        "iteration": iteration,
                        "name": call.name,
                        "arguments": call.arguments,
                        "error": error,
                    }
                )
                results.append(ToolResult(call.id, content, error is not None))
            conversation.add_results(results)
    finally:
        conversation.close()
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns
