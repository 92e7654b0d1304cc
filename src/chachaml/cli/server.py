"""CLI commands ``server`` (the HTTP API and web UI) and ``sync`` (send spooled metrics); the
serving shared with ``chachaml ui`` (:func:`serve`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from chachaml.cli.common import cli, echo_json
from chachaml.errors import InvalidInput

F = TypeVar("F", bound=Callable[..., Any])


def server_options(fn: F) -> F:
    """The options ``chachaml server`` and ``chachaml ui`` share."""
    options = [
        click.option(
            "--store", "store_url", envvar="CHACHAML_STORE", help="Store URL or SQLite path."
        ),
        click.option(
            "--artifacts", "artifacts_url", envvar="CHACHAML_ARTIFACTS", help="Artifact location."
        ),
        click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind."),
        click.option(
            "--port", default=8080, show_default=True, type=int, help="Port to listen on."
        ),
        click.option(
            "--token",
            "tokens",
            multiple=True,
            help="Bearer token, optionally TOKEN:read or TOKEN:write (repeatable; also "
            "CHACHAML_TOKENS). Browsers sign in at /login.",
        ),
        click.option("--insecure", is_flag=True, help="Allow a non-loopback bind without tokens."),
        click.option(
            "--allowed-host",
            "allowed",
            multiple=True,
            metavar="NAME",
            help="Also answer requests whose Host header is NAME, e.g. behind a reverse proxy "
            "(repeatable; also CHACHAML_ALLOWED_HOSTS, comma-separated; '*' = any). Loopback "
            "names and the --host address are always allowed; any other Host gets 400 (DNS "
            "rebinding).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@cli.command("server")
@server_options
def server_cmd(
    store_url: str | None,
    artifacts_url: str | None,
    host: str,
    port: int,
    tokens: tuple[str, ...],
    insecure: bool,
    allowed: tuple[str, ...],
) -> None:
    """Serve one store: the JSON HTTP API (schema at /api/openapi.json) and the web UI (the
    same app as `chachaml ui`)."""
    serve(store_url, artifacts_url, host, port, tokens, insecure, allowed)


def serve(
    store_url: str | None,
    artifacts_url: str | None,
    host: str,
    port: int,
    tokens: tuple[str, ...],
    insecure: bool,
    allowed: tuple[str, ...],
    *,
    name: str = "server",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Check the bind and tokens, build the app and serve it until interrupted; ``on_ready``
    gets the server's URL once it is listening."""
    import os

    try:
        import fastapi  # noqa: F401 - only checked here; the app imports it
        import uvicorn
    except ImportError as exc:  # pragma: no cover - the server extra is in dev
        raise InvalidInput(f"chachaml {name} needs: pip install 'chachaml[server]'") from exc
    from chachaml.server.app import create_app
    from chachaml.server.settings import LOOPBACK_HOSTS, Settings, allowed_hosts, parse_tokens

    table = parse_tokens(os.environ.get("CHACHAML_TOKENS"))
    table.update(parse_tokens(",".join(tokens)))
    if host not in LOOPBACK_HOSTS and not table:
        if not insecure:
            raise InvalidInput(
                f"refusing to serve on {host} without tokens: anyone who can reach it could read "
                "and write every run. Pass --token (or CHACHAML_TOKENS), or --insecure"
            )
        click.echo(f"WARNING: serving on {host} WITHOUT authentication (--insecure)", err=True)
    names = [*os.environ.get("CHACHAML_ALLOWED_HOSTS", "").split(","), *allowed]
    hosts = allowed_hosts(names, bind_host=host)
    if _unspecified(host) and hosts == allowed_hosts((), bind_host=host):
        click.echo(
            f"note: only loopback Host names are served; add the names clients use to reach "
            f"{host} with --allowed-host NAME",
            err=True,
        )
    if _port_in_use(host, port):
        raise InvalidInput(
            f"port {port} on {host} is already in use (another server?): pass --port N "
            "(with make demo: make demo PORT=N)"
        )
    settings = Settings(
        store_url=store_url, artifacts_url=artifacts_url, tokens=table, allowed_hosts=hosts
    )
    app = create_app(settings)
    url = local_url(host, port)
    click.echo(f"chachaml {name} on {url} (store {app.state.store.url})", err=True)
    if on_ready is not None:
        _when_listening(host, port, lambda: on_ready(url))
    uvicorn.run(app, host=host, port=port, log_level="info")


def _port_in_use(host: str, port: int) -> bool:
    """True when ``host:port`` cannot be bound (checked before the store is opened, so a busy
    port neither creates a store file nor starts half a server)."""
    import socket

    address = "0.0.0.0" if host == "" else host.strip("[]")  # noqa: S104 - only a bind test
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((address, port))
        except OSError:
            return True
    return False


def local_url(host: str, port: int) -> str:
    """The URL a browser on this machine uses for a server bound to ``host``."""
    if _unspecified(host):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _when_listening(
    host: str, port: int, action: Callable[[], None], timeout: float = 60.0
) -> None:
    """Call ``action`` from a helper thread as soon as ``host:port`` accepts connections (not
    at all if nothing listens there within ``timeout`` seconds)."""
    import socket
    import threading
    import time

    target = "127.0.0.1" if _unspecified(host) else host.strip("[]")

    def wait() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((target, port), timeout=1.0):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            return
        action()

    threading.Thread(target=wait, name="chachaml-open-browser", daemon=True).start()


def _unspecified(host: str) -> bool:
    """True for a wildcard bind address (all interfaces)."""
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


@cli.command("sync")
@click.option("--store", "store_url", envvar="CHACHAML_STORE", help="The server URL (http://...).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def sync_cmd(store_url: str | None, as_json: bool) -> None:
    """Send metric batches spooled while the server was unreachable."""
    if not store_url or not store_url.startswith(("http://", "https://")):
        raise InvalidInput("chachaml sync needs --store http(s)://host:port (the server URL)")
    from chachaml.store.remote import sync_outbox

    result = sync_outbox(store_url)
    if as_json:
        echo_json(result)
    else:
        click.echo(f"sent {result['sent']} batches; {result['remaining']} still waiting")
