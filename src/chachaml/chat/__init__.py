"""Chat with your experiments: an LLM answers questions by calling chachaml's tools (the same
tool layer as the MCP server) against your store.

Providers: the Anthropic Messages API and OpenAI Chat Completions through their official SDKs
(``pip install 'chachaml[chat]'``), and any OpenAI-compatible server at ``base_url`` (llama.cpp,
vLLM, Ollama) for fully offline use. The SDKs are imported only when :func:`ask` runs.

>>> from chachaml.chat import ask
>>> ask("Which run has the best accuracy?")["answer"]  # doctest: +SKIP
'Run 5c1f0e... has the best accuracy (0.97) ...'
"""

from __future__ import annotations

from chachaml.chat.config import DEFAULT_MODELS as DEFAULT_MODELS
from chachaml.chat.config import PROVIDERS as PROVIDERS
from chachaml.chat.failures import ProviderAuthError as ProviderAuthError
from chachaml.chat.failures import ProviderBadResponse as ProviderBadResponse
from chachaml.chat.failures import ProviderError as ProviderError
from chachaml.chat.failures import ProviderRateLimited as ProviderRateLimited
from chachaml.chat.failures import ProviderRefused as ProviderRefused
from chachaml.chat.failures import ProviderUnavailable as ProviderUnavailable
from chachaml.chat.loop import MAX_ITERATIONS as MAX_ITERATIONS
from chachaml.chat.loop import MAX_QUESTION_CHARS as MAX_QUESTION_CHARS
from chachaml.chat.loop import ask as ask

__all__ = [
    "DEFAULT_MODELS",
    "MAX_ITERATIONS",
    "MAX_QUESTION_CHARS",
    "PROVIDERS",
    "ProviderAuthError",
    "ProviderBadResponse",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderRefused",
    "ProviderUnavailable",
    "ask",
]
