"""Runs as flat rows: for pandas (``ml.runs_df``), CSV files and spreadsheets.

Every row has the run columns, then one column per param (``params.<key>``) and per metric
(``metrics.<key>``, the latest value). Param and metric columns are always prefixed, so the
column names never depend on which keys happen to collide.

>>> import chachaml as ml
>>> with ml.store("sqlite:///:memory:"):
...     with ml.run(experiment="e"):
...         ml.log_param("lr", 0.1)
...         ml.log_metric("acc", 0.9)
...     row = ml.export_runs(experiment="e")[0]
...     row["params.lr"], row["metrics.acc"]
(0.1, 0.9)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chachaml import query
from chachaml.context import resolve
from chachaml.errors import InvalidInput
from chachaml.store import Store

__all__ = ["RUN_COLUMNS", "columns", "export_csv", "export_runs", "runs_df"]

RUN_COLUMNS = query.RUN_COLUMNS
# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_runs(
    experiment: str | Sequence[str] | None = None,
    status: str | None = None,
    filter: str | None = None,
    tags: Mapping[str, Any] | None = None,
    limit: int | None = None,
    include_archived: bool = False,
    *,
    ids: Sequence[str] | None = None,
    order_by: str | Sequence[str] | None = None,
    created_by: str | None = None,
    store: Store | None = None,
) -> list[dict[str, Any]]:
    """Flat rows of the matching runs (every run unless ``limit``), newest first: the run
    columns, ``params.<key>`` and ``metrics.<key>`` (latest value)."""
    st = resolve(store)
    summaries = query.search_runs(
        filter,
        experiment=experiment,
        status=status,
        created_by=created_by,
        tags=tags,
        ids=ids,
        order_by=order_by,
        limit=limit,
        include_archived=include_archived,
        store=st,
    )
    run_ids = [r["id"] for r in summaries]
    params = st.meta.params_of(run_ids)
    metrics = st.meta.metric_summaries(run_ids)
    rows = []
    for run in summaries:
        row = {c: run[c] for c in RUN_COLUMNS}
        for k, v in params.get(run["id"], {}).items():
            row[f"params.{k}"] = json.loads(v)
        for k, s in metrics.get(run["id"], {}).items():
            row[f"metrics.{k}"] = s["last"]
        rows.append(row)
    return rows


def runs_df(
    experiment: str | Sequence[str] | None = None,
    status: str | None = None,
    filter: str | None = None,
    tags: Mapping[str, Any] | None = None,
    limit: int | None = None,
    include_archived: bool = False,
    *,
    ids: Sequence[str] | None = None,
    order_by: str | Sequence[str] | None = None,
    store: Store | None = None,
) -> Any:
    """:func:`export_runs` as a pandas DataFrame (needs pandas).

    >>> df = ml.runs_df(experiment="iris")           # doctest: +SKIP
    >>> df.sort_values("metrics.accuracy").tail(3)   # doctest: +SKIP
    """
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is in the dev extras
        raise InvalidInput("runs_df() needs pandas: pip install 'chachaml[pandas]'") from exc
    rows = export_runs(
        experiment,
        status,
        filter,
        tags,
        limit,
        include_archived,
        ids=ids,
        order_by=order_by,
        store=store,
    )
    return pd.DataFrame(rows, columns=columns(rows))


def columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The run columns, then every other key in first-seen order."""
    cols: list[str] = list(RUN_COLUMNS)
    seen = set(cols)
    for row in rows:
        for k in row:
            if k not in seen:
                seen.add(k)
                cols.append(k)
    return cols


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list, bool)):
        value = json.dumps(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # shown as text by spreadsheets, never evaluated
    return value


def export_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """CSV text of :func:`export_runs` rows (nested values as JSON). Text cells that a
    spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or CR)
    get a leading ``'``; numbers are written as they are."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=columns(rows), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()
