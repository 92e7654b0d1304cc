"""Ordered, named schema migrations, recorded in ``schema_migrations``.

A migration is a name plus DDL statements. Migrations are applied in order inside one write
transaction that first takes the database's write lock, so several processes opening a fresh
database at once serialise: the first applies them, the others find them applied. A migration
that fails rolls back completely and its error propagates; nothing is silently skipped.

Never edit a released migration: append a new one.

Storage notes:
- Metric points live in ``metrics`` keyed by ``(series_id, step)`` (``WITHOUT ROWID``) so a point
  costs ~30 bytes; ``metric_series`` holds one row per (run, key) with the summary every query
  needs (latest, min, max, first, count), kept current by each batch write.
- A NaN metric value is stored as SQL NULL (SQLite cannot store NaN) and read back as NaN.
- Inline run tags and tags added later share ``tags``; a later write to a key replaces it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NamedTuple

from chachaml.store.sqlblocks import backfill
from chachaml.store.sqlconn import Conn


class Migration(NamedTuple):
    version: int
    name: str
    statements: tuple[str, ...]


def apply_pending(conn: Conn, migrations: Sequence[Migration]) -> None:
    """Apply, in order, the migrations ``schema_migrations`` does not list yet, recording each
    (inside the caller's transaction, which holds the backend's migration lock)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
    )
    applied = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
    for migration in migrations:
        if migration.version in applied:
            continue
        for statement in migration.statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, time.time_ns() // 1_000_000),
        )


SQLITE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "core_tracking",
        (
            """CREATE TABLE experiments (
                name TEXT PRIMARY KEY,
                description TEXT,
                owner TEXT,
                created_at INTEGER NOT NULL
            )""",
            """CREATE TABLE runs (
                id TEXT PRIMARY KEY,
                experiment TEXT NOT NULL,
                name TEXT,
                status TEXT NOT NULL CHECK (status IN
                    ('running', 'completed', 'failed', 'killed', 'crashed')),
                start_time INTEGER NOT NULL,
                end_time INTEGER,
                error TEXT,
                parent_run_id TEXT REFERENCES runs (id),
                created_by TEXT NOT NULL,
                env TEXT NOT NULL DEFAULT '{}',
                note TEXT,
                heartbeat INTEGER NOT NULL,
                host TEXT,
                pid INTEGER,
                archived INTEGER NOT NULL DEFAULT 0
            )""",
            "CREATE INDEX runs_by_start ON runs (archived, start_time DESC)",
            "CREATE INDEX runs_by_experiment ON runs (experiment, start_time DESC)",
            "CREATE INDEX runs_by_status ON runs (status, host)",
            "CREATE INDEX runs_by_parent ON runs (parent_run_id)",
            "CREATE INDEX runs_by_user ON runs (created_by, start_time DESC)",
            """CREATE TABLE params (
                run_id TEXT NOT NULL REFERENCES runs (id),
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (run_id, key)
            ) WITHOUT ROWID""",
            "CREATE INDEX params_by_key ON params (key, value)",
            """CREATE TABLE tags (
                run_id TEXT NOT NULL REFERENCES runs (id),
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (run_id, key)
            ) WITHOUT ROWID""",
            "CREATE INDEX tags_by_key ON tags (key, value)",
            """CREATE TABLE metric_series (
                id INTEGER PRIMARY KEY,
                run_id TEXT NOT NULL REFERENCES runs (id),
                key TEXT NOT NULL,
                count INTEGER NOT NULL DEFAULT 0,
                first_value REAL,
                last_step INTEGER,
                last_value REAL,
                last_ts INTEGER,
                min_value REAL,
                min_step INTEGER,
                max_value REAL,
                max_step INTEGER,
                UNIQUE (run_id, key)
            )""",
            "CREATE INDEX metric_series_by_last ON metric_series (key, last_value)",
            "CREATE INDEX metric_series_by_min ON metric_series (key, min_value)",
            "CREATE INDEX metric_series_by_max ON metric_series (key, max_value)",
            """CREATE TABLE metrics (
                series_id INTEGER NOT NULL,
                step INTEGER NOT NULL,
                value REAL,
                timestamp INTEGER NOT NULL,
                PRIMARY KEY (series_id, step)
            ) WITHOUT ROWID""",
            """CREATE TABLE datasets (
                id INTEGER PRIMARY KEY,
                run_id TEXT NOT NULL REFERENCES runs (id),
                role TEXT NOT NULL,
                name TEXT,
                n_rows INTEGER,
                n_cols INTEGER,
                features TEXT,
                hash TEXT,
                source TEXT,
                created_at INTEGER NOT NULL
            )""",
            "CREATE INDEX datasets_by_run ON datasets (run_id)",
        ),
    ),
    # Artifacts and the model registry. `path` is the artifact's key in the artifact store.
    # A version points at an artifact row (composite foreign key), so neither can dangle; the
    # partial unique index makes "at most one production version per model" a database fact.
    Migration(
        2,
        "artifacts_and_registry",
        (
            """CREATE TABLE artifacts (
                id INTEGER PRIMARY KEY,
                run_id TEXT NOT NULL REFERENCES runs (id),
                name TEXT NOT NULL,
                path TEXT NOT NULL UNIQUE,
                format TEXT NOT NULL,
                content_type TEXT NOT NULL,
                size INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                UNIQUE (run_id, name)
            )""",
            """CREATE TABLE models (
                name TEXT PRIMARY KEY,
                description TEXT,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )""",
            "CREATE INDEX models_by_updated ON models (updated_at DESC)",
            """CREATE TABLE model_versions (
                model TEXT NOT NULL REFERENCES models (name),
                version INTEGER NOT NULL CHECK (version >= 1),
                run_id TEXT NOT NULL REFERENCES runs (id),
                artifact TEXT NOT NULL,
                stage TEXT NOT NULL DEFAULT 'none'
                    CHECK (stage IN ('none', 'staging', 'production', 'archived')),
                description TEXT,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                PRIMARY KEY (model, version),
                FOREIGN KEY (run_id, artifact) REFERENCES artifacts (run_id, name)
            )""",
            """CREATE UNIQUE INDEX model_versions_one_production ON model_versions (model)
                WHERE stage = 'production'""",
            "CREATE INDEX model_versions_by_stage ON model_versions (model, stage, version)",
            "CREATE INDEX model_versions_by_run ON model_versions (run_id, artifact)",
            """CREATE TABLE model_stage_events (
                id INTEGER PRIMARY KEY,
                model TEXT NOT NULL,
                version INTEGER NOT NULL,
                from_stage TEXT,
                to_stage TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                FOREIGN KEY (model, version) REFERENCES model_versions (model, version)
            )""",
            "CREATE INDEX model_stage_events_by_version ON model_stage_events (model, version, id)",
        ),
    ),
    Migration(
        3,
        "newest_first_indexes",
        # Newest-first listings order by (start_time DESC, insertion order DESC). An ascending
        # index whose implicit rowid tail is scanned backwards serves that order with no sort.
        (
            "DROP INDEX runs_by_start",
            "CREATE INDEX runs_by_start ON runs (archived, start_time)",
            "DROP INDEX runs_by_experiment",
            "CREATE INDEX runs_by_experiment ON runs (experiment, start_time)",
            "DROP INDEX runs_by_user",
            "CREATE INDEX runs_by_user ON runs (created_by, start_time)",
        ),
    ),
    Migration(
        4,
        "metric_blocks",
        # Min/max rollups of long series (see chachaml.store.sqlblocks), built for existing ones.
        (
            """CREATE TABLE metric_blocks (
                series_id INTEGER NOT NULL,
                level INTEGER NOT NULL,
                block INTEGER NOT NULL,
                count INTEGER NOT NULL,
                first_step INTEGER NOT NULL,
                min_step INTEGER,
                min_value REAL,
                max_step INTEGER,
                max_value REAL,
                PRIMARY KEY (series_id, level, block)
            ) WITHOUT ROWID""",
            *backfill("sqlite"),
        ),
    ),
    Migration(
        5,
        "pipelines",
        # A pipeline is a parent run (its status, with the crash rule, is the pipeline's); each
        # step that ran is a child run. Steps that never ran (pending, skipped) have no run.
        (
            """CREATE TABLE pipelines (
                id TEXT PRIMARY KEY REFERENCES runs (id),
                name TEXT NOT NULL,
                description TEXT,
                resumed_from TEXT,
                created_at INTEGER NOT NULL
            )""",
            "CREATE INDEX pipelines_by_name ON pipelines (name, created_at)",
            "CREATE INDEX pipelines_by_created ON pipelines (created_at)",
            """CREATE TABLE pipeline_steps (
                pipeline_id TEXT NOT NULL REFERENCES pipelines (id),
                idx INTEGER NOT NULL,
                name TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN
                    ('pending', 'running', 'completed', 'failed', 'killed', 'skipped', 'reused')),
                run_id TEXT REFERENCES runs (id),
                started_at INTEGER,
                finished_at INTEGER,
                error TEXT,
                result_artifact TEXT,
                PRIMARY KEY (pipeline_id, idx)
            ) WITHOUT ROWID""",
            "CREATE INDEX pipeline_steps_by_run ON pipeline_steps (run_id)",
        ),
    ),
    Migration(
        6,
        "alerts",
        # Rules on a metric's latest value, and one event per (alert, run) that breached one.
        (
            """CREATE TABLE alerts (
                name TEXT PRIMARY KEY,
                metric TEXT NOT NULL,
                op TEXT NOT NULL CHECK (op IN
                    ('>', '>=', '<', '<=', '==', '!=', 'nan', 'missing')),
                threshold REAL,
                experiment TEXT,
                webhook_url TEXT,
                filter TEXT,
                active INTEGER NOT NULL DEFAULT 1,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                last_checked_at INTEGER NOT NULL DEFAULT 0,
                -- runs that finished before this (creation, re-activation) are not watched
                watch_from INTEGER NOT NULL DEFAULT 0
            )""",
            """CREATE TABLE alert_events (
                id INTEGER PRIMARY KEY,
                alert TEXT NOT NULL REFERENCES alerts (name),
                run_id TEXT NOT NULL REFERENCES runs (id),
                value REAL,
                fired_at INTEGER NOT NULL,
                delivery TEXT NOT NULL CHECK (delivery IN
                    ('none', 'pending', 'delivered', 'failed')),
                http_status INTEGER,
                delivery_error TEXT,
                attempts INTEGER NOT NULL DEFAULT 0,
                delivered_at INTEGER,
                UNIQUE (alert, run_id)
            )""",
            "CREATE INDEX alert_events_by_alert ON alert_events (alert, id)",
            "CREATE INDEX alert_events_by_run ON alert_events (run_id)",
            "CREATE INDEX runs_by_end ON runs (end_time)",
        ),
    ),
)


# PostgreSQL: the same tables, columns, keys and indexes as SQLITE_MIGRATIONS (same versions and
# names), in PostgreSQL types: BIGINT for times, steps and counts, DOUBLE PRECISION for values
# (NULL still stands for NaN, so both backends answer every query alike), identity columns for
# integer keys, and byte-order collation ("C") on text so sorting and comparisons match SQLite.
# `runs.rowid` stands in for SQLite's implicit rowid (insertion order breaks start-time ties).
_T = 'TEXT COLLATE "C"'

POSTGRES_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "core_tracking",
        (
            f"""CREATE TABLE experiments (
                name {_T} PRIMARY KEY,
                description {_T},
                owner {_T},
                created_at BIGINT NOT NULL
            )""",
            f"""CREATE TABLE runs (
                id {_T} PRIMARY KEY,
                experiment {_T} NOT NULL,
                name {_T},
                status {_T} NOT NULL CHECK (status IN
                    ('running', 'completed', 'failed', 'killed', 'crashed')),
                start_time BIGINT NOT NULL,
                end_time BIGINT,
                error {_T},
                parent_run_id {_T} REFERENCES runs (id),
                created_by {_T} NOT NULL,
                env {_T} NOT NULL DEFAULT '{{}}',
                note {_T},
                heartbeat BIGINT NOT NULL,
                host {_T},
                pid BIGINT,
                archived INTEGER NOT NULL DEFAULT 0,
                rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
            )""",
            "CREATE INDEX runs_by_start ON runs (archived, start_time DESC)",
            "CREATE INDEX runs_by_experiment ON runs (experiment, start_time DESC)",
            "CREATE INDEX runs_by_status ON runs (status, host)",
            "CREATE INDEX runs_by_parent ON runs (parent_run_id)",
            "CREATE INDEX runs_by_user ON runs (created_by, start_time DESC)",
            f"""CREATE TABLE params (
                run_id {_T} NOT NULL REFERENCES runs (id),
                key {_T} NOT NULL,
                value {_T} NOT NULL,
                PRIMARY KEY (run_id, key)
            )""",
            "CREATE INDEX params_by_key ON params (key, value)",
            f"""CREATE TABLE tags (
                run_id {_T} NOT NULL REFERENCES runs (id),
                key {_T} NOT NULL,
                value {_T} NOT NULL,
                PRIMARY KEY (run_id, key)
            )""",
            "CREATE INDEX tags_by_key ON tags (key, value)",
            f"""CREATE TABLE metric_series (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                run_id {_T} NOT NULL REFERENCES runs (id),
                key {_T} NOT NULL,
                count BIGINT NOT NULL DEFAULT 0,
                first_value DOUBLE PRECISION,
                last_step BIGINT,
                last_value DOUBLE PRECISION,
                last_ts BIGINT,
                min_value DOUBLE PRECISION,
                min_step BIGINT,
                max_value DOUBLE PRECISION,
                max_step BIGINT,
                UNIQUE (run_id, key)
            )""",
            "CREATE INDEX metric_series_by_last ON metric_series (key, last_value)",
            "CREATE INDEX metric_series_by_min ON metric_series (key, min_value)",
            "CREATE INDEX metric_series_by_max ON metric_series (key, max_value)",
            """CREATE TABLE metrics (
                series_id BIGINT NOT NULL,
                step BIGINT NOT NULL,
                value DOUBLE PRECISION,
                timestamp BIGINT NOT NULL,
                PRIMARY KEY (series_id, step)
            )""",
            f"""CREATE TABLE datasets (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                run_id {_T} NOT NULL REFERENCES runs (id),
                role {_T} NOT NULL,
                name {_T},
                n_rows BIGINT,
                n_cols BIGINT,
                features {_T},
                hash {_T},
                source {_T},
                created_at BIGINT NOT NULL
            )""",
            "CREATE INDEX datasets_by_run ON datasets (run_id)",
        ),
    ),
    Migration(
        2,
        "artifacts_and_registry",
        (
            f"""CREATE TABLE artifacts (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                run_id {_T} NOT NULL REFERENCES runs (id),
                name {_T} NOT NULL,
                path {_T} NOT NULL UNIQUE,
                format {_T} NOT NULL,
                content_type {_T} NOT NULL,
                size BIGINT NOT NULL,
                sha256 {_T} NOT NULL,
                created_at BIGINT NOT NULL,
                UNIQUE (run_id, name)
            )""",
            f"""CREATE TABLE models (
                name {_T} PRIMARY KEY,
                description {_T},
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )""",
            "CREATE INDEX models_by_updated ON models (updated_at DESC)",
            f"""CREATE TABLE model_versions (
                model {_T} NOT NULL REFERENCES models (name),
                version BIGINT NOT NULL CHECK (version >= 1),
                run_id {_T} NOT NULL REFERENCES runs (id),
                artifact {_T} NOT NULL,
                stage {_T} NOT NULL DEFAULT 'none'
                    CHECK (stage IN ('none', 'staging', 'production', 'archived')),
                description {_T},
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (model, version),
                FOREIGN KEY (run_id, artifact) REFERENCES artifacts (run_id, name)
            )""",
            """CREATE UNIQUE INDEX model_versions_one_production ON model_versions (model)
                WHERE stage = 'production'""",
            "CREATE INDEX model_versions_by_stage ON model_versions (model, stage, version)",
            "CREATE INDEX model_versions_by_run ON model_versions (run_id, artifact)",
            f"""CREATE TABLE model_stage_events (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                model {_T} NOT NULL,
                version BIGINT NOT NULL,
                from_stage {_T},
                to_stage {_T} NOT NULL,
                created_at BIGINT NOT NULL,
                FOREIGN KEY (model, version) REFERENCES model_versions (model, version)
            )""",
            "CREATE INDEX model_stage_events_by_version ON model_stage_events (model, version, id)",
        ),
    ),
    Migration(
        3,
        "newest_first_indexes",
        (
            "DROP INDEX runs_by_start",
            "CREATE INDEX runs_by_start ON runs (archived, start_time, rowid)",
            "DROP INDEX runs_by_experiment",
            "CREATE INDEX runs_by_experiment ON runs (experiment, start_time, rowid)",
            "DROP INDEX runs_by_user",
            "CREATE INDEX runs_by_user ON runs (created_by, start_time, rowid)",
        ),
    ),
    Migration(
        4,
        "metric_blocks",
        (
            """CREATE TABLE metric_blocks (
                series_id BIGINT NOT NULL,
                level INTEGER NOT NULL,
                block BIGINT NOT NULL,
                count BIGINT NOT NULL,
                first_step BIGINT NOT NULL,
                min_step BIGINT,
                min_value DOUBLE PRECISION,
                max_step BIGINT,
                max_value DOUBLE PRECISION,
                PRIMARY KEY (series_id, level, block)
            )""",
            *backfill("postgresql"),
        ),
    ),
    Migration(
        5,
        "pipelines",
        # A pipeline is a parent run (its status, with the crash rule, is the pipeline's); each
        # step that ran is a child run. Steps that never ran (pending, skipped) have no run.
        (
            f"""CREATE TABLE pipelines (
                id {_T} PRIMARY KEY REFERENCES runs (id),
                name {_T} NOT NULL,
                description {_T},
                resumed_from {_T},
                created_at BIGINT NOT NULL
            )""",
            "CREATE INDEX pipelines_by_name ON pipelines (name, created_at)",
            "CREATE INDEX pipelines_by_created ON pipelines (created_at)",
            f"""CREATE TABLE pipeline_steps (
                pipeline_id {_T} NOT NULL REFERENCES pipelines (id),
                idx INTEGER NOT NULL,
                name {_T} NOT NULL,
                status {_T} NOT NULL CHECK (status IN
                    ('pending', 'running', 'completed', 'failed', 'killed', 'skipped', 'reused')),
                run_id {_T} REFERENCES runs (id),
                started_at BIGINT,
                finished_at BIGINT,
                error {_T},
                result_artifact {_T},
                PRIMARY KEY (pipeline_id, idx)
            )""",
            "CREATE INDEX pipeline_steps_by_run ON pipeline_steps (run_id)",
        ),
    ),
    Migration(
        6,
        "alerts",
        # Rules on a metric's latest value, and one event per (alert, run) that breached one.
        (
            f"""CREATE TABLE alerts (
                name {_T} PRIMARY KEY,
                metric {_T} NOT NULL,
                op {_T} NOT NULL CHECK (op IN
                    ('>', '>=', '<', '<=', '==', '!=', 'nan', 'missing')),
                threshold DOUBLE PRECISION,
                experiment {_T},
                webhook_url {_T},
                filter {_T},
                active INTEGER NOT NULL DEFAULT 1,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                last_checked_at BIGINT NOT NULL DEFAULT 0,
                -- runs that finished before this (creation, re-activation) are not watched
                watch_from BIGINT NOT NULL DEFAULT 0
            )""",
            f"""CREATE TABLE alert_events (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                alert {_T} NOT NULL REFERENCES alerts (name),
                run_id {_T} NOT NULL REFERENCES runs (id),
                value DOUBLE PRECISION,
                fired_at BIGINT NOT NULL,
                delivery {_T} NOT NULL CHECK (delivery IN
                    ('none', 'pending', 'delivered', 'failed')),
                http_status INTEGER,
                delivery_error {_T},
                attempts BIGINT NOT NULL DEFAULT 0,
                delivered_at BIGINT,
                UNIQUE (alert, run_id)
            )""",
            "CREATE INDEX alert_events_by_alert ON alert_events (alert, id)",
            "CREATE INDEX alert_events_by_run ON alert_events (run_id)",
            "CREATE INDEX runs_by_end ON runs (end_time)",
        ),
    ),
)
