"""``chachaml mcp``: serve the agent tools to an MCP client over stdio."""

from __future__ import annotations

import click

from chachaml.cli.common import cli, store_options
from chachaml.store import Store


@cli.command("mcp")
@click.option(
    "--read-only",
    is_flag=True,
    help="Offer only the read tools (no add_tag, set_note, create_experiment, promote_model).",
)
@store_options
def mcp_cmd(store: Store, read_only: bool) -> None:
    """Serve the store's tools to an MCP client over stdin/stdout (for Claude Code, Claude
    Desktop or any MCP client; see docs/mcp.md). Runs until stdin closes."""
    try:
        from chachaml import mcp_server
    except ImportError as exc:  # pragma: no cover - mcp is in the dev extras
        from chachaml.errors import InvalidInput

        raise InvalidInput(
            f"chachaml mcp needs the MCP SDK: pip install 'chachaml[mcp]' ({exc})"
        ) from exc
    mcp_server.serve_stdio(store, allow_writes=not read_only)
