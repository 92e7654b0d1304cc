"""CLI commands for alerts: the ``alerts`` group (list, set, activate, deactivate, delete,
history, check, watch) and ``alert-history``."""

from __future__ import annotations

from typing import Any

import click

from chachaml import alert_api, display
from chachaml.cli.common import cli, echo_json, store_options
from chachaml.store import Store


def _print_check(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(summary)
        return
    triggered = summary["triggered"]
    failed = sum(1 for d in summary["deliveries"] if d["delivery"] == "failed")
    n = summary["checked"]
    line = f"checked {n} alert{'' if n == 1 else 's'}: {len(triggered)} triggered"
    if summary["deliveries"]:
        line += f", {len(summary['deliveries']) - failed} delivered, {failed} failed"
    if summary.get("error"):
        line += f" (check failed: {summary['error']})"
    click.echo(line)
    if triggered:
        display.alert_events_table(triggered, title="triggered")


@cli.group("alerts", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def alerts_group(ctx: click.Context, as_json: bool) -> None:
    """Alert rules on a metric's latest value in finished runs. Without a subcommand: list
    the rules (same as `chachaml alerts list`)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd, as_json=as_json)


@alerts_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def list_cmd(store: Store, as_json: bool) -> None:
    """List the alert rules (webhook URLs masked)."""
    rules = alert_api.alerts(store=store)
    if as_json:
        echo_json(rules)
    else:
        display.alerts_table(rules)


@alerts_group.command("set")
@click.argument("name")
@click.argument("metric")
@click.argument("op", type=click.Choice(alert_api.OPS))
@click.argument("threshold", type=float, required=False)
@click.option("-e", "--experiment", help="Only runs of this experiment.")
@click.option("-f", "--filter", "filter", help="Only runs matching this filter expression.")
@click.option(
    "--webhook",
    "webhook_url",
    envvar="CHACHAML_ALERT_WEBHOOK",
    help="Webhook URL (Slack or any JSON endpoint); default $CHACHAML_ALERT_WEBHOOK.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def set_cmd(
    store: Store,
    name: str,
    metric: str,
    op: str,
    threshold: float | None,
    experiment: str | None,
    filter: str | None,
    webhook_url: str | None,
    as_json: bool,
) -> None:
    """Create or replace alert NAME: fire when a finished run's latest METRIC is OP THRESHOLD
    (OP: > >= < <= == !=), or OP nan / missing (no THRESHOLD)."""
    row = alert_api.set_alert(
        name, metric, op, threshold, experiment, webhook_url, filter, store=store
    )
    if as_json:
        echo_json(row)
    else:
        click.echo(f"alert {row['name']} set: {display.alert_rule_text(row)}")


def _toggle(name: str, active: bool, store: Store) -> None:
    if active:
        alert_api.activate_alert(name, store=store)
    else:
        alert_api.deactivate_alert(name, store=store)
    click.echo(f"alert {name} {'activated' if active else 'deactivated'}")


@alerts_group.command("activate")
@click.argument("name")
@store_options
def activate_cmd(store: Store, name: str) -> None:
    """Turn alert NAME on (it watches runs that finish from now on)."""
    _toggle(name, True, store)


@alerts_group.command("deactivate")
@click.argument("name")
@store_options
def deactivate_cmd(store: Store, name: str) -> None:
    """Stop checking alert NAME (kept, with its history)."""
    _toggle(name, False, store)


@alerts_group.command("delete")
@click.argument("name")
@store_options
def delete_cmd(store: Store, name: str) -> None:
    """Delete alert NAME and its events."""
    alert_api.delete_alert(name, store=store)
    click.echo(f"alert {name} deleted")


def _history(store: Store, name: str | None, limit: int, as_json: bool) -> None:
    events = alert_api.alert_history(name, limit, store=store)
    if as_json:
        echo_json(events)
    else:
        display.alert_events_table(events)


@alerts_group.command("history")
@click.argument("name", required=False)
@click.option("-n", "--limit", default=100, show_default=True, type=int, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def history_cmd(store: Store, name: str | None, limit: int, as_json: bool) -> None:
    """Alert events (of NAME, or all), newest first, with their delivery status."""
    _history(store, name, limit, as_json)


@cli.command("alert-history")
@click.argument("name", required=False)
@click.option("-n", "--limit", default=100, show_default=True, type=int, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def alert_history_cmd(store: Store, name: str | None, limit: int, as_json: bool) -> None:
    """Alert events (of NAME, or all), newest first (same as `chachaml alerts history`)."""
    _history(store, name, limit, as_json)


@alerts_group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def check_cmd(store: Store, as_json: bool) -> None:
    """Check every active alert once on the runs finished since its last check; deliver."""
    _print_check(alert_api.check_alerts(store=store), as_json)


@alerts_group.command("watch")
@click.option(
    "--interval", default=60.0, show_default=True, type=float, help="Seconds between checks."
)
@click.option("--count", type=int, help="Stop after this many checks (default: until Ctrl-C).")
@click.option("--json", "as_json", is_flag=True, help="Print each check as JSON.")
@store_options
def watch_cmd(store: Store, interval: float, count: int | None, as_json: bool) -> None:
    """Check the alerts every --interval seconds until Ctrl-C (or --count checks)."""
    try:
        for summary in alert_api.watch(interval, count, store=store):
            _print_check(summary, as_json)
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
