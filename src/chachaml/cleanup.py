"""Cleanup: archive old runs (hidden from default queries), delete archived ones (rows and
artifact bytes), and collect orphaned artifact files (:func:`gc`).

>>> import chachaml as ml
>>> ml.archive_runs(older_than_days=90)   # doctest: +SKIP
12
>>> ml.delete_archived()                   # doctest: +SKIP
12
"""

from __future__ import annotations

import time
from typing import Any

from chachaml import validate
from chachaml.context import resolve
from chachaml.errors import InUse, InvalidInput
from chachaml.store import Store

DAY_MS = 86_400_000


def archive_runs(
    older_than_days: float = 30, experiment: str | None = None, *, store: Store | None = None
) -> int:
    """Archive finished runs that ended more than ``older_than_days`` ago; returns the count.

    Running runs are never archived. ``older_than_days=0`` archives every finished run.
    """
    days = validate.finite_number(older_than_days, "older_than_days")
    if days < 0:
        raise InvalidInput("older_than_days must be >= 0")
    cutoff = time.time_ns() // 1_000_000 - int(days * DAY_MS)
    if days == 0:
        cutoff += 1  # include runs that ended this millisecond
    return resolve(store).meta.archive_runs(
        cutoff, validate.optional_name(experiment, "experiment")
    )


def archived_run_ids(*, store: Store | None = None) -> list[str]:
    """Ids of every archived run (what :func:`delete_archived` would delete)."""
    return resolve(store).meta.archived_run_ids()


def delete_archived(*, force: bool = False, store: Store | None = None) -> int:
    """Delete archived runs with everything attached (rows *and* artifact bytes), one
    transaction per run; returns the number of runs deleted.

    Runs that back a registered model version are refused with ``InUse`` (listing the
    versions; nothing is deleted) unless ``force=True``, which deletes those versions too.
    """
    st = resolve(store)
    run_ids = st.meta.archived_run_ids()
    if not force:
        backing = st.meta.model_versions_of_runs(run_ids)
        if backing:
            listed = ", ".join(
                f"{v['model']} v{v['version']} ({v['stage']}, run {v['run_id']})" for v in backing
            )
            raise InUse(
                f"{len({v['run_id'] for v in backing})} archived runs back registered model "
                f"versions: {listed}. Nothing was deleted; pass force=True (CLI: --force) to "
                "delete those versions with their runs"
            )
    deleted = 0
    for run_id in run_ids:
        # Rows first: if removing bytes fails afterwards, they are orphans that gc() removes.
        for key in st.meta.delete_run(run_id, force=force):
            st.artifacts.delete(key)
        deleted += 1
    return deleted


def gc(*, grace_seconds: float = 3600.0, store: Store | None = None) -> dict[str, Any]:
    """Delete artifact files that no metadata row references, and abandoned staging files.

    Files written in the last ``grace_seconds`` are kept: a concurrent writer may be between
    placing its bytes and inserting its row. Returns ``{"files_deleted", "bytes_freed",
    "skipped"}`` (``skipped``: keys whose names are unsafe, left for a human to inspect).

    >>> from chachaml.cleanup import gc
    >>> gc(grace_seconds=0)  # doctest: +SKIP
    {'files_deleted': 2, 'bytes_freed': 10485760, 'skipped': []}
    """
    grace = validate.finite_number(grace_seconds, "grace_seconds")
    if grace < 0:
        raise InvalidInput("grace_seconds must be >= 0")
    st = resolve(store)
    cutoff = time.time() - grace
    referenced = set(st.meta.artifact_paths())
    files = 0
    freed = 0
    skipped: list[str] = []
    for obj in list(st.artifacts.iter_keys()):
        if obj.key in referenced or obj.modified >= cutoff:
            continue
        try:
            gone = st.artifacts.delete(obj.key)
        except InvalidInput:
            skipped.append(obj.key)
            continue
        files += 1
        freed += gone
    freed += st.artifacts.clean_staging(cutoff)
    return {"files_deleted": files, "bytes_freed": freed, "skipped": skipped}
