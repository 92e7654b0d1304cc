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

from chachaml.formatting import SUMMARY_COLUMNS, cell, fmt_duration, fmt_time, fmt_value

if TYPE_CHECKING:
    from rich.console import Console

    from chachaml.store import Store


def count(n: int, noun: str) -> str:
    """``1 run``, ``2 runs``: a table title."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


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
    table = Table(title=count(len(runs), "run"), show_lines=False)
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


# -- pipelines ---------------------------------------------------------------------------------
_STEP_STYLE = {
    "completed": "green",
    "reused": "cyan",
    "running": "yellow",
    "failed": "red",
    "killed": "red",
    "crashed": "red",
    "skipped": "dim",
    "pending": "dim",
}


def _first_line(text: Any) -> str:
    return str(text).strip().splitlines()[0] if text else ""


def pipeline_html(pipeline: Mapping[str, Any]) -> str:
    """An HTML view of a pipeline dict (every value escaped): a summary, then one row per
    step. Used for Jupyter display; unfinished pipelines (no end time) render too."""
    import html

    e = html.escape
    head = [
        ("id", str(pipeline.get("id", ""))),
        ("name", fmt_value(pipeline.get("name"))),
        ("status", fmt_value(pipeline.get("status"))),
        ("experiment", fmt_value(pipeline.get("experiment"))),
        ("started", fmt_time(pipeline.get("created_at"))),
        ("took", fmt_duration(pipeline.get("duration_ms"))),
    ]
    if pipeline.get("resumed_from"):
        head.append(("resumed from", str(pipeline["resumed_from"])))
    rows = "".join(
        f"<tr><th style='text-align:left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in head
    )
    columns = ("#", "step", "status", "run", "took", "error")
    steps = "".join(
        "<tr>"
        + "".join(
            f"<td>{e(v)}</td>"
            for v in (
                str(s.get("index", "")),
                fmt_value(s.get("name")),
                fmt_value(s.get("status")),
                str(s.get("run_id") or "")[:8],
                fmt_duration(s.get("duration_ms")),
                _first_line(s.get("error")),
            )
        )
        + "</tr>"
        for s in pipeline.get("steps") or []
    )
    header = "".join(f"<th>{e(c)}</th>" for c in columns)
    return f"<table>{rows}</table><table><tr>{header}</tr>{steps}</table>"


class PipelineView(dict[str, Any]):
    """A plain ``dict`` (a pipeline with its steps) that renders as HTML in Jupyter."""

    def _repr_html_(self) -> str:
        return pipeline_html(self)


def pipelines_table(
    pipelines: Sequence[Mapping[str, Any]], *, console: Console | None = None
) -> None:
    """Print pipeline summaries (``ml.pipelines()``) as a table."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=count(len(pipelines), "pipeline"))
    for column in ("id", "name", "status", "steps", "started", "took", "experiment"):
        table.add_column(
            column,
            no_wrap=column in ("id", "status", "steps", "started", "took"),
            overflow="fold",  # long names wrap whole instead of ending in "..."
        )
    for p in pipelines:
        status = str(p.get("status", ""))
        style = _STEP_STYLE.get(status)
        table.add_row(
            str(p.get("id", ""))[:8],
            escape(fmt_value(p.get("name"))),
            f"[{style}]{status}[/]" if style else escape(status),
            f"{p.get('steps_done', 0)}/{p.get('step_count', 0)}",
            cell("start_time", {"start_time": p.get("created_at")}, short=True),
            fmt_duration(p.get("duration_ms")),
            escape(fmt_value(p.get("experiment"))),
        )
    (console or make_console()).print(table)


def inspect_pipeline(pipeline: Mapping[str, Any], *, console: Console | None = None) -> None:
    """Print one pipeline (``ml.pipeline(id)``): a summary panel and a table of its steps."""
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    out = console or make_console()
    head = Table.grid(padding=(0, 2))
    for label, value in (
        ("id", str(pipeline.get("id", ""))),
        ("name", fmt_value(pipeline.get("name"))),
        ("status", fmt_value(pipeline.get("status"))),
        ("experiment", fmt_value(pipeline.get("experiment"))),
        ("started", fmt_time(pipeline.get("created_at"))),
        ("finished", fmt_time(pipeline.get("finished_at"))),
        ("took", fmt_duration(pipeline.get("duration_ms"))),
        ("resumed from", fmt_value(pipeline.get("resumed_from"))),
        ("description", _first_line(pipeline.get("description"))),
    ):
        if value:
            head.add_row(label, escape(value))
    out.print(Panel(head, title=f"pipeline {escape(fmt_value(pipeline.get('name')))}"))
    table = Table(title="steps")
    for column in ("#", "step", "status", "run", "took", "error"):
        table.add_column(column, no_wrap=column in ("#", "status", "run", "took"))
    for s in pipeline.get("steps") or []:
        status = str(s.get("status", ""))
        style = _STEP_STYLE.get(status)
        table.add_row(
            str(s.get("index", "")),
            escape(fmt_value(s.get("name"))),
            f"[{style}]{status}[/]" if style else escape(status),
            str(s.get("run_id") or "")[:8],
            fmt_duration(s.get("duration_ms")),
            escape(_first_line(s.get("error"))),
        )
    out.print(table)


# -- alerts -------------------------------------------------------------------------------------
_DELIVERY_STYLE = {"delivered": "green", "failed": "red", "pending": "yellow"}


def alert_rule_text(rule: Mapping[str, Any]) -> str:
    """`loss > 1.5`, `loss is nan`: an alert rule in a few words."""
    op = rule.get("op")
    if op in ("nan", "missing"):
        return f"{rule.get('metric')} is {op}"
    return f"{rule.get('metric')} {op} {fmt_value(rule.get('threshold'))}"


def alerts_table(rules: Sequence[Mapping[str, Any]], *, console: Console | None = None) -> None:
    """Print alert rules (``ml.alerts()``): rule, scope, webhook (masked), last check."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=count(len(rules), "alert"))
    for column in ("name", "rule", "experiment", "filter", "webhook", "active", "last check"):
        table.add_column(column, no_wrap=column == "active", overflow="fold")
    for a in rules:
        table.add_row(
            escape(str(a.get("name", ""))),
            escape(alert_rule_text(a)),
            escape(fmt_value(a.get("experiment"))),
            escape(fmt_value(a.get("filter"))),
            escape(fmt_value(a.get("webhook_url"))),
            "yes" if a.get("active") else "[dim]no[/]",
            cell("start_time", {"start_time": a.get("last_checked_at")}, short=True),
        )
    (console or make_console()).print(table)


def alert_events_table(
    events: Sequence[Mapping[str, Any]], *, title: str | None = None, console: Console | None = None
) -> None:
    """Print alert events (``ml.alert_history()`` or ``check_alerts()["triggered"]``) with
    their delivery status."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title if title is not None else count(len(events), "alert event"))
    for column in ("fired", "alert", "run", "experiment", "value", "delivery", "detail"):
        table.add_column(column, no_wrap=column in ("fired", "value", "delivery"), overflow="fold")
    for e in events:
        delivery = str(e.get("delivery", ""))
        style = _DELIVERY_STYLE.get(delivery)
        status = e.get("http_status")
        detail = e.get("delivery_error") or ("" if status is None else f"HTTP {status}")
        if e.get("attempts"):
            detail = f"{detail} ({e['attempts']} attempts)".strip()
        raw = e.get("value")
        value = (
            "missing"
            if e.get("op") == "missing"
            else f"{raw:.4g}"
            if isinstance(raw, float)
            else fmt_value(raw)
        )
        table.add_row(
            cell("start_time", {"start_time": e.get("fired_at")}, short=True),
            escape(str(e.get("alert", ""))),
            escape(str(e.get("run_name") or str(e.get("run_id") or "")[:8])),
            escape(fmt_value(e.get("experiment"))),
            escape(value),
            f"[{style}]{delivery}[/]" if style else escape(delivery),
            escape(str(detail)),
        )
    (console or make_console()).print(table)
