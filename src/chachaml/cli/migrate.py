"""``chachaml migrate SRC DST``: copy a whole store (e.g. SQLite -> PostgreSQL), ids preserved."""

from __future__ import annotations

from typing import Any

import click

from chachaml.cli.common import cli, echo_json


@cli.command("migrate")
@click.argument("src")
@click.argument("dst")
@click.option("--artifacts-src", help="Artifact location of SRC (default: SRC's default).")
@click.option("--artifacts-dst", help="Artifact location of DST (default: DST's default).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def migrate_cmd(
    src: str, dst: str, artifacts_src: str | None, artifacts_dst: str | None, as_json: bool
) -> None:
    """Copy everything from store SRC into store DST and verify it.

    Runs, params, metrics, tags, notes, datasets, experiments, artifacts and the registry keep
    their ids. Safe to re-run: rows already copied are skipped, so an interrupted migration
    resumes. Ends with a check of row counts and artifact sha256s; exits 1 if any differ.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    import chachaml as ml
    from chachaml.migrate import migrate

    with (
        ml.open_store(src, artifacts=artifacts_src) as source,
        ml.open_store(dst, artifacts=artifacts_dst) as dest,
        Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            transient=True,
            disable=as_json,
        ) as bar,
    ):
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done if total else 1)

        summary = migrate(source, dest, progress=progress)
    if as_json:
        echo_json(summary)
    else:
        for table, counts in summary["tables"].items():
            click.echo(f"{table:<20} {counts['source']:>10} -> {counts['destination']:>10}")
        art = summary["artifacts"]
        click.echo(
            f"{'artifact bytes':<20} {art['total']:>10} ({art['copied']} copied, "
            f"{art['verified']} verified by sha256)"
        )
        for problem in summary["problems"]:
            click.echo(f"problem: {problem}", err=True)
        click.echo("migration verified" if summary["ok"] else "migration INCOMPLETE")
    if not summary["ok"]:
        raise SystemExit(1)
