"""SQLite metadata store: the zero-setup default.

Connections: one writer connection per process (guarded by a lock, every write is a
``BEGIN IMMEDIATE`` transaction so concurrent processes queue on ``busy_timeout`` instead of
failing) and one reader connection per thread (WAL: readers never block the writer). Every
connection gets ``busy_timeout``, ``foreign_keys`` and ``synchronous=NORMAL``.

Durability: with WAL and ``synchronous=NORMAL`` a committed transaction survives a crash of the
process (``kill -9``); set ``CHACHAML_SQLITE_SYNC=FULL`` to also survive power loss.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from chachaml.errors import InvalidInput, NotFound, ParamConflict, StoreUnavailable
from chachaml.store import sqlmetrics, sqlquery, sqlregistry
from chachaml.store.migrations import SQLITE_MIGRATIONS, Migration
from chachaml.store.protocol import MetricPoint, NewArtifact, NewRun, RunDict, RunQuery

BUSY_TIMEOUT_MS = int(os.environ.get("CHACHAML_SQLITE_BUSY_TIMEOUT_MS", "60000"))
_CHUNK = 500  # ids per IN (...) list

# Connections inherited over fork() must never be used or closed by the child (SQLite forbids
# it); the child drops them here so they are not finalised either.
_ABANDONED: list[sqlite3.Connection] = []


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class SQLiteStore:
    """Metadata store in one SQLite file (or ``:memory:``)."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self.memory = path == ":memory:"
        self.url = "sqlite:///:memory:" if self.memory else f"sqlite:///{path}"
        self._lock = threading.RLock()
        self._writer: sqlite3.Connection | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._series: dict[tuple[str, str], int] = {}
        self._pid = os.getpid()
        self._closed = False
        self._memory_uri = f"file:chachaml-{os.urandom(16).hex()}?mode=memory&cache=shared"

    # -- connections ------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnavailable(f"store {self.url} is closed")
        try:
            if self.memory:
                conn = sqlite3.connect(
                    self._memory_uri, uri=True, isolation_level=None, check_same_thread=False
                )
            else:
                parent = os.path.dirname(os.path.abspath(self.path))
                os.makedirs(parent, exist_ok=True)
                conn = sqlite3.connect(
                    self.path,
                    isolation_level=None,
                    check_same_thread=False,
                    timeout=BUSY_TIMEOUT_MS / 1000,
                )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            sync = os.environ.get("CHACHAML_SQLITE_SYNC", "NORMAL").upper()
            if sync not in ("NORMAL", "FULL", "OFF", "EXTRA"):
                raise InvalidInput(f"CHACHAML_SQLITE_SYNC={sync!r}: use NORMAL or FULL")
            conn.execute(f"PRAGMA synchronous = {sync}")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self.path!r}: {exc}") from exc
        return conn

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:
            # A forked child: abandon the parent's connections and start afresh.
            if self._writer is not None:
                _ABANDONED.append(self._writer)
            _ABANDONED.extend(self._readers)
            self._writer = None
            self._readers = []
            self._local = threading.local()
            self._series = {}
            self._pid = os.getpid()

    def _write_conn(self) -> sqlite3.Connection:
        self._check_fork()
        if self._writer is None:
            conn = self._connect()
            if not self.memory:
                self._enable_wal(conn)
            self._migrate(conn)
            self._writer = conn
        return self._writer

    def _read_conn(self) -> sqlite3.Connection:
        if self._closed:  # this thread's cached reader is closed too
            raise StoreUnavailable(f"store {self.url} is closed")
        self._check_fork()
        if self.memory:
            # One shared-cache memory database: a single connection avoids table-lock errors.
            with self._lock:
                return self._write_conn()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                self._write_conn()  # ensures the schema exists
                conn = self._connect()
                self._readers.append(conn)
            self._local.conn = conn
        return conn

    @staticmethod
    def _enable_wal(conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            conn.execute("PRAGMA journal_mode = WAL")

    @staticmethod
    def _migrate(
        conn: sqlite3.Connection, migrations: Sequence[Migration] = SQLITE_MIGRATIONS
    ) -> None:
        latest = migrations[-1].version
        if conn.execute("PRAGMA user_version").fetchone()[0] >= latest:
            return  # fast path: nothing to apply, no write lock taken
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
            applied = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
            for migration in migrations:
                if migration.version in applied:
                    continue
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, _now_ms()),
                )
            conn.execute(f"PRAGMA user_version = {latest}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._write_conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot across several SELECTs."""
        conn = self._read_conn()
        if self.memory:
            with self._lock:
                yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._check_fork()
            for conn in [*self._readers, *([self._writer] if self._writer else [])]:
                # Refresh the planner's statistics for tables this connection queried (cheap;
                # only where they changed), so later processes pick good indexes.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA optimize")
                conn.close()
            self._readers = []
            self._writer = None
            self._closed = True

    def applied_migrations(self) -> list[tuple[int, str]]:
        with self._read() as conn:
            return list(
                conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")
            )

    def integrity_check(self) -> str:
        with self._read() as conn:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])

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
    def _require_run(conn: sqlite3.Connection, run_id: str) -> None:
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
        sql, params = sqlquery.list_runs_sql(query, dialect=self.dialect)
        summary, loads = sqlquery.summary_from_row, json.loads
        with self._read() as conn:
            runs = []
            for row in conn.execute(sql, params):
                run = summary(row)
                tags = row[10]
                run["tags"] = {} if tags == "{}" else loads(tags)
                runs.append(run)
        return runs

    def count_runs(self, query: RunQuery) -> int:
        sql, params = sqlquery.count_runs_sql(query, dialect=self.dialect)
        with self._read() as conn:
            return int(conn.execute(sql, params).fetchone()[0])

    @staticmethod
    def _tags_of(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
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
            return cur.rowcount > 0

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
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            dataset_id = cur.lastrowid
        return {**dataset, "id": dataset_id, "run_id": run_id}

    @staticmethod
    def _datasets(conn: sqlite3.Connection, run_id: str) -> list[RunDict]:
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
        self, run_id: str, key: str, max_points: int | None = None
    ) -> list[tuple[int, float, int]]:
        with self._read() as conn:
            self._require_run(conn, run_id)
            return sqlmetrics.history(conn, run_id, key, max_points)

    def best_run(
        self, key: str, experiment: str | None, direction: str
    ) -> tuple[str, float, int] | None:
        with self._read() as conn:
            return sqlmetrics.best(conn, key, experiment, direction)

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
            return conn.execute(sql, params).rowcount

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
            conn.execute(
                "DELETE FROM metrics WHERE series_id IN "
                "(SELECT id FROM metric_series WHERE run_id = ?)",
                (run_id,),
            )
            for table in ("metric_series", "params", "tags", "datasets"):
                conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
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
