"""``POST /api/chat``: ask a question about the store; one call to ``chat.ask``.

The caller's provider API key comes with each request (``api_key`` in the body or the
``X-Chat-Api-Key`` header) and is used for that request only: never stored, logged or
returned. The server uses no key or chat setting of its own environment.

A read token may chat with the read tools; ``allow_writes: true`` needs a read-write token.
``base_url`` (a local OpenAI-compatible server) is accepted only when it is on loopback and the
server itself is reachable from loopback only (the default ``chachaml ui``): a server others can
reach must not become a proxy into its own machine's ports.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, Field, SecretStr, StrictBool, StrictInt
from starlette.requests import Request
from starlette.responses import Response

from chachaml import chat
from chachaml.chat.config import LOCAL_KEY, MAX_URL_CHARS, check_base_url, is_loopback_url
from chachaml.errors import InvalidInput
from chachaml.server.auth import READ, require_write
from chachaml.server.deps import settings_of, store_of
from chachaml.server.encoding import json_response
from chachaml.server.errors import Forbidden
from chachaml.server.settings import LOOPBACK_NAMES

__all__ = ["ChatRequest", "router"]

router = APIRouter()

MAX_KEY_CHARS = 1000

KeyHeader = Annotated[
    str | None,
    Header(
        alias="X-Chat-Api-Key",
        max_length=MAX_KEY_CHARS,
        description="The provider API key, instead of `api_key` in the body.",
    ),
]


class ChatRequest(BaseModel):
    """A question. ``provider`` defaults to ``openai`` with a ``base_url`` and ``anthropic``
    otherwise; ``model`` defaults to the provider's documented default (a ``base_url`` server
    needs it named); ``api_key`` (or the ``X-Chat-Api-Key`` header) is required unless a
    ``base_url`` is given."""

    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, Field(min_length=1, max_length=chat.MAX_QUESTION_CHARS)]
    provider: Literal["anthropic", "openai"] | None = None
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    base_url: Annotated[str, Field(min_length=1, max_length=MAX_URL_CHARS)] | None = None
    api_key: Annotated[SecretStr, Field(min_length=1, max_length=MAX_KEY_CHARS)] | None = None
    max_iterations: Annotated[StrictInt, Field(ge=1, le=chat.MAX_ITERATIONS)] = 10
    allow_writes: StrictBool = False


def _serves_loopback_only(request: Request) -> bool:
    return settings_of(request).allowed_hosts <= LOOPBACK_NAMES


@router.post("/api/chat", dependencies=[READ], tags=["chat"])
def ask(request: Request, body: ChatRequest, x_chat_api_key: KeyHeader = None) -> Response:
    """Answer ``question`` with an LLM calling chachaml's tools on this store:
    ``{"answer", "iterations", "tool_calls", "stop_reason", "provider", "model"}``. The answer
    is untrusted text (Markdown at most). Provider failures are 502 with codes
    ``provider_auth``, ``provider_rate_limited``, ``provider_refused``, ``provider_unavailable``
    or ``provider_bad_response``."""
    if body.allow_writes:
        require_write(request)
    if body.base_url is not None:
        base_url = check_base_url(body.base_url)
        if not is_loopback_url(base_url):
            raise Forbidden(
                "base_url must be on this machine's loopback (127.0.0.1, ::1, localhost); "
                "for another server run `chachaml chat --base-url ...` yourself"
            )
        if not _serves_loopback_only(request):
            raise Forbidden(
                "this server is reachable from other machines, so it accepts no base_url; "
                "use the provider's public API or run `chachaml chat --base-url ...` locally"
            )
        if body.model is None and body.provider != "anthropic":
            # The server reads no CHACHAML_CHAT_MODEL of its own: say what to send instead.
            raise InvalidInput(
                'name the model your server at base_url serves: "model" in the body, e.g. '
                "the name shown by `ollama list` (llama.cpp's server accepts any name)"
            )
    key = body.api_key.get_secret_value() if body.api_key is not None else x_chat_api_key
    if not key:
        if body.base_url is None:
            raise InvalidInput(
                "send your provider API key as api_key or in the X-Chat-Api-Key header; this "
                "server uses no key of its own"
            )
        key = LOCAL_KEY
    result: dict[str, Any] = chat.ask(
        body.question,
        provider=body.provider,
        model=body.model,
        base_url=body.base_url,
        api_key=key,
        max_iterations=body.max_iterations,
        allow_writes=body.allow_writes,
        store=store_of(request),
        environ={},
    )
    return json_response(request, result)
