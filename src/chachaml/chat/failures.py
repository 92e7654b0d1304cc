"""Errors of the chat layer and the mapping of provider SDK errors onto them.

Every message is built here from the provider's status code and its own short error text, and
passes through :func:`redact` so the API key can never appear in it; the SDK exception is not
chained (``raise ... from None``), because it holds the request, whose headers carry the key.
"""

from __future__ import annotations

from typing import Any

from chachaml.errors import ChachamlError

__all__ = [
    "ProviderAuthError",
    "ProviderBadResponse",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderRefused",
    "ProviderUnavailable",
    "from_sdk_error",
    "redact",
]

#: Characters of a provider's own error text kept in a message.
MAX_DETAIL = 300


class ProviderError(ChachamlError):
    """The LLM provider failed or could not be used. The HTTP API answers 502 with ``code``
    naming the kind; the CLI exits with 3."""

    code = "provider_error"
    exit_code = 3
    http_status = 502


class ProviderAuthError(ProviderError):
    """The provider refused the API key (HTTP 401 or 403)."""

    code = "provider_auth"


class ProviderRateLimited(ProviderError):
    """The provider still answered 429 after the retries."""

    code = "provider_rate_limited"


class ProviderRefused(ProviderError):
    """The provider refused the request itself (HTTP 400, 404, 422: e.g. an unknown model)."""

    code = "provider_refused"


class ProviderUnavailable(ProviderError):
    """No answer: connection refused, timeout, or a 5xx after the retries."""

    code = "provider_unavailable"


class ProviderBadResponse(ProviderError):
    """The provider answered 2xx with a body that is not what its API defines."""

    code = "provider_bad_response"


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced by ``***``."""
    if secret and len(secret) >= 4:
        return text.replace(secret, "***")
    return text


def _detail(body: Any) -> str:
    """The provider's own error text from an error body (both APIs put it at
    ``error.message``; the OpenAI SDK hands over the inner object already)."""
    inner = body.get("error", body) if isinstance(body, dict) else body
    message = inner.get("message") if isinstance(inner, dict) else None
    if not isinstance(message, str) or not message.strip():
        return ""
    text = " ".join(message.split())
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "..."


def from_sdk_error(
    exc: BaseException, *, provider: str, where: str, key: str | None, retries: int
) -> ProviderError:
    """The chachaml error for an exception raised by the ``anthropic`` or ``openai`` SDK.

    Both SDKs share the shape used here: ``status_code`` and ``body`` on status errors; class
    names ending in ``TimeoutError``/``ConnectionError`` for transport failures."""
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    cls: type[ProviderError] = ProviderError
    tries = f"{retries} retr{'y' if retries == 1 else 'ies'}"
    if isinstance(status, int):
        detail = _detail(getattr(exc, "body", None))
        said = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
        if status in (401, 403):
            env = "ANTHROPIC_API_KEY" if provider == "anthropic" else "OPENAI_API_KEY"
            cls, message = (
                ProviderAuthError,
                f"{provider} at {where} refused the API key ({said}); check the api_key "
                f"argument, CHACHAML_CHAT_API_KEY or {env}",
            )
        elif status == 429:
            cls, message = (
                ProviderRateLimited,
                f"{provider} at {where} is rate limiting this key ({said}), still after "
                f"{tries}; wait a little and ask again",
            )
        elif status >= 500:
            cls, message = (
                ProviderUnavailable,
                f"{provider} at {where} failed ({said}) after {tries}; try again later",
            )
        else:
            cls, message = (
                ProviderRefused,
                f"{provider} at {where} refused the request ({said}); check the model name "
                "and the base URL",
            )
    elif kind.endswith("TimeoutError"):
        cls, message = ProviderUnavailable, f"{provider} at {where} did not answer in time"
    elif kind.endswith("ConnectionError"):
        cls, message = (
            ProviderUnavailable,
            f"could not connect to {provider} at {where}; is the server running and the "
            "base URL right?",
        )
    elif kind == "APIResponseValidationError":
        cls, message = ProviderBadResponse, f"{provider} at {where} sent a malformed response"
    else:
        message = f"{provider} at {where} failed: {kind}"
    return cls(redact(message, key))
