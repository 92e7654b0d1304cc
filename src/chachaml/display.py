"""Readable output: rich tables in a terminal, HTML tables in Jupyter.

>>> from chachaml import display
>>> display.runs_table(experiment="iris")          # doctest: +SKIP
>>> display.inspect(ml.last_run())                 # doctest: +SKIP
>>> display.print_comparison(ml.compare_runs(ids)) # doctest: +SKIP

``rich`` is imported only when something is printed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chachaml.formatting import SUMMARY_COLUMNS, cell, fmt_value

if TYPE_CHECKING:
    from rich.console import Console

    from chachaml.store import Store


def make_console() -> Console:
    from rich.console import Console

    return Console()


def runs_table(
    runs: Sequence[Mapping[str, Any]] | None = None,
    *,
    metrics: Sequence[str] = (),
    store: Store | None = None,
    console: Console | None = None,
    **filters: Any,
) -> None:
    """Print runs (given, or ``ml.runs(**filters)``) as a table, with optional metric columns."""
    from rich.table import Table

    from chachaml import query

    if runs is None:
        runs = query.runs(store=store, **filters)
    latest: dict[str, dict[str, Any]] = {}
    if metrics and runs:
        latest = query.metric_summaries([r["id"] for r in runs], store=store)
    table = Table(title=f"{len(runs)} runs", show_lines=False)
    headers = {"start_time": "started", "duration_ms": "took", "created_by": "user"}
    for column in SUMMARY_COLUMNS:
        table.add_column(
            headers.get(column, column),
            no_wrap=column in ("id", "status", "start_time", "duration_ms"),
        )
    for key in metrics:
        table.add_column(key, justify="right", no_wrap=True)
    for run in runs:
        cells = [cell(c, run, short=True) for c in SUMMARY_COLUMNS]
        stats = latest.get(run["id"], {})
        cells += [f"{stats[k]['last']:.4g}" if k in stats else "" for k in metrics]
        table.add_row(*cells)
    (console or make_console()).print(table)


def inspect(
    target: str | Mapping[str, Any], *, store: Store | None = None, console: Console | None = None
) -> None:
    """Print one run (a run dict, handle or id) with params, metrics, tags, datasets and note."""
    from rich.panel import Panel
    from rich.table import Table

    from chachaml import query

    run = query.get_run(target, store=store) if isinstance(target, str) else dict(target)
    out = console or make_console()
    head = Table.grid(padding=(0, 2))
    for column in query.RUN_COLUMNS:
        if column in run:
            head.add_row(column, cell(column, run) if column != "id" else str(run["id"]))
    out.print(Panel(head, title=f"run {str(run.get('id', ''))[:8]}"))
    for title, data in (
        ("params", run.get("params", {})),
        ("metrics", run.get("metrics", {})),
        ("tags", run.get("tags", {})),
    ):
        if data:
            table = Table(title=title)
            table.add_column("key")
            table.add_column("value")
            for k, v in data.items():
                table.add_row(k, fmt_value(v))
            out.print(table)
    if run.get("datasets"):
        table = Table(title="datasets")
        for column in ("role", "name", "n_rows", "n_cols", "hash"):
            table.add_column(column)
        for ds in run["datasets"]:
            table.add_row(
                *(
                    fmt_value(ds.get(c)) if c != "hash" else str(ds.get(c) or "")[:12]
                    for c in ("role", "name", "n_rows", "n_cols", "hash")
                )
            )
        out.print(table)
    if run.get("note"):
        from rich.markdown import Markdown

        out.print(Panel(Markdown(run["note"]), title="note"))
    if run.get("error"):
        out.print(Panel(str(run["error"]).splitlines()[0], title="error", style="red"))


def print_comparison(comparison: Mapping[str, Any], *, console: Console | None = None) -> None:
    """Print the output of ``ml.compare_runs``: params, then metrics (latest value),
    differing keys first; ``—`` where a run lacks the key."""
    from rich.table import Table

    ids = list(comparison["run_ids"])
    out = console or make_console()
    for section, title in (("params", "params"), ("metrics", "metrics (latest)")):
        table = Table(title=title)
        table.add_column(section[:-1])
        table.add_column("")
        for run_id in ids:
            table.add_column(run_id[:8], justify="right" if section == "metrics" else "left")
        for kind in ("differ", "partial", "same"):
            for key, values in comparison[section][kind].items():
                cells = []
                for i in ids:
                    if i not in values:
                        cells.append("—")
                    elif section == "metrics":
                        cells.append(fmt_value(values[i]["last"]))
                    else:
                        cells.append(fmt_value(values[i]))
                table.add_row(key, kind, *cells)
        out.print(table)
