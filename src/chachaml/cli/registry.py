"""CLI commands for artifacts and the model registry: ``models``, ``promote``, ``artifacts``,
``gc``."""

from __future__ import annotations

from typing import Any

import click

from chachaml import artifact_api as api
from chachaml import cleanup, display, formatting, registry
from chachaml.cli.common import cli, echo_json, store_options
from chachaml.errors import InvalidInput
from chachaml.store import Store


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - unreachable


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def _table(title: str, columns: tuple[str, ...], rows: list[list[str]]) -> None:
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    display.make_console().print(table)


@cli.command("models")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def models_cmd(store: Store, name: str | None, as_json: bool) -> None:
    """List registered models, or the versions of model NAME."""
    if name is not None:
        found = registry.model(name, store=store)
        if as_json:
            echo_json(found)
            return
        _table(
            f"model {name}: {found['version_count']} versions",
            ("version", "stage", "run", "artifact", "created", "description"),
            [
                [
                    str(v["version"]),
                    v["stage"],
                    v["run_id"][:8],
                    v["artifact"],
                    formatting.fmt_time(v["created_at"]),
                    _first_line(v["description"]),
                ]
                for v in found["versions"]
            ],
        )
        return
    rows = registry.models(store=store)
    if as_json:
        echo_json(rows)
        return
    _table(
        f"{len(rows)} models",
        ("name", "latest", "production", "versions", "updated", "description"),
        [
            [
                m["name"],
                str(m["latest_version"] or ""),
                "" if m["production_version"] is None else str(m["production_version"]),
                str(m["version_count"]),
                formatting.fmt_time(m["updated_at"]),
                _first_line(m["description"]),
            ]
            for m in rows
        ],
    )


@cli.command("promote")
@click.argument("name")
@click.argument("args", nargs=-1, required=True, metavar="[VERSION] STAGE")
@click.option(
    "--run", "run_id", help="Promote the version registered from this run (id or prefix)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def promote_cmd(
    store: Store, name: str, args: tuple[str, ...], run_id: str | None, as_json: bool
) -> None:
    """Move VERSION of model NAME to STAGE (none, staging, production, archived);
    production archives the previous one. With --run RUN_ID instead of VERSION, the version
    registered from that run: `chachaml promote churn --run 3f2a9c01 production`."""
    expected = "STAGE" if run_id is not None else "VERSION STAGE"
    if len(args) != len(expected.split()):
        raise InvalidInput(f"promote takes NAME {expected}" + ("" if run_id else " (or --run)"))
    stage = args[-1]
    if stage not in registry.STAGES:
        raise InvalidInput(f"stage {stage!r} is not one of: {', '.join(registry.STAGES)}")
    if run_id is not None:
        version = int(registry.version_of_run(name, run_id, store=store)["version"])
    elif args[0].isdigit():
        version = int(args[0])
    else:
        raise InvalidInput(f"VERSION must be a number, got {args[0]!r} (or use --run RUN_ID)")
    found = registry.promote(name, version, stage, store=store)
    if as_json:
        echo_json(found)
    else:
        click.echo(f"model {name} version {version} is now {found['stage']}")


@cli.command("artifacts")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def artifacts_cmd(store: Store, run_id: str, as_json: bool) -> None:
    """List the artifacts of RUN_ID."""
    rows = api.list_artifacts(run_id, store=store)
    if as_json:
        echo_json(rows)
        return
    _table(
        f"{len(rows)} artifacts of run {run_id[:8]}",
        ("name", "format", "content type", "size", "sha256", "created"),
        [
            [
                a["name"],
                a["format"],
                a["content_type"],
                _size(a["size"]),
                a["sha256"][:12],
                formatting.fmt_time(a["created_at"]),
            ]
            for a in rows
        ],
    )


@cli.command("gc")
@click.option(
    "--keep-archived", is_flag=True, help="Only remove orphaned files; keep archived runs."
)
@click.option("--force", is_flag=True, help="Also delete archived runs backing model versions.")
@click.option(
    "--grace-seconds",
    default=3600.0,
    show_default=True,
    type=float,
    help="Keep orphaned files younger than this (a writer may still be finishing).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def gc_cmd(
    store: Store, keep_archived: bool, force: bool, grace_seconds: float, as_json: bool
) -> None:
    """Delete archived runs (rows and bytes) and orphaned artifact files; report bytes freed."""
    report: dict[str, Any] = {"runs_deleted": 0}
    if not keep_archived:
        report["runs_deleted"] = cleanup.delete_archived(force=force, store=store)
    report.update(cleanup.gc(grace_seconds=grace_seconds, store=store))
    if as_json:
        echo_json(report)
        return
    click.echo(
        f"deleted {report['runs_deleted']} archived runs and {report['files_deleted']} orphaned "
        f"files; freed {_size(report['bytes_freed'])} ({report['bytes_freed']} bytes)"
    )
    for key in report["skipped"]:
        click.echo(f"skipped unsafe file name {key!r}", err=True)
