"""CLI command ``ui``: serve the web UI (the same app as ``chachaml server``: the pages and the
JSON API, one auth model) and optionally open it in the browser."""

from __future__ import annotations

import click

from chachaml.cli.common import cli
from chachaml.cli.server import serve, server_options


@cli.command("ui")
@server_options
@click.option("--open", "open_browser", is_flag=True, help="Open the UI in the browser.")
def ui_cmd(
    store_url: str | None,
    artifacts_url: str | None,
    host: str,
    port: int,
    tokens: tuple[str, ...],
    insecure: bool,
    allowed: tuple[str, ...],
    open_browser: bool,
) -> None:
    """Browse a store in the web UI: runs, charts, compare, search, experiments, models,
    pipelines, alerts and chat (the same server as `chachaml server`; the JSON API is under
    /api). With --token, browsers sign in at /login."""

    def open_page(url: str) -> None:
        import webbrowser

        if not webbrowser.open(url + "/"):
            click.echo(f"open {url}/ in a browser", err=True)

    serve(
        store_url,
        artifacts_url,
        host,
        port,
        tokens,
        insecure,
        allowed,
        name="ui",
        on_ready=open_page if open_browser else None,
    )
