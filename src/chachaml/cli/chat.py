"""``chachaml chat "question"``: ask an LLM about the store (one call to ``chat.ask``).

The API key is never an argument (argv is visible to every user in ``ps``): it comes from
``CHACHAML_CHAT_API_KEY``, the provider's usual variable, or the variable named by
``--api-key-env``.
"""

from __future__ import annotations

import os

import click

from chachaml import chat
from chachaml.cli.common import cli, echo_json, store_options
from chachaml.errors import InvalidInput
from chachaml.store import Store


@cli.command("chat")
@click.argument("question")
@click.option(
    "--provider",
    type=click.Choice(chat.PROVIDERS),
    envvar="CHACHAML_CHAT_PROVIDER",
    help="API format. Default: openai with a base URL, else anthropic.",
)
@click.option(
    "--model",
    envvar="CHACHAML_CHAT_MODEL",
    help=f"Model name. Default: {chat.DEFAULT_MODELS['anthropic']} (anthropic), "
    f"{chat.DEFAULT_MODELS['openai']} (openai); a --base-url server needs its model's name.",
)
@click.option(
    "--base-url",
    envvar="CHACHAML_CHAT_BASE_URL",
    help="An OpenAI-compatible server (llama.cpp, vLLM, Ollama), e.g. "
    "http://127.0.0.1:8081/v1. Default: the provider's public API.",
)
@click.option(
    "--api-key-env",
    metavar="NAME",
    help="Read the API key from environment variable NAME (default: CHACHAML_CHAT_API_KEY, "
    "then ANTHROPIC_API_KEY / OPENAI_API_KEY without a base URL).",
)
@click.option(
    "--max-iterations",
    type=click.IntRange(1, chat.MAX_ITERATIONS),
    default=10,
    show_default=True,
    help="Most model calls; exit code 1 when the model still wanted tools after them.",
)
@click.option("--allow-writes", is_flag=True, help="Offer the tools that tag, annotate, promote.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@store_options
def chat_cmd(
    store: Store,
    question: str,
    provider: str | None,
    model: str | None,
    base_url: str | None,
    api_key_env: str | None,
    max_iterations: int,
    allow_writes: bool,
    as_json: bool,
) -> None:
    """Ask QUESTION about your experiments: an LLM answers by calling chachaml's tools on the
    store, citing run ids."""
    api_key = None
    if api_key_env is not None:
        api_key = os.environ.get(api_key_env) or None
        if api_key is None:
            raise InvalidInput(f"--api-key-env: environment variable {api_key_env} is not set")
    result = chat.ask(
        question,
        provider=provider,
        model=model,
        base_url=base_url,
        api_key=api_key,
        max_iterations=max_iterations,
        allow_writes=allow_writes,
        store=store,
    )
    if as_json:
        echo_json(result)
    else:
        click.echo(result["answer"])
        names = ", ".join(dict.fromkeys(c["name"] for c in result["tool_calls"])) or "none"
        n = result["iterations"]
        click.echo(
            f"({result['provider']} {result['model']}: {n} model call{'' if n == 1 else 's'}; "
            f"tools: {names})",
            err=True,
        )
    if result["stop_reason"] == "max_iterations":
        raise SystemExit(1)
