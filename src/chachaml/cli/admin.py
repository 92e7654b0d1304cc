"""CLI commands for maintenance: ``archive``, ``doctor``, ``demo``."""

from __future__ import annotations

import sys

import click

from chachaml import cleanup
from chachaml.cli.common import cli, creating_store_options, echo_json, store_options
from chachaml.store import Store


@cli.command("archive")
@click.option(
    "--older-than-days",
    default=30.0,
    show_default=True,
    type=float,
    help="Archive runs that ended more than this many days ago (0: every finished run).",
)
@click.option("-e", "--experiment", help="Only runs of this experiment.")
@click.option("--delete", is_flag=True, help="Then delete all archived runs.")
@click.option(
    "--force", is_flag=True, help="With --delete: also delete runs backing model versions."
)
@store_options
def archive_cmd(
    store: Store, older_than_days: float, experiment: str | None, delete: bool, force: bool
) -> None:
    """Archive finished runs older than N days (hidden from default listings)."""
    n = cleanup.archive_runs(older_than_days, experiment, store=store)
    click.echo(f"archived {n} runs")
    if delete:
        d = cleanup.delete_archived(force=force, store=store)
        click.echo(f"deleted {d} archived runs")


@cli.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def doctor_cmd(store: Store, as_json: bool) -> None:
    """Check the store (schema, integrity, artifacts) and finalise crashed runs; exits 1 when
    a check fails."""
    from chachaml.health import doctor

    report = doctor(store)
    if as_json:
        echo_json(report)
    else:
        for check in report["checks"]:
            mark = "ok " if check["ok"] else "BAD"
            click.echo(f"[{mark}] {check['name']}: {check['detail']}")
    if not report["ok"]:
        sys.exit(1)


@cli.command("demo")
@click.option("--quiet", is_flag=True, help="Print only the closing summary, not the progress.")
@creating_store_options
def demo_cmd(store: Store, quiet: bool) -> None:
    """Track a realistic example workload (numpy softmax regression: a grid search, 5-fold CV,
    a registered model) into the store, creating it if needed; needs numpy."""
    from chachaml.demo import run_demo

    if quiet:
        run_demo(store=store, echo=lambda _m: None, report=click.echo)
    else:
        run_demo(store=store, echo=click.echo)
