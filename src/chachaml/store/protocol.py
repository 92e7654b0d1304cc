"""The metadata store protocol: what every backend (SQLite, PostgreSQL, remote) implements.

Service modules (``tracking``, ``query``, ``registry``, ...) talk only to this protocol, never to
SQL. Values crossing it are plain data: run dicts, tuples of metric points, JSON text for params.
The conformance suite in ``tests/conformance`` runs unchanged against every implementation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

# (run_id, key, step, value, timestamp_ms). Plain tuples: this is the hot path.
MetricPoint = tuple[str, str, int, float, int]

RunDict = dict[str, Any]


class RunQuery(NamedTuple):
    """Which runs to list. Every field is optional; the default is the newest 100 live runs.

    ``metric`` is the simple threshold form of search: ``(key, op, value)`` compared with the
    latest value of the metric. ``filter`` is a filter expression (SPEC §9). ``order_by`` holds
    ``(field, descending)`` pairs where field is a run attribute or ``metrics.<key>``.
    """

    experiment: str | Sequence[str] | None = None  # a name, or any of several names
    status: str | None = None
    name: str | None = None
    parent_run_id: str | None = None
    created_by: str | None = None
    tags: Mapping[str, str] | None = None
    ids: Sequence[str] | None = None
    metric: tuple[str, str, float] | None = None
    filter: str | None = None
    order_by: Sequence[tuple[str, bool]] = ()
    limit: int | None = 100
    offset: int = 0
    include_archived: bool = False
    stale_before: int = 0  # heartbeat (ms) before which a `running` run reads as `crashed`


class NewRun(NamedTuple):
    """The row written when a run starts."""

    id: str
    experiment: str
    name: str | None
    start_time: int
    created_by: str
    parent_run_id: str | None = None
    tags: Mapping[str, str] = {}
    env: Mapping[str, Any] = {}
    host: str | None = None
    pid: int | None = None


class NewArtifact(NamedTuple):
    """The metadata row of an artifact whose bytes were committed under ``path``."""

    run_id: str
    name: str
    path: str
    format: str
    content_type: str
    size: int
    sha256: str
    created_at: int


class StepState(NamedTuple):
    """What a pipeline step row holds after a change (see ``MetadataStore.set_pipeline_step``)."""

    status: str  # pending, running, completed, failed, killed, skipped or reused
    run_id: str | None = None
    started_at: int | None = None
    finished_at: int | None = None
    error: str | None = None
    result_artifact: str | None = None


@runtime_checkable
class MetadataStore(Protocol):
    """Runs, params, metrics, tags, notes, datasets, experiments, artifacts and models."""

    url: str

    def close(self) -> None: ...

    def applied_migrations(self) -> list[tuple[int, str]]:
        """``(version, name)`` of every applied schema migration, in order."""

    def integrity_check(self) -> str:
        """``"ok"`` when the backend finds no corruption, else its report."""

    # -- runs -----------------------------------------------------------------------------
    def create_run(self, run: NewRun) -> None:
        """Insert a new run with status ``running``; ``NotFound`` if the parent is unknown."""

    def finish_run(self, run_id: str, status: str, end_time: int, error: str | None) -> None:
        """Set a final status; ``NotFound`` for an unknown run."""

    def rename_run(self, run_id: str, name: str) -> None: ...

    def heartbeat(self, run_ids: Sequence[str], now_ms: int) -> None: ...

    def get_run(self, run_id: str, stale_before: int = 0) -> RunDict | None:
        """Full run dict (summary, params, latest metrics, tags, datasets, children) or None."""

    def list_runs(self, query: RunQuery) -> list[RunDict]:
        """Run summaries matching ``query``, newest first unless ordered otherwise."""

    def count_runs(self, query: RunQuery) -> int: ...

    def local_running_runs(self, host: str) -> list[tuple[str, int | None]]:
        """``(run_id, pid)`` of runs still marked running that were started on ``host``."""

    # -- params, tags, notes, datasets ----------------------------------------------------
    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Store JSON-encoded params atomically; ``ParamConflict`` if a key has another value."""

    def params_of(self, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """JSON text of each run's params, by run id."""

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None: ...

    def delete_tag(self, run_id: str, key: str) -> bool: ...

    def get_tags(self, run_id: str) -> dict[str, str]: ...

    def set_note(self, run_id: str, note: str) -> None: ...

    def add_dataset(self, run_id: str, dataset: Mapping[str, Any]) -> RunDict: ...

    def get_datasets(self, run_id: str) -> list[RunDict]: ...

    # -- metrics --------------------------------------------------------------------------
    def log_metrics(self, points: Sequence[MetricPoint]) -> None:
        """Store points in one transaction; a point for an existing (run, key, step) replaces it."""

    def metric_summaries(self, run_ids: Sequence[str]) -> dict[str, dict[str, RunDict]]:
        """Per run, per key: ``last``/``last_step``/``min``/``max``/``first``/``count``."""

    def metric_history(
        self, run_id: str, key: str, max_points: int | None = None, after_step: int | None = None
    ) -> list[tuple[int, float, int]]:
        """``(step, value, timestamp)`` of one series in step order; with ``max_points`` at most
        that many, keeping each step range's min and max point and the first and last point.
        With ``after_step`` only the points with a greater step, not downsampled: the first
        ``max_points`` of them (a cursor for live updates)."""

    def best_run(
        self, key: str, experiment: str | None, direction: str, by: str = "last"
    ) -> tuple[str, float, int] | None:
        """``(run_id, value, step)`` of the best live run: the highest (``direction="max"``)
        or lowest value of ``key``, where a run's value is its latest (``by="last"``), its
        maximum (``"max"``) or its minimum (``"min"``); NaN never wins; of equal values the
        newest run wins."""

    # -- experiments ----------------------------------------------------------------------
    def upsert_experiment(
        self, name: str, description: str | None, owner: str | None, now_ms: int
    ) -> None: ...

    def list_experiments(self) -> list[RunDict]: ...

    # -- lifecycle --------------------------------------------------------------------------
    def archive_runs(self, before_ms: int, experiment: str | None) -> int: ...

    def archived_run_ids(self) -> list[str]: ...

    def delete_run(self, run_id: str, force: bool = False) -> list[str]:
        """Delete one run and everything attached to it (params, metrics, tags, datasets,
        artifact rows), in one transaction; returns the artifact-store keys of its artifacts
        (the caller deletes the bytes). ``InUse`` (nothing deleted) if a model version is
        registered from the run, unless ``force``: then those versions and their stage history
        are deleted too."""

    # -- artifacts (metadata; the bytes live in an ArtifactStore) --------------------------
    def add_artifact(self, artifact: NewArtifact) -> RunDict:
        """Insert an artifact row; ``NotFound`` for an unknown run, ``AlreadyExists`` if the run
        already has an artifact of that name (nothing changes)."""

    def get_artifact(self, run_id: str, name: str) -> RunDict | None: ...

    def list_artifacts(self, run_id: str) -> list[RunDict]:
        """The run's artifacts in the order they were logged; ``NotFound`` for an unknown run."""

    def artifact_paths(self) -> list[str]:
        """The artifact-store key of every artifact row (for garbage collection)."""

    # -- model registry --------------------------------------------------------------------
    def register_model_version(
        self,
        model: str,
        run_id: str,
        artifact: str,
        stage: str,
        description: str | None,
        now_ms: int,
    ) -> RunDict:
        """Create the model if needed and add version ``max + 1`` in one transaction (version
        numbers stay unique under concurrent registration). ``NotFound`` if the run or its
        artifact does not exist. Registering into ``production`` archives the current one."""

    def set_model_stage(self, model: str, version: int, stage: str, now_ms: int) -> RunDict:
        """Move a version to ``stage`` in one transaction; promoting to ``production`` archives
        the current production version. ``NotFound`` (nothing changes) for an unknown model or
        version."""

    def get_model(self, name: str) -> RunDict | None:
        """Model row plus ``latest_version``, ``production_version`` and ``version_count``."""

    def list_models(self) -> list[RunDict]:
        """Every model (as :meth:`get_model`), most recently updated first."""

    def list_model_versions(self, name: str) -> list[RunDict]:
        """Versions of a model in version order (empty for an unknown model)."""

    def get_model_version(self, name: str, version: int) -> RunDict | None: ...

    def model_version_in_stage(self, name: str, stage: str) -> RunDict | None:
        """The newest version of ``name`` currently in ``stage``, or None."""

    def set_model_description(self, name: str, description: str, now_ms: int) -> None:
        """Set the model's markdown description (in the models table); ``NotFound`` if unknown."""

    def model_stage_history(self, name: str) -> list[RunDict]:
        """Every stage change of the model's versions, oldest first."""

    def model_versions_of_runs(self, run_ids: Sequence[str]) -> list[RunDict]:
        """Versions registered from any of ``run_ids``."""

    # -- pipelines ----------------------------------------------------------------------------
    def create_pipeline(
        self,
        pipeline_id: str,
        name: str,
        description: str | None,
        resumed_from: str | None,
        created_at: int,
        steps: Sequence[str],
    ) -> None:
        """Record run ``pipeline_id`` as a pipeline with ``steps`` (names, in order) ``pending``,
        in one transaction. ``NotFound`` for an unknown run, ``AlreadyExists`` (nothing
        changes) if the run already is a pipeline."""

    def set_pipeline_step(self, pipeline_id: str, idx: int, state: StepState) -> None:
        """Replace the state of step ``idx`` (0-based); ``NotFound`` (nothing changes) for an
        unknown pipeline, step or run."""

    def list_pipelines(
        self,
        name: str | None,
        status: str | None,
        limit: int | None,
        offset: int = 0,
        stale_before: int = 0,
    ) -> list[RunDict]:
        """Pipeline summaries, newest first. A pipeline's status is its parent run's (crash
        rule included), so ``status`` filters as it does for runs."""

    def get_pipeline(self, pipeline_id: str, stale_before: int = 0) -> RunDict | None:
        """A pipeline summary plus ``steps`` in order, or None if ``pipeline_id`` is no pipeline.
        A step still ``running`` reads as its run's status (crash rule included); a ``pending``
        step of a pipeline that is no longer running reads as ``skipped``."""

    # -- alerts ------------------------------------------------------------------------------
    # Rules carry their webhook URL in full (a secret): the service layer masks it in output.
    def upsert_alert(self, alert: Mapping[str, Any], now_ms: int) -> RunDict:
        """Create or replace rule ``alert["name"]`` (keys: name, metric, op, threshold,
        experiment, webhook_url, filter); an existing rule keeps ``active``, ``created_at``,
        its last check and its events. Returns the stored rule."""

    def get_alert(self, name: str) -> RunDict | None: ...

    def list_alerts(self) -> list[RunDict]:
        """Every rule, by name."""

    def set_alert_active(self, name: str, active: bool, now_ms: int) -> RunDict | None:
        """(De)activate a rule (activating starts its watch at ``now_ms``); None if unknown."""

    def delete_alert(self, name: str) -> bool:
        """Delete a rule and its events; False if there was no such rule."""

    def alert_events(self, name: str | None, limit: int) -> list[RunDict]:
        """Events of one rule or all, newest first, with the rule's metric/op/threshold and
        the run's name and experiment."""

    def check_alert_rules(
        self, now_ms: int, overlap_ms: int, run_id: str | None = None, deadline_s: float = 0.0
    ) -> RunDict:
        """Evaluate every active rule on the latest value of its metric in the runs that
        finished since its last check (or in run ``run_id`` only; ``NotFound`` if unknown) and
        record one event per (rule, run) in one transaction with the ``last_checked_at``
        update: ``{"checked": int, "triggered": [event, ...]}``, only the events this call
        created. An event to deliver has ``delivery == "pending"`` and the rule's
        ``webhook_url``; a store that delivers by itself (remote) returns final outcomes.
        ``deadline_s`` (> 0) bounds such a store's deliveries in time."""

    def record_alert_delivery(self, event_id: int, outcome: Mapping[str, Any]) -> None:
        """Store a delivery outcome (delivery, http_status, delivery_error, attempts,
        delivered_at) on an event."""


@runtime_checkable
class TableCopy(Protocol):
    """Row-level export/import with ids preserved, for ``chachaml migrate`` (SQL stores).

    Table and column names come from the store's own catalog; an import names only tables and
    columns that exist in the destination, so no caller text reaches SQL as an identifier.
    """

    def copy_tables(self) -> list[str]:
        """Every data table (not ``schema_migrations``) in an order that satisfies foreign
        keys: core tables, then artifacts and registry, then any later tables."""

    def count_rows(self, table: str) -> int: ...

    def export_rows(self, table: str, batch: int = 5000) -> Iterator[tuple[list[str], list[Any]]]:
        """``(columns, rows)`` batches of ``table``; runs come in insertion order."""

    def import_rows(self, table: str, columns: Sequence[str], rows: Sequence[Any]) -> None:
        """Insert rows as they are (ids included), skipping rows whose key already exists."""

    def finish_import(self) -> None:
        """After an import: move id generators past the imported ids."""
