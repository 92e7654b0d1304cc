"""Cleanup of old runs: archive them (hidden from default queries), then delete archived ones.

>>> import chachaml as ml
>>> ml.archive_runs(older_than_days=90)   # doctest: +SKIP
12
>>> ml.delete_archived()                   # doctest: +SKIP
12
"""

from __future__ import annotations

import time

from chachaml import _validate
from chachaml.errors import InvalidInput
from chachaml.query import resolve
from chachaml.store import Store

DAY_MS = 86_400_000


def archive_runs(
    older_than_days: float = 30, experiment: str | None = None, *, store: Store | None = None
) -> int:
    """Archive finished runs that ended more than ``older_than_days`` ago; returns the count.

    Running runs are never archived. ``older_than_days=0`` archives every finished run.
    """
    days = _validate.finite_number(older_than_days, "older_than_days")
    if days < 0:
        raise InvalidInput("older_than_days must be >= 0")
    cutoff = time.time_ns() // 1_000_000 - int(days * DAY_MS)
    if days == 0:
        cutoff += 1  # include runs that ended this millisecond
    return resolve(store).meta.archive_runs(cutoff, _validate.optional_name(experiment, "experiment"))


def delete_archived(*, force: bool = False, store: Store | None = None) -> int:
    """Delete archived runs and everything attached to them, one transaction per run.

    Returns the number of runs deleted.
    """
    st = resolve(store)
    deleted = 0
    for run_id in st.meta.archived_run_ids():
        st.meta.delete_run(run_id)
        deleted += 1
    return deleted
