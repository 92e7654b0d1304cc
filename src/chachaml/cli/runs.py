"""CLI commands over runs: ``runs``, ``run``, ``best``, ``compare``, ``search``, ``export``,
``experiments``, ``tag``, ``note``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from chachaml import annotate, comparison, display, export, formatting, query, runs_api
from chachaml.cli.common import cli, echo_json, store_options
from chachaml.errors import InvalidInput, NotFound
from chachaml.store import Store


def _parse_tags(pairs: tuple[str, ...]) -> dict[str, str] | None:
    if not pairs:
        return None
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInput(f"--tag {pair!r} must look like key=value")
        out[key] = value
    return out


@cli.command("runs")
@click.option("-e", "--experiment", help="Only runs of this experiment.")
@click.option("-s", "--status", help="running, completed, failed, killed, crashed or archived.")
@click.option("-u", "--user", "created_by", help="Only runs created by this user.")
@click.option("--name", help="Only runs with this name.")
@click.option("--parent", "parent_run_id", help="Only children of this run id.")
@click.option("-t", "--tag", "tags", multiple=True, help="key=value (repeatable).")
@click.option("-m", "--metric", "metrics", multiple=True, help="Add a latest-metric column.")
@click.option("-f", "--filter", "filter", help="Filter expression, e.g. 'metrics.acc > 0.9'.")
@click.option("--order-by", help="e.g. 'metrics.accuracy desc' or 'start_time'.")
@click.option("-n", "--limit", default=50, show_default=True, type=int, help="At most this many.")
@click.option("--offset", default=0, type=int, help="Skip this many first (paging).")
@click.option("--all", "include_archived", is_flag=True, help="Include archived runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def runs_cmd(
    store: Store, as_json: bool, metrics: tuple[str, ...], tags: tuple[str, ...], **kw: Any
) -> None:
    """List runs, newest first (metric columns show each run's latest value)."""
    found = query.runs(store=store, tags=_parse_tags(tags), **kw)
    if as_json:
        if metrics:
            latest = query.metric_summaries([r["id"] for r in found], store=store)
            for row in found:
                stats = latest.get(row["id"], {})
                row["metrics"] = {k: stats[k]["last"] if k in stats else None for k in metrics}
        echo_json(found)
        return
    display.runs_table(found, metrics=metrics, store=store)
    limit = kw.get("limit")
    if limit and len(found) == limit:
        args = {k: v for k, v in kw.items() if k not in ("limit", "offset", "order_by")}
        total = query.count_runs(store=store, tags=_parse_tags(tags), **args)
        if total > kw.get("offset", 0) + len(found):
            click.echo(
                f"showing {len(found)} of {total} runs; see more with --limit or --offset",
                err=True,
            )


@cli.command("run")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def run_cmd(store: Store, run_id: str, as_json: bool) -> None:
    """Show one run: params, metrics, tags, datasets, note."""
    found = query.get_run(run_id, store=store)
    if as_json:
        echo_json(found)
    else:
        display.inspect(found)


@cli.command("best")
@click.argument("metric")
@click.option("-e", "--experiment", help="Only runs of this experiment.")
@click.option("--min", "minimize", is_flag=True, help="Lowest value wins (e.g. loss).")
@click.option(
    "--by",
    type=click.Choice(query.BEST_BY),
    default="last",
    show_default=True,
    help="Rank each run by its latest value, or by its max/min over all steps.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def best_cmd(
    store: Store, metric: str, experiment: str | None, minimize: bool, by: str, as_json: bool
) -> None:
    """The best run by METRIC: the highest latest value (the lowest with --min), as
    filters and sorting compare runs; --by max|min ranks by each run's max/min instead."""
    found = query.best_run(
        metric,
        experiment=experiment,
        direction="min" if minimize else "max",
        by=by,
        store=store,
    )
    if found is None:
        raise NotFound(f"no run has logged metric {metric!r}")
    if as_json:
        echo_json(found)
    else:
        click.echo(
            f"{metric} = {formatting.fmt_value(found['metric_value'])} "
            f"at step {found['metric_step']}"
        )
        display.inspect(found)


@cli.command("compare")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def compare_cmd(store: Store, run_ids: tuple[str, ...], as_json: bool) -> None:
    """Compare params and latest metrics of several runs."""
    result = comparison.compare_runs(list(run_ids), store=store)
    if as_json:
        echo_json(result)
    else:
        display.print_comparison(result)


@cli.command("search")
@click.argument("expression")
@click.option("-e", "--experiment", help="Only runs of this experiment.")
@click.option("-n", "--limit", default=50, show_default=True, type=int, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def search_cmd(
    store: Store, expression: str, experiment: str | None, limit: int, as_json: bool
) -> None:
    """Search runs with a filter expression, e.g. "metrics.acc > 0.9 and params.model = 'rf'"."""
    found = query.search_runs(expression, experiment=experiment, limit=limit, store=store)
    if as_json:
        echo_json(found)
    else:
        display.runs_table(found, store=store)


@cli.command("export")
@click.option("-e", "--experiment", help="Only runs of this experiment.")
@click.option("-s", "--status", help="running, completed, failed, killed, crashed or archived.")
@click.option("-f", "--filter", "filter_", help="Filter expression.")
@click.option("--csv", "fmt", flag_value="csv", default=True, help="CSV (default).")
@click.option("--json", "fmt", flag_value="json", help="JSON rows.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default stdout)."
)
@store_options
def export_cmd(
    store: Store,
    experiment: str | None,
    status: str | None,
    filter_: str | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Export runs as flat rows (params and latest metrics as columns)."""
    import json

    rows = export.export_runs(experiment=experiment, status=status, filter=filter_, store=store)
    if fmt == "csv":
        text = export.export_csv(rows)
    else:
        from chachaml.cli.common import plain

        text = json.dumps(plain(rows), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(rows)} runs to {output}", err=True)


@cli.command("experiments")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def experiments_cmd(store: Store, as_json: bool) -> None:
    """List experiments (explicit and used by runs) with run counts and last activity."""
    from rich.table import Table

    rows = annotate.experiments(store=store)
    if as_json:
        echo_json(rows)
        return
    table = Table(title=f"{len(rows)} experiments")
    for column in ("name", "runs", "last activity", "owner", "description"):
        table.add_column(column)
    for row in rows:
        desc = (row["description"] or "").splitlines()
        table.add_row(
            row["name"],
            str(row["run_count"]),
            formatting.fmt_time(row["last_activity"]),
            row["owner"] or "",
            desc[0] if desc else "",
        )
    display.make_console().print(table)


@cli.command("tag")
@click.argument("run_id")
@click.argument("key")
@click.argument("value", required=False)
@click.option("--remove", is_flag=True, help="Remove the tag instead of setting it.")
@store_options
def tag_cmd(store: Store, run_id: str, key: str, value: str | None, remove: bool) -> None:
    """Set (or --remove) a tag on a run."""
    if remove:
        existed = runs_api.remove_tag(run_id, key, store=store)
        click.echo(f"removed tag {key}" if existed else f"run had no tag {key}")
        return
    if value is None:
        raise InvalidInput("give a VALUE, or --remove to delete the tag")
    runs_api.add_tag(run_id, key, value, store=store)
    click.echo(f"tagged {run_id[:8]} {key}={value}")


@cli.command("note")
@click.argument("run_id")
@click.argument("text", required=False)
@click.option(
    "-f",
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the note from this markdown file.",
)
@store_options
def note_cmd(store: Store, run_id: str, text: str | None, path: Path | None) -> None:
    """Set a run's markdown note from TEXT, a --file, or stdin ("-")."""
    if path is not None:
        text = path.read_text(encoding="utf-8")
    elif text == "-":
        text = sys.stdin.read()
    if text is None:
        raise InvalidInput("give the note TEXT, --file PATH, or - to read stdin")
    runs_api.set_note(run_id, text, store=store)
    click.echo(f"note set on {run_id[:8]} ({len(text)} characters)")
