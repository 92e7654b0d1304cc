"""Shared CLI plumbing: the root group, ``--store``/``--artifacts`` options, error handling."""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from chachaml.errors import ChachamlError

F = TypeVar("F", bound=Callable[..., Any])


class _Group(click.Group):
    """Turns chachaml errors into one line on stderr and the error's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ChachamlError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="chachaml", prog_name="chachaml")
def cli() -> None:
    """chachaml: local-first experiment tracking.

    Every command reads the store from --store (or CHACHAML_STORE), default ./chachaml.db.
    """


def _require_existing(store_url: str | None) -> None:
    """A SQLite store named on the command line must exist: a typo must not create an empty
    store and then report that it holds nothing."""
    import os

    from chachaml.store import resolve_urls, sqlite_path

    url, _ = resolve_urls(store_url, None)
    path = sqlite_path(url)
    if path is not None and path != ":memory:" and not os.path.exists(path):
        from chachaml.errors import NotFound

        raise NotFound(
            f"no store at {path}: nothing has been logged there (check --store or "
            "CHACHAML_STORE; `chachaml demo` creates an example store)"
        )


def _with_store(fn: F, *, create: bool) -> F:
    @click.option("--store", "store_url", envvar="CHACHAML_STORE", help="Store URL or SQLite path.")
    @click.option(
        "--artifacts", "artifacts_url", envvar="CHACHAML_ARTIFACTS", help="Artifact location."
    )
    @functools.wraps(fn)
    def wrapper(*args: Any, store_url: str | None, artifacts_url: str | None, **kwargs: Any) -> Any:
        from chachaml import context

        if not create:
            _require_existing(store_url)
        with context.store(store_url, artifacts=artifacts_url) as st:
            return fn(*args, store=st, **kwargs)

    return wrapper  # type: ignore[return-value]


def store_options(fn: F) -> F:
    """Add ``--store``/``--artifacts`` and open the store (which must exist) for the
    command's duration."""
    return _with_store(fn, create=False)


def creating_store_options(fn: F) -> F:
    """Like :func:`store_options`, for commands that may create the store (``demo``)."""
    return _with_store(fn, create=True)


def plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf; print them as "nan"/"inf"
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def echo_json(value: Any) -> None:
    click.echo(json.dumps(plain(value), indent=2, sort_keys=False, default=str))
