"""Text forms of run values, shared by every front door (terminal tables, notebook HTML, the CLI).

>>> from chachaml.formatting import fmt_duration, fmt_value
>>> fmt_duration(13), fmt_duration(1500), fmt_value(0.123456789)
('13ms', '1.5s', '0.123457')
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

SUMMARY_COLUMNS = ("id", "experiment", "name", "status", "start_time", "duration_ms", "created_by")


def fmt_time(ms: int | None) -> str:
    """Epoch milliseconds as local ``YYYY-mm-dd HH:MM:SS``."""
    if ms is None:
        return ""
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(ms: int | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def fmt_value(value: Any) -> str:
    """Compact text for a param/metric value (floats to 6 significant digits)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if value is None:
        return ""
    return str(value)


def cell(column: str, run: Mapping[str, Any], *, short: bool = False) -> str:
    value = run.get(column)
    if column in ("start_time", "end_time"):
        if short and value is not None:
            import datetime as dt

            return dt.datetime.fromtimestamp(value / 1000).strftime("%m-%d %H:%M")
        return fmt_time(value)
    if column == "duration_ms":
        return fmt_duration(value)
    if column == "id":
        return str(value)[:8]
    return fmt_value(value)


def run_html(run: Mapping[str, Any]) -> str:
    """An HTML table of a run dict (every value escaped), used for Jupyter display."""
    import html

    rows = []
    for column in ("id", "experiment", "name", "status", "start_time", "duration_ms", "created_by"):
        if column in run:
            rows.append((column, cell(column, run) if column != "id" else str(run["id"])))
    for section in ("params", "metrics", "tags"):
        for k, v in (run.get(section) or {}).items():
            rows.append((f"{section}.{k}", fmt_value(v)))
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return f"<table>{body}</table>"


class RunView(dict[str, Any]):
    """A plain ``dict`` that also renders as an HTML table in Jupyter."""

    def _repr_html_(self) -> str:
        return run_html(self)


_TIME_FIELDS = ("created_at", "updated_at", "last_checked_at", "fired_at", "delivered_at")


def _html_value(key: str, value: Any) -> str:
    if key in _TIME_FIELDS and isinstance(value, int) and value > 0:
        return fmt_time(value)
    return fmt_value(value)


class RecordView(dict[str, Any]):
    """A plain ``dict`` (an alert, an event, ...) that renders as a two-column HTML table in
    Jupyter, every value escaped."""

    def _repr_html_(self) -> str:
        import html

        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td>{html.escape(_html_value(str(k), v))}</td></tr>"
            for k, v in self.items()
        )
        return f"<table>{body}</table>"


class RecordsView(list[dict[str, Any]]):
    """A plain ``list`` of dicts that renders as an HTML table in Jupyter (columns: the keys of
    the first row), every value escaped."""

    def _repr_html_(self) -> str:
        import html

        if not self:
            return "<p>(none)</p>"
        columns = list(self[0])
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        rows = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(_html_value(c, row.get(c)))}</td>" for c in columns)
            + "</tr>"
            for row in self
        )
        return f"<table><tr>{head}</tr>{rows}</table>"
