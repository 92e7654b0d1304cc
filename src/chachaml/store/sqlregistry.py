"""SQL for artifact metadata and the model registry, run inside the caller's transaction.

:class:`~chachaml.store.sqlite.SQLiteStore` opens the transaction (``BEGIN IMMEDIATE`` for
writes, so concurrent writers in any process serialise) and hands its connection to these
functions; they never commit. Keeping them here keeps ``sqlite.py`` about runs and metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chachaml.errors import AlreadyExists, InUse, NotFound
from chachaml.store.protocol import NewArtifact, RunDict
from chachaml.store.sqlconn import Conn, dialect_of

ARTIFACT_COLUMNS = (
    "id",
    "run_id",
    "name",
    "path",
    "format",
    "content_type",
    "size",
    "sha256",
    "created_at",
)
VERSION_COLUMNS = (
    "model",
    "version",
    "run_id",
    "artifact",
    "stage",
    "description",
    "created_at",
    "updated_at",
)
_ARTIFACT_SELECT = f"SELECT {', '.join(ARTIFACT_COLUMNS)} FROM artifacts"
_VERSION_SELECT = f"SELECT {', '.join(VERSION_COLUMNS)} FROM model_versions"
_MODEL_SELECT = """
    SELECT m.name, m.description, m.created_at, m.updated_at,
        (SELECT MAX(v.version) FROM model_versions v WHERE v.model = m.name),
        (SELECT v.version FROM model_versions v WHERE v.model = m.name AND v.stage = 'production'),
        (SELECT COUNT(*) FROM model_versions v WHERE v.model = m.name)
    FROM models m"""
_MODEL_COLUMNS = (
    "name",
    "description",
    "created_at",
    "updated_at",
    "latest_version",
    "production_version",
    "version_count",
)
_CHUNK = 500


def _row(cols: Sequence[str], row: Sequence[Any]) -> RunDict:
    return dict(zip(cols, row, strict=True))


def _require_run(conn: Conn, run_id: str) -> None:
    if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
        raise NotFound(f"run {run_id!r} does not exist")


# -- artifacts --------------------------------------------------------------------------------
def get_artifact(conn: Conn, run_id: str, name: str) -> RunDict | None:
    row = conn.execute(
        _ARTIFACT_SELECT + " WHERE run_id = ? AND name = ?", (run_id, name)
    ).fetchone()
    return None if row is None else _row(ARTIFACT_COLUMNS, row)


def add_artifact(conn: Conn, a: NewArtifact) -> RunDict:
    _require_run(conn, a.run_id)
    if get_artifact(conn, a.run_id, a.name) is not None:
        raise AlreadyExists(
            f"run {a.run_id} already has an artifact named {a.name!r}; artifacts are immutable, "
            "log the new value under another name"
        )
    (artifact_id,) = conn.execute(
        "INSERT INTO artifacts (run_id, name, path, format, content_type, size, sha256, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (a.run_id, a.name, a.path, a.format, a.content_type, a.size, a.sha256, a.created_at),
    ).fetchone()
    return {"id": artifact_id, **a._asdict()}


def artifacts_of(conn: Conn, run_id: str) -> list[RunDict]:
    return [
        _row(ARTIFACT_COLUMNS, row)
        for row in conn.execute(_ARTIFACT_SELECT + " WHERE run_id = ? ORDER BY id", (run_id,))
    ]


def artifact_paths(conn: Conn) -> list[str]:
    return [p for (p,) in conn.execute("SELECT path FROM artifacts")]


# -- registry: reads ----------------------------------------------------------------------------
def get_model(conn: Conn, name: str) -> RunDict | None:
    row = conn.execute(_MODEL_SELECT + " WHERE m.name = ?", (name,)).fetchone()
    return None if row is None else _row(_MODEL_COLUMNS, row)


def list_models(conn: Conn) -> list[RunDict]:
    return [
        _row(_MODEL_COLUMNS, row)
        for row in conn.execute(_MODEL_SELECT + " ORDER BY m.updated_at DESC, m.name")
    ]


def list_versions(conn: Conn, name: str) -> list[RunDict]:
    return [
        _row(VERSION_COLUMNS, row)
        for row in conn.execute(_VERSION_SELECT + " WHERE model = ? ORDER BY version", (name,))
    ]


def get_version(conn: Conn, name: str, version: int) -> RunDict | None:
    row = conn.execute(
        _VERSION_SELECT + " WHERE model = ? AND version = ?", (name, version)
    ).fetchone()
    return None if row is None else _row(VERSION_COLUMNS, row)


def version_in_stage(conn: Conn, name: str, stage: str) -> RunDict | None:
    row = conn.execute(
        _VERSION_SELECT + " WHERE model = ? AND stage = ? ORDER BY version DESC LIMIT 1",
        (name, stage),
    ).fetchone()
    return None if row is None else _row(VERSION_COLUMNS, row)


def stage_history(conn: Conn, name: str) -> list[RunDict]:
    cols = ("id", "model", "version", "from_stage", "to_stage", "created_at")
    return [
        _row(cols, row)
        for row in conn.execute(
            f"SELECT {', '.join(cols)} FROM model_stage_events WHERE model = ? ORDER BY id",
            (name,),
        )
    ]


def versions_of_runs(conn: Conn, run_ids: Sequence[str]) -> list[RunDict]:
    out: list[RunDict] = []
    for i in range(0, len(run_ids), _CHUNK):
        chunk = run_ids[i : i + _CHUNK]
        marks = ",".join("?" * len(chunk))
        out.extend(
            _row(VERSION_COLUMNS, row)
            for row in conn.execute(
                _VERSION_SELECT + f" WHERE run_id IN ({marks}) ORDER BY model, version", chunk
            )
        )
    return out


# -- registry: writes ---------------------------------------------------------------------------
def _event(conn: Conn, model: str, version: int, old: str | None, new: str, now: int) -> None:
    conn.execute(
        "INSERT INTO model_stage_events (model, version, from_stage, to_stage, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (model, version, old, new, now),
    )


def _archive_production(conn: Conn, model: str, keep: int | None, now: int) -> None:
    """Move the model's production version (unless it is ``keep``) to ``archived``."""
    current = version_in_stage(conn, model, "production")
    if current is None or current["version"] == keep:
        return
    conn.execute(
        "UPDATE model_versions SET stage = 'archived', updated_at = ? "
        "WHERE model = ? AND version = ?",
        (now, model, current["version"]),
    )
    _event(conn, model, current["version"], "production", "archived", now)


def register_version(
    conn: Conn,
    model: str,
    run_id: str,
    artifact: str,
    stage: str,
    description: str | None,
    now: int,
) -> RunDict:
    _require_run(conn, run_id)
    if get_artifact(conn, run_id, artifact) is None:
        raise NotFound(
            f"run {run_id} has no artifact named {artifact!r}; log the model first, e.g. "
            f"ml.log_artifact({artifact!r}, model)"
        )
    conn.execute(
        "INSERT INTO models (name, created_at, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
        (model, now, now),
    )
    # Inside the write transaction: no other writer can take the same number (SQLite holds the
    # write lock; on PostgreSQL the upsert above locks the model row until commit).
    (version,) = conn.execute(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE model = ?", (model,)
    ).fetchone()
    if stage == "production":
        _archive_production(conn, model, None, now)
    conn.execute(
        "INSERT INTO model_versions (model, version, run_id, artifact, stage, description, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (model, version, run_id, artifact, stage, description, now, now),
    )
    _event(conn, model, version, None, stage, now)
    found = get_version(conn, model, version)
    assert found is not None
    return found


def set_stage(conn: Conn, model: str, version: int, stage: str, now: int) -> RunDict:
    # Every check happens before the first change: an unknown version changes nothing. On
    # PostgreSQL the model row is locked so concurrent stage changes of one model serialise
    # (SQLite's write transaction already holds the database's only write lock).
    lock = " FOR UPDATE" if dialect_of(conn) == "postgresql" else ""
    if conn.execute("SELECT 1 FROM models WHERE name = ?" + lock, (model,)).fetchone() is None:
        raise NotFound(f"model {model!r} does not exist (see ml.registry.models())")
    current = get_version(conn, model, version)
    if current is None:
        raise NotFound(
            f"model {model!r} has no version {version} (see ml.registry.model_versions({model!r}))"
        )
    if current["stage"] == stage:
        return current
    if stage == "production":
        _archive_production(conn, model, version, now)
    conn.execute(
        "UPDATE model_versions SET stage = ?, updated_at = ? WHERE model = ? AND version = ?",
        (stage, now, model, version),
    )
    conn.execute("UPDATE models SET updated_at = ? WHERE name = ?", (now, model))
    _event(conn, model, version, current["stage"], stage, now)
    found = get_version(conn, model, version)
    assert found is not None
    return found


def set_description(conn: Conn, name: str, description: str, now: int) -> None:
    cur = conn.execute(
        "UPDATE models SET description = ?, updated_at = ? WHERE name = ?", (description, now, name)
    )
    if cur.rowcount == 0:
        raise NotFound(f"model {name!r} does not exist (see ml.registry.models())")


def delete_run_links(conn: Conn, run_id: str, force: bool) -> list[str]:
    """Within ``delete_run``: drop the run's model versions (only with ``force``) and artifact
    rows; returns the artifact-store keys whose bytes the caller must delete."""
    versions = versions_of_runs(conn, [run_id])
    if versions and not force:
        listed = ", ".join(f"{v['model']} v{v['version']} ({v['stage']})" for v in versions)
        raise InUse(
            f"run {run_id} backs registered model versions: {listed}; pass force=True to delete "
            "them with the run"
        )
    for v in versions:
        key = (v["model"], v["version"])
        conn.execute("DELETE FROM model_stage_events WHERE model = ? AND version = ?", key)
        conn.execute("DELETE FROM model_versions WHERE model = ? AND version = ?", key)
    paths = [p for (p,) in conn.execute("SELECT path FROM artifacts WHERE run_id = ?", (run_id,))]
    conn.execute("DELETE FROM artifacts WHERE run_id = ?", (run_id,))
    return paths
