"""Side-by-side comparison of runs: which params differ, and each run's metrics.

>>> import chachaml as ml
>>> with ml.store("sqlite:///:memory:"):
...     ids = []
...     for lr in (0.1, 0.01):
...         with ml.run(experiment="sweep") as run:
...             ml.log_params({"lr": lr, "epochs": 5})
...             ml.log_metric("acc", 0.9 if lr == 0.1 else 0.8)
...         ids.append(run.id)
...     cmp = ml.compare_runs(ids)
...     sorted(cmp["params"]["same"]), sorted(cmp["params"]["differ"])
(['epochs'], ['lr'])
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chachaml import liveness, query
from chachaml.context import resolve
from chachaml.errors import InvalidInput, NotFound
from chachaml.store import Store
from chachaml.store.protocol import RunQuery

__all__ = ["MAX_COMPARE", "SUMMARY_KEYS", "compare_runs", "split_values"]

MAX_COMPARE = 1000
#: What a run's metric is reported as in a comparison.
SUMMARY_KEYS = ("last", "last_step", "min", "max", "count")


def split_values(
    values_by_run: Mapping[str, Mapping[str, Any]], run_ids: Sequence[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Group keys by how their values compare across ``run_ids``: ``same`` (every run has the
    key with one value), ``differ`` (every run has it, values differ) and ``partial`` (some runs
    lack it). Each group maps key -> {run_id: value} (runs lacking the key are left out);
    keys are sorted, and ``differ`` comes first in the dict since it matters most."""
    keys = sorted({k for values in values_by_run.values() for k in values})
    groups: dict[str, dict[str, dict[str, Any]]] = {"differ": {}, "partial": {}, "same": {}}
    for key in keys:
        values = {i: values_by_run[i][key] for i in run_ids if key in values_by_run.get(i, {})}
        if len(values) < len(run_ids):
            groups["partial"][key] = values
        elif len({json.dumps(v, sort_keys=True) for v in values.values()}) == 1:
            groups["same"][key] = values
        else:
            groups["differ"][key] = values
    return groups


def compare_runs(ids: Sequence[str], *, store: Store | None = None) -> dict[str, Any]:
    """Compare runs in three reads however many there are.

    Returns ``{"run_ids", "runs", "params", "metrics"}``: ``runs`` are the summaries (with
    tags) in the order given; ``params`` and ``metrics`` have one shape, groups ``differ`` /
    ``partial`` / ``same`` mapping each key to ``{run_id: value}``. A param's value is the
    logged value; a metric's value is its summary ``{"last", "last_step", "min", "max",
    "count"}`` and metrics are grouped by their latest value. ``NotFound`` names any unknown id.

    >>> cmp = ml.compare_runs([a.id, b.id])              # doctest: +SKIP
    >>> cmp["params"]["differ"]                          # doctest: +SKIP
    {'lr': {'3f2a...': 0.1, '9c01...': 0.01}}
    """
    if isinstance(ids, str) or not isinstance(ids, Sequence) or not ids:
        raise InvalidInput("compare_runs() needs a non-empty list of run ids")
    if len(ids) > MAX_COMPARE:
        raise InvalidInput(f"compare_runs() takes at most {MAX_COMPARE} runs, got {len(ids)}")
    st = resolve(store)
    order = list(dict.fromkeys(query.find_run_id(i, store=st) for i in ids))
    found = st.meta.list_runs(
        RunQuery(
            ids=order,
            limit=None,
            include_archived=True,
            stale_before=liveness.stale_before(),
        )
    )
    by_id = {r["id"]: r for r in found}
    missing = [i for i in order if i not in by_id]
    if missing:
        raise NotFound(f"run {missing[0]!r} does not exist")
    params = {
        run_id: {k: json.loads(v) for k, v in p.items()}
        for run_id, p in st.meta.params_of(order).items()
    }
    stats = st.meta.metric_summaries(order)
    metrics = {
        run_id: {k: {f: s.get(f) for f in SUMMARY_KEYS} for k, s in per_key.items()}
        for run_id, per_key in stats.items()
    }
    metric_groups = split_values(
        {i: {k: s["last"] for k, s in m.items()} for i, m in metrics.items()}, order
    )
    for group in metric_groups.values():
        for key, values in group.items():
            group[key] = {i: metrics[i][key] for i in values}
    return {
        "run_ids": order,
        "runs": [by_id[i] for i in order],
        "params": split_values(params, order),
        "metrics": metric_groups,
    }
