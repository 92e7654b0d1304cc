"""The SQL metadata store shared by SQLite and PostgreSQL: every protocol method written once.

A backend subclasses :class:`SQLStoreBase` and supplies connection handling only: ``_write()``
(a write transaction) and ``_read()`` (a consistent snapshot), each yielding a
:class:`~chachaml.store.sqlconn.Conn` that speaks ``?`` placeholders, plus ``close``,
``applied_migrations`` and ``integrity_check``. The SQL lives here and in ``sqlquery``,
``sqlmetrics`` and ``sqlregistry``; the few spots where the dialects differ ask
:func:`~chachaml.store.sqlconn.dialect_of` or ``self.dialect``.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from chachaml.errors import InvalidInput, NotFound, ParamConflict
from chachaml.store import sqlalerts, sqlmetrics, sqlpipelines, sqlquery, sqlregistry
from chachaml.store.protocol import (
    MetricPoint,
    NewArtifact,
    NewRun,
    RunDict,
    RunQuery,
    StepState,
)
from chachaml.store.sqlconn import Conn

_CHUNK = 500  # ids per IN (...) list
BULK_LISTING = 2000  # listings this long take tags from one scan when they cover most runs


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a listing builds thousands of dicts (they
    hold no cycles; collections triggered by the allocations only cost time, more so next to a
    big notebook heap). Nested or concurrent use is safe: only the outermost pause resumes."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _count(conn: Conn, table: str) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SQLStoreBase:
    """Protocol methods over ``_write()``/``_read()`` connections (see the module docstring)."""

    dialect = "sqlite"
    url: str
    _series: dict[tuple[str, str], int]

    def _write(self) -> AbstractContextManager[Conn]:
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Conn]:
        raise NotImplementedError

    # -- runs -------------------------------------------------------------------------------
    def create_run(self, run: NewRun) -> None:
        with self._write() as conn:
            if run.parent_run_id is not None:
                self._require_run(conn, run.parent_run_id)
            conn.execute(
                "INSERT INTO runs (id, experiment, name, status, start_time, created_by, "
                "parent_run_id, env, heartbeat, host, pid) "
                "VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.id,
                    run.experiment,
                    run.name,
                    run.start_time,
                    run.created_by,
                    run.parent_run_id,
                    json.dumps(dict(run.env), default=str),
                    run.start_time,
                    run.host,
                    run.pid,
                ),
            )
            if run.tags:
                conn.executemany(
                    "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)",
                    [(run.id, k, v) for k, v in run.tags.items()],
                )

    @staticmethod
    def _require_run(conn: Conn, run_id: str) -> None:
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise NotFound(f"run {run_id!r} does not exist")

    def finish_run(self, run_id: str, status: str, end_time: int, error: str | None) -> None:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = ?, end_time = ?, error = ?, heartbeat = ? WHERE id = ?",
                (status, end_time, error, end_time, run_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"run {run_id!r} does not exist")

    def rename_run(self, run_id: str, name: str) -> None:
        with self._write() as conn:
            if conn.execute("UPDATE runs SET name = ? WHERE id = ?", (name, run_id)).rowcount == 0:
                raise NotFound(f"run {run_id!r} does not exist")

    def heartbeat(self, run_ids: Sequence[str], now_ms: int) -> None:
        with self._write() as conn:
            for chunk in _chunks(run_ids):
                conn.execute(
                    "UPDATE runs SET heartbeat = ? WHERE status = 'running' "
                    f"AND id IN ({_marks(len(chunk))})",
                    (now_ms, *chunk),
                )

    def local_running_runs(self, host: str) -> list[tuple[str, int | None]]:
        with self._read() as conn:
            return list(
                conn.execute(
                    "SELECT id, pid FROM runs WHERE status = 'running' AND host = ?", (host,)
                )
            )

    def list_runs(self, query: RunQuery) -> list[RunDict]:
        with self._read() as conn, _gc_paused():
            runs = sqlquery.list_summaries(conn, query, dialect=self.dialect)
            by_id: dict[str, dict[str, str]] = {}
            for run in runs:
                run["tags"] = by_id[run["id"]] = {}
            if len(runs) >= BULK_LISTING and 2 * len(runs) >= _count(conn, "runs"):
                # Most of the store: one scan of all tags beats a lookup per listed run.
                for run_id, key, value in conn.execute("SELECT run_id, key, value FROM tags"):
                    tags = by_id.get(run_id)
                    if tags is not None:
                        tags[key] = value
            elif runs:
                (triples,) = conn.execute(
                    sqlquery.TAGS_OF_IDS_SQL[self.dialect], (json.dumps(list(by_id)),)
                ).fetchone()
                for run_id, key, value in json.loads(triples):
                    by_id[run_id][key] = value
        return runs

    def count_runs(self, query: RunQuery) -> int:
        sql, params = sqlquery.count_runs_sql(query, dialect=self.dialect)
        with self._read() as conn:
            return int(conn.execute(sql, params).fetchone()[0])

    @staticmethod
    def _tags_of(conn: Conn, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for chunk in _chunks(run_ids):
            for run_id, key, value in conn.execute(
                f"SELECT run_id, key, value FROM tags WHERE run_id IN ({_marks(len(chunk))})", chunk
            ):
                out.setdefault(run_id, {})[key] = value
        return out

    def get_run(self, run_id: str, stale_before: int = 0) -> RunDict | None:
        with self._read() as conn:
            row = conn.execute(
                sqlquery.SUMMARY_SELECT + " WHERE r.id = ?", (stale_before, run_id)
            ).fetchone()
            if row is None:
                return None
            run = sqlquery.summary_from_row(row)
            env, note, heartbeat = conn.execute(
                "SELECT env, note, heartbeat FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            run["env"] = json.loads(env)
            run["note"] = note
            run["heartbeat"] = heartbeat
            run["params"] = {
                k: json.loads(v)
                for k, v in conn.execute(
                    "SELECT key, value FROM params WHERE run_id = ? ORDER BY key", (run_id,)
                )
            }
            stats = sqlmetrics.summaries(conn, [run_id]).get(run_id, {})
            run["metrics"] = {k: s["last"] for k, s in stats.items()}
            run["metric_stats"] = stats
            run["tags"] = self._tags_of(conn, [run_id]).get(run_id, {})
            run["datasets"] = self._datasets(conn, run_id)
            run["children"] = [
                cid
                for (cid,) in conn.execute(
                    "SELECT id FROM runs WHERE parent_run_id = ? ORDER BY start_time, rowid",
                    (run_id,),
                )
            ]
            run["artifacts"] = sqlregistry.artifacts_of(conn, run_id)
        return run

    # -- params, tags, notes, datasets ------------------------------------------------------
    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        if not params:
            return
        keys = list(params)
        with self._write() as conn:
            self._require_run(conn, run_id)
            existing: dict[str, str] = {}
            for chunk in _chunks(keys):
                existing.update(
                    conn.execute(
                        "SELECT key, value FROM params WHERE run_id = ? "
                        f"AND key IN ({_marks(len(chunk))})",
                        (run_id, *chunk),
                    )
                )
            conflicts = [k for k, old in existing.items() if old != params[k]]
            if conflicts:
                k = conflicts[0]
                raise ParamConflict(
                    f"param {k!r} of run {run_id} is already {existing[k]} and params are "
                    f"immutable; cannot set it to {params[k]} (log it under a new key, or start "
                    "a new run)"
                    + (f"; {len(conflicts) - 1} more keys conflict" if len(conflicts) > 1 else "")
                )
            conn.executemany(
                "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)",
                [(run_id, k, v) for k, v in params.items() if k not in existing],
            )

    def params_of(self, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        with self._read() as conn:
            for chunk in _chunks(run_ids):
                for run_id, key, value in conn.execute(
                    "SELECT run_id, key, value FROM params "
                    f"WHERE run_id IN ({_marks(len(chunk))}) ORDER BY key",
                    chunk,
                ):
                    out.setdefault(run_id, {})[key] = value
        return out

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        with self._write() as conn:
            self._require_run(conn, run_id)
            conn.executemany(
                "INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                [(run_id, k, v) for k, v in tags.items()],
            )

    def delete_tag(self, run_id: str, key: str) -> bool:
        with self._write() as conn:
            self._require_run(conn, run_id)
            cur = conn.execute("DELETE FROM tags WHERE run_id = ? AND key = ?", (run_id, key))
            return bool(cur.rowcount > 0)

    def get_tags(self, run_id: str) -> dict[str, str]:
        with self._read() as conn:
            self._require_run(conn, run_id)
            return self._tags_of(conn, [run_id]).get(run_id, {})

    def set_note(self, run_id: str, note: str) -> None:
        with self._write() as conn:
            if conn.execute("UPDATE runs SET note = ? WHERE id = ?", (note, run_id)).rowcount == 0:
                raise NotFound(f"run {run_id!r} does not exist")

    def add_dataset(self, run_id: str, dataset: Mapping[str, Any]) -> RunDict:
        features = dataset.get("features")
        with self._write() as conn:
            self._require_run(conn, run_id)
            cur = conn.execute(
                "INSERT INTO datasets (run_id, role, name, n_rows, n_cols, features, hash, source, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    run_id,
                    dataset["role"],
                    dataset.get("name"),
                    dataset.get("n_rows"),
                    dataset.get("n_cols"),
                    None if features is None else json.dumps(list(features)),
                    dataset.get("hash"),
                    dataset.get("source"),
                    dataset["created_at"],
                ),
            )
            (dataset_id,) = cur.fetchone()
        return {**dataset, "id": dataset_id, "run_id": run_id}

    @staticmethod
    def _datasets(conn: Conn, run_id: str) -> list[RunDict]:
        cols = (
            "id",
            "run_id",
            "role",
            "name",
            "n_rows",
            "n_cols",
            "features",
            "hash",
            "source",
            "created_at",
        )
        out = []
        for row in conn.execute(
            f"SELECT {', '.join(cols)} FROM datasets WHERE run_id = ? ORDER BY id", (run_id,)
        ):
            ds = dict(zip(cols, row, strict=True))
            ds["features"] = None if ds["features"] is None else json.loads(ds["features"])
            out.append(ds)
        return out

    def get_datasets(self, run_id: str) -> list[RunDict]:
        with self._read() as conn:
            self._require_run(conn, run_id)
            return self._datasets(conn, run_id)

    # -- metrics (SQL in sqlmetrics.py) -------------------------------------------------------
    def log_metrics(self, points: Sequence[MetricPoint]) -> None:
        if not points:
            return
        with self._write() as conn:
            sqlmetrics.insert_points(conn, self._series, points)

    def metric_summaries(self, run_ids: Sequence[str]) -> dict[str, dict[str, RunDict]]:
        with self._read() as conn:
            return sqlmetrics.summaries(conn, run_ids)

    def metric_history(
        self, run_id: str, key: str, max_points: int | None = None, after_step: int | None = None
    ) -> list[tuple[int, float, int]]:
        with self._read() as conn:
            self._require_run(conn, run_id)
            return sqlmetrics.history(conn, run_id, key, max_points, after_step)

    def best_run(
        self, key: str, experiment: str | None, direction: str, by: str = "last"
    ) -> tuple[str, float, int] | None:
        with self._read() as conn:
            return sqlmetrics.best(conn, key, experiment, direction, by)

    # -- experiments ------------------------------------------------------------------------
    def upsert_experiment(
        self, name: str, description: str | None, owner: str | None, now_ms: int
    ) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO experiments (name, description, owner, created_at) "
                "VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET "
                "description = COALESCE(excluded.description, experiments.description), "
                "owner = COALESCE(excluded.owner, experiments.owner)",
                (name, description, owner, now_ms),
            )

    def list_experiments(self) -> list[RunDict]:
        sql = """
            WITH stats AS (
                SELECT experiment AS name, COUNT(*) AS run_count,
                       MAX(COALESCE(end_time, heartbeat, start_time)) AS last_activity
                FROM runs WHERE archived = 0 GROUP BY experiment
            ), names AS (SELECT name FROM experiments UNION SELECT name FROM stats)
            SELECT n.name, e.description, e.owner, e.created_at,
                   COALESCE(s.run_count, 0), s.last_activity, e.name IS NOT NULL
            FROM names n LEFT JOIN experiments e ON e.name = n.name
            LEFT JOIN stats s ON s.name = n.name
            ORDER BY COALESCE(s.last_activity, e.created_at) DESC, n.name
        """
        cols = (
            "name",
            "description",
            "owner",
            "created_at",
            "run_count",
            "last_activity",
            "explicit",
        )
        with self._read() as conn:
            rows = [dict(zip(cols, row, strict=True)) for row in conn.execute(sql)]
        for row in rows:
            row["explicit"] = bool(row["explicit"])
        return rows

    # -- lifecycle --------------------------------------------------------------------------
    def archive_runs(self, before_ms: int, experiment: str | None) -> int:
        sql = (
            "UPDATE runs SET archived = 1 WHERE archived = 0 AND status != 'running' "
            "AND COALESCE(end_time, start_time) < ?"
        )
        params: list[Any] = [before_ms]
        if experiment is not None:
            sql += " AND experiment = ?"
            params.append(experiment)
        with self._write() as conn:
            return int(conn.execute(sql, params).rowcount)

    def archived_run_ids(self) -> list[str]:
        with self._read() as conn:
            return [
                r
                for (r,) in conn.execute(
                    "SELECT id FROM runs WHERE archived = 1 ORDER BY start_time"
                )
            ]

    def delete_run(self, run_id: str, force: bool = False) -> list[str]:
        with self._write() as conn:
            self._require_run(conn, run_id)
            paths = sqlregistry.delete_run_links(conn, run_id, force)
            for table in ("metrics", "metric_blocks"):
                conn.execute(
                    f"DELETE FROM {table} WHERE series_id IN "
                    "(SELECT id FROM metric_series WHERE run_id = ?)",
                    (run_id,),
                )
            for table in ("metric_series", "params", "tags", "datasets", "alert_events"):
                conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            # A pipeline step keeps its place (and status) when its run goes; a pipeline goes
            # with its parent run, steps first.
            conn.execute("UPDATE pipeline_steps SET run_id = NULL WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM pipeline_steps WHERE pipeline_id = ?", (run_id,))
            conn.execute("DELETE FROM pipelines WHERE id = ?", (run_id,))
            conn.execute("UPDATE runs SET parent_run_id = NULL WHERE parent_run_id = ?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        self._series = {k: v for k, v in self._series.items() if k[0] != run_id}
        return paths

    # -- artifacts and model registry (SQL in sqlregistry.py) ---------------------------------
    def add_artifact(self, artifact: NewArtifact) -> RunDict:
        with self._write() as conn:
            return sqlregistry.add_artifact(conn, artifact)

    def get_artifact(self, run_id: str, name: str) -> RunDict | None:
        with self._read() as conn:
            return sqlregistry.get_artifact(conn, run_id, name)

    def list_artifacts(self, run_id: str) -> list[RunDict]:
        with self._read() as conn:
            self._require_run(conn, run_id)
            return sqlregistry.artifacts_of(conn, run_id)

    def artifact_paths(self) -> list[str]:
        with self._read() as conn:
            return sqlregistry.artifact_paths(conn)

    def register_model_version(
        self,
        model: str,
        run_id: str,
        artifact: str,
        stage: str,
        description: str | None,
        now_ms: int,
    ) -> RunDict:
        with self._write() as conn:
            return sqlregistry.register_version(
                conn, model, run_id, artifact, stage, description, now_ms
            )

    def set_model_stage(self, model: str, version: int, stage: str, now_ms: int) -> RunDict:
        with self._write() as conn:
            return sqlregistry.set_stage(conn, model, version, stage, now_ms)

    def get_model(self, name: str) -> RunDict | None:
        with self._read() as conn:
            return sqlregistry.get_model(conn, name)

    def list_models(self) -> list[RunDict]:
        with self._read() as conn:
            return sqlregistry.list_models(conn)

    def list_model_versions(self, name: str) -> list[RunDict]:
        with self._read() as conn:
            return sqlregistry.list_versions(conn, name)

    def get_model_version(self, name: str, version: int) -> RunDict | None:
        with self._read() as conn:
            return sqlregistry.get_version(conn, name, version)

    def model_version_in_stage(self, name: str, stage: str) -> RunDict | None:
        with self._read() as conn:
            return sqlregistry.version_in_stage(conn, name, stage)

    def set_model_description(self, name: str, description: str, now_ms: int) -> None:
        with self._write() as conn:
            sqlregistry.set_description(conn, name, description, now_ms)

    def model_stage_history(self, name: str) -> list[RunDict]:
        with self._read() as conn:
            return sqlregistry.stage_history(conn, name)

    def model_versions_of_runs(self, run_ids: Sequence[str]) -> list[RunDict]:
        with self._read() as conn:
            return sqlregistry.versions_of_runs(conn, run_ids)

    # -- pipelines (SQL in sqlpipelines.py) ----------------------------------------------------
    def create_pipeline(
        self,
        pipeline_id: str,
        name: str,
        description: str | None,
        resumed_from: str | None,
        created_at: int,
        steps: Sequence[str],
    ) -> None:
        with self._write() as conn:
            sqlpipelines.create(
                conn, pipeline_id, name, description, resumed_from, created_at, steps
            )

    def set_pipeline_step(self, pipeline_id: str, idx: int, state: StepState) -> None:
        with self._write() as conn:
            sqlpipelines.set_step(conn, pipeline_id, idx, state)

    def list_pipelines(
        self,
        name: str | None,
        status: str | None,
        limit: int | None,
        offset: int = 0,
        stale_before: int = 0,
    ) -> list[RunDict]:
        with self._read() as conn:
            return sqlpipelines.listing(conn, name, status, limit, offset, stale_before)

    def get_pipeline(self, pipeline_id: str, stale_before: int = 0) -> RunDict | None:
        with self._read() as conn:
            return sqlpipelines.get(conn, pipeline_id, stale_before)

    # -- table copy (chachaml migrate) -------------------------------------------------------
    def _table_names(self, conn: Conn) -> list[str]:
        raise NotImplementedError

    def _columns(self, conn: Conn, table: str) -> list[str]:
        row = conn.execute(f'SELECT * FROM "{table}" LIMIT 0')
        return [d[0] for d in row.description if d[0] != "rowid"]

    def copy_tables(self) -> list[str]:
        with self._read() as conn:
            present = set(self._table_names(conn)) - {"schema_migrations"}
        known = [t for t in COPY_ORDER if t in present]
        return known + sorted(present.difference(known))

    def _checked_table(self, table: str) -> str:
        if table not in self.copy_tables():
            raise InvalidInput(f"store {self.url} has no table {table!r}")
        return table

    def count_rows(self, table: str) -> int:
        table = self._checked_table(table)
        with self._read() as conn:
            return int(conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])

    def export_rows(self, table: str, batch: int = 5000) -> Iterator[tuple[list[str], list[Any]]]:
        table = self._checked_table(table)
        with self._read() as conn:  # one snapshot, streamed in batches (bounded memory)
            columns = self._columns(conn, table)
            order = " ORDER BY rowid" if table == "runs" else ""
            cols = ", ".join(f'"{c}"' for c in columns)
            cursor = conn.execute(f'SELECT {cols} FROM "{table}"{order}')
            while rows := cursor.fetchmany(batch):
                yield columns, [tuple(r) for r in rows]

    def import_rows(self, table: str, columns: Sequence[str], rows: Sequence[Any]) -> None:
        table = self._checked_table(table)
        with self._write() as conn:
            known = set(self._columns(conn, table))
            unknown = [c for c in columns if c not in known]
            if unknown:
                raise InvalidInput(f"table {table!r} of {self.url} has no columns {unknown}")
            cols = ", ".join(f'"{c}"' for c in columns)
            conn.executemany(
                f'INSERT INTO "{table}" ({cols}) VALUES ({_marks(len(columns))}) '
                "ON CONFLICT DO NOTHING",
                rows,
            )
        self._series = {}

    def finish_import(self) -> None:
        """Nothing to do on SQLite (integer keys continue after the largest id)."""

    # -- alerts (SQL in sqlalerts.py) --------------------------------------------------------
    def upsert_alert(self, alert: Mapping[str, Any], now_ms: int) -> RunDict:
        with self._write() as conn:
            return sqlalerts.upsert(conn, alert, now_ms)

    def get_alert(self, name: str) -> RunDict | None:
        with self._read() as conn:
            return sqlalerts.get(conn, name)

    def list_alerts(self) -> list[RunDict]:
        with self._read() as conn:
            return sqlalerts.list_all(conn)

    def set_alert_active(self, name: str, active: bool, now_ms: int) -> RunDict | None:
        with self._write() as conn:
            return sqlalerts.set_active(conn, name, active, now_ms)

    def delete_alert(self, name: str) -> bool:
        with self._write() as conn:
            return sqlalerts.delete(conn, name)

    def alert_events(self, name: str | None, limit: int) -> list[RunDict]:
        with self._read() as conn:
            return sqlalerts.events(conn, name, limit)

    def check_alert_rules(
        self, now_ms: int, overlap_ms: int, run_id: str | None = None, deadline_s: float = 0.0
    ) -> RunDict:
        with self._write() as conn:
            checked, created = sqlalerts.evaluate(conn, now_ms, overlap_ms, run_id)
        return {"checked": checked, "triggered": created}

    def record_alert_delivery(self, event_id: int, outcome: Mapping[str, Any]) -> None:
        with self._write() as conn:
            sqlalerts.record_delivery(conn, event_id, outcome)


# Foreign keys first: runs before what hangs off them, artifacts before model versions.
COPY_ORDER = (
    "experiments",
    "runs",
    "params",
    "tags",
    "metric_series",
    "metrics",
    "metric_blocks",
    "datasets",
    "artifacts",
    "models",
    "model_versions",
    "model_stage_events",
    "pipelines",
    "pipeline_steps",
    "alerts",
    "alert_events",
)
