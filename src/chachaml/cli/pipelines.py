"""CLI commands for pipelines: ``pipelines`` (the listing) and ``pipeline`` (one, with steps)."""

from __future__ import annotations

from typing import Any

import click

from chachaml import display, pipeline_api
from chachaml.cli.common import cli, echo_json, store_options
from chachaml.store import Store


@cli.command("pipelines")
@click.option("--name", help="Only pipelines with this name.")
@click.option("-s", "--status", help="running, completed, failed, killed or crashed.")
@click.option("-n", "--limit", default=50, show_default=True, type=int, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def pipelines_cmd(store: Store, as_json: bool, **kw: Any) -> None:
    """List pipelines, newest first (status is the pipeline run's)."""
    found = pipeline_api.pipelines(kw["limit"], kw["name"], kw["status"], store=store)
    if as_json:
        echo_json(found)
    else:
        display.pipelines_table(found)


@cli.command("pipeline")
@click.argument("pipeline_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def pipeline_cmd(store: Store, pipeline_id: str, as_json: bool) -> None:
    """Show one pipeline (id or id prefix) and its steps: status, run, duration, error."""
    found = pipeline_api.pipeline(pipeline_id, store=store)
    if as_json:
        echo_json(found)
    else:
        display.inspect_pipeline(found)
