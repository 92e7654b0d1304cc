"""Which provider, model, endpoint and key a chat uses: arguments first, then environment
variables, then documented defaults. The key is held only for the call and never shown."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from chachaml.errors import InvalidInput

__all__ = [
    "DEFAULT_MODELS",
    "KEY_ENV",
    "LOCAL_KEY",
    "PROVIDERS",
    "ChatConfig",
    "check_base_url",
    "endpoint_label",
    "is_loopback_url",
    "resolve_config",
]

PROVIDERS = ("anthropic", "openai")
#: The model used when none is given (the provider's public API only; a ``base_url`` server
#: needs its own model name, except with ``provider="anthropic"``).
DEFAULT_MODELS = {"anthropic": "claude-sonnet-5-5", "openai": "gpt-5.4-mini"}
#: The provider's usual key variable, read only when no ``base_url`` is set (so a key meant
#: for the provider is never sent to another server).
KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
#: The key sent to a ``base_url`` server when none is given (local servers ignore it).
LOCAL_KEY = "no-key"
MAX_URL_CHARS = 500


@dataclass(frozen=True)
class ChatConfig:
    """The resolved settings of one chat (``api_key`` is left out of ``repr``)."""

    provider: str
    model: str
    base_url: str | None
    api_key: str = field(repr=False)
    max_retries: int = 2
    timeout: float = 60.0


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is this machine (``localhost``, 127.0.0.0/8 or ``::1``)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_label(config: ChatConfig) -> str:
    """Where requests go, for messages: the base URL without any user/password part."""
    if config.base_url is None:
        return "its public API"
    parts = urlsplit(config.base_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_base_url(url: str) -> str:
    """``url`` if it is an ``http(s)://host...`` URL of reasonable length."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("base_url must be a non-empty http(s) URL")
    url = url.strip()
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"base_url is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise InvalidInput("base_url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            "base_url must start with http:// or https:// and name a host, e.g. "
            "http://127.0.0.1:8080/v1"
        )
    return url


def resolve_config(
    *,
    provider: str | None,
    model: str | None,
    base_url: str | None,
    api_key: str | None,
    max_retries: int = 2,
    timeout: float = 60.0,
    environ: Mapping[str, str] | None = None,
) -> ChatConfig:
    """Fill in what was not given.

    - ``base_url``: the argument, else ``CHACHAML_CHAT_BASE_URL``, else the provider's public
      API (the SDK's own ``ANTHROPIC_BASE_URL``/``OPENAI_BASE_URL`` still apply then).
    - ``provider``: the argument, else ``CHACHAML_CHAT_PROVIDER``, else ``"openai"`` when a
      base URL is set (the OpenAI-compatible local servers) and ``"anthropic"`` otherwise.
    - ``model``: the argument, else ``CHACHAML_CHAT_MODEL``, else :data:`DEFAULT_MODELS`; an
      ``openai`` base URL server has no default (name the model it serves).
    - ``api_key``: the argument, else ``CHACHAML_CHAT_API_KEY``, else (no base URL) the
      provider's variable (:data:`KEY_ENV`), else (a base URL) :data:`LOCAL_KEY`.
    """
    env = os.environ if environ is None else environ
    if base_url is None:
        base_url = env.get("CHACHAML_CHAT_BASE_URL") or None
    if base_url is not None:
        base_url = check_base_url(base_url)
    if provider is None:
        provider = env.get("CHACHAML_CHAT_PROVIDER") or (
            "openai" if base_url is not None else "anthropic"
        )
    if provider not in PROVIDERS:
        raise InvalidInput(f"provider must be one of {', '.join(PROVIDERS)}, not {provider!r}")
    if model is None:
        model = env.get("CHACHAML_CHAT_MODEL") or None
    if model is None:
        if provider == "openai" and base_url is not None:
            raise InvalidInput(
                "name the model your server serves: model='...' (CLI: --model) or "
                "CHACHAML_CHAT_MODEL, e.g. the name shown by `ollama list`; llama.cpp's server "
                "accepts any name"
            )
        model = DEFAULT_MODELS[provider]
    if not isinstance(model, str) or not model.strip() or len(model) > 200:
        raise InvalidInput("model must be a non-empty name of at most 200 characters")
    if api_key is None:
        api_key = env.get("CHACHAML_CHAT_API_KEY") or None
    if api_key is None and base_url is None:
        api_key = env.get(KEY_ENV[provider]) or None
        if api_key is None:
            raise InvalidInput(
                f"no API key for {provider}: set {KEY_ENV[provider]} (or CHACHAML_CHAT_API_KEY) "
                "or pass api_key=... (CLI: --api-key-env NAME); for a local server pass "
                "base_url=... (CLI: --base-url)"
            )
    if api_key is None:
        api_key = LOCAL_KEY
    if not isinstance(api_key, str) or not api_key.strip():
        raise InvalidInput("api_key must be a non-empty string")
    if any(ch in api_key for ch in "\r\n\0"):
        # Never echo it: a header with these characters could not be sent anyway.
        raise InvalidInput("api_key contains a line break or NUL character")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise InvalidInput("max_retries must be an integer >= 0")
    if not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
        raise InvalidInput("timeout must be a number of seconds in (0, 3600]")
    return ChatConfig(provider, model.strip(), base_url, api_key.strip(), max_retries, timeout)
