"""SQL of pipelines for the SQL stores, run inside the caller's transaction (never commits).

A pipeline is a parent run plus a ``pipelines`` row (same id) and one ``pipeline_steps`` row per
step. Statuses are *derived* when reading, never duplicated: the pipeline's is its parent run's
(``STATUS_SQL``, so the crash rule applies), a step still ``running`` reads as its run's status,
and a ``pending`` step of a pipeline that is no longer running reads as ``skipped``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chachaml.errors import AlreadyExists, NotFound
from chachaml.store.protocol import RunDict, StepState
from chachaml.store.sqlcommon import STATUS_SQL, status_condition
from chachaml.store.sqlconn import Conn, dialect_of

__all__ = ["create", "get", "listing", "set_step"]

# The parent run is `r`; STATUS_SQL takes the crash cutoff as its one parameter.
_PIPELINE_SELECT = (
    "SELECT p.id, p.name, p.description, p.resumed_from, p.created_at, r.experiment, "
    f"{STATUS_SQL}, r.end_time, r.heartbeat, "
    "(SELECT COUNT(*) FROM pipeline_steps s WHERE s.pipeline_id = p.id), "
    "(SELECT COUNT(*) FROM pipeline_steps s WHERE s.pipeline_id = p.id "
    "AND s.status IN ('completed', 'reused')) "
    "FROM pipelines p JOIN runs r ON r.id = p.id"
)
# Here `r` is the step's run (absent for steps that never ran, or whose run was deleted).
_STEPS_SELECT = (
    "SELECT s.idx, s.name, s.status, s.run_id, s.started_at, s.finished_at, s.error, "
    f"s.result_artifact, {STATUS_SQL}, r.end_time, r.heartbeat, r.error "
    "FROM pipeline_steps s LEFT JOIN runs r ON r.id = s.run_id "
    "WHERE s.pipeline_id = ? ORDER BY s.idx"
)


def _require_run(conn: Conn, run_id: str) -> None:
    if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
        raise NotFound(f"run {run_id!r} does not exist")


def _duration(start: int | None, end: int | None) -> int | None:
    return None if start is None or end is None else end - start


def _pipeline(row: Sequence[Any]) -> RunDict:
    pid, name, desc, resumed, created, experiment, status, end, beat, n, done = row
    if end is None and status == "crashed":
        end = beat  # the last sign of life, as a finalised crashed run records it
    return {
        "id": pid,
        "name": name,
        "description": desc,
        "experiment": experiment,
        "status": status,
        "resumed_from": resumed,
        "created_at": created,
        "finished_at": end,
        "duration_ms": _duration(created, end),
        "step_count": int(n),
        "steps_done": int(done),
    }


def _step(row: Sequence[Any], pipeline_running: bool) -> RunDict:
    idx, name, status, run_id, start, end, error, result, run_status, run_end, beat, run_error = row
    if status == "running" and run_status is not None:
        status = run_status  # one rule: the step's run says whether it is still alive
        if status != "running":
            end = end if end is not None else run_end if run_end is not None else beat
            error = error if error is not None else run_error
    elif status == "pending" and not pipeline_running:
        status = "skipped"
    return {
        "index": idx,
        "name": name,
        "status": status,
        "run_id": run_id,
        "started_at": start,
        "finished_at": end,
        "duration_ms": _duration(start, end),
        "error": error,
        "result_artifact": result,
    }


def create(
    conn: Conn,
    pipeline_id: str,
    name: str,
    description: str | None,
    resumed_from: str | None,
    created_at: int,
    steps: Sequence[str],
) -> None:
    _require_run(conn, pipeline_id)
    if conn.execute("SELECT 1 FROM pipelines WHERE id = ?", (pipeline_id,)).fetchone():
        raise AlreadyExists(f"run {pipeline_id} already is a pipeline")
    conn.execute(
        "INSERT INTO pipelines (id, name, description, resumed_from, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (pipeline_id, name, description, resumed_from, created_at),
    )
    conn.executemany(
        "INSERT INTO pipeline_steps (pipeline_id, idx, name, status) VALUES (?, ?, ?, 'pending')",
        [(pipeline_id, i, step) for i, step in enumerate(steps)],
    )


def set_step(conn: Conn, pipeline_id: str, idx: int, state: StepState) -> None:
    if state.run_id is not None:
        _require_run(conn, state.run_id)
    cur = conn.execute(
        "UPDATE pipeline_steps SET status = ?, run_id = ?, started_at = ?, finished_at = ?, "
        "error = ?, result_artifact = ? WHERE pipeline_id = ? AND idx = ?",
        (*state, pipeline_id, idx),
    )
    if cur.rowcount == 0:
        if conn.execute("SELECT 1 FROM pipelines WHERE id = ?", (pipeline_id,)).fetchone():
            raise NotFound(f"pipeline {pipeline_id} has no step {idx}")
        raise NotFound(f"pipeline {pipeline_id!r} does not exist")


def listing(
    conn: Conn,
    name: str | None,
    status: str | None,
    limit: int | None,
    offset: int,
    stale_before: int,
) -> list[RunDict]:
    sql = _PIPELINE_SELECT
    params: list[Any] = [stale_before]
    where = []
    if name is not None:
        where.append("p.name = ?")
        params.append(name)
    if status is not None:
        cond, args = status_condition(status, stale_before)
        where.append(cond)
        params += args
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY p.created_at DESC, p.id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    elif offset:
        sql += " LIMIT -1" if dialect_of(conn) == "sqlite" else " LIMIT ALL"
    if offset:
        sql += " OFFSET ?"
        params.append(offset)
    return [_pipeline(row) for row in conn.execute(sql, params)]


def get(conn: Conn, pipeline_id: str, stale_before: int) -> RunDict | None:
    row = conn.execute(_PIPELINE_SELECT + " WHERE p.id = ?", (stale_before, pipeline_id)).fetchone()
    if row is None:
        return None
    found = _pipeline(row)
    running = found["status"] == "running"
    found["steps"] = [
        _step(r, running) for r in conn.execute(_STEPS_SELECT, (stale_before, pipeline_id))
    ]
    return found
