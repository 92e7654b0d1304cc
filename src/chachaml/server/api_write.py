"""The write half of the JSON API. Bodies are pydantic models with ``extra="forbid"``; every
route calls a service function (``runs_api``, ``annotate``, ``registry``, ``artifact_api``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field, Strict
from starlette.requests import Request
from starlette.responses import Response

from chachaml import annotate, artifact_api, registry, runs_api, validate
from chachaml.artifacts import formats, names
from chachaml.errors import InvalidInput
from chachaml.server import bodies
from chachaml.server.auth import WRITE
from chachaml.server.deps import IdempotencyHeader, check_key, idempotent, settings_of, store_of
from chachaml.server.encoding import json_response
from chachaml.server.errors import BodyTooLarge

__all__ = ["router"]

router = APIRouter()

Name = Annotated[str, Field(max_length=250)]
Int64 = Annotated[int, Field(ge=validate.INT64_MIN, le=validate.INT64_MAX)]
# Metric values: JSON numbers (also the bare NaN/Infinity tokens), or exactly the strings "NaN",
# "Infinity" and "-Infinity". Strict: booleans and numeric strings ("1.5") are refused (422),
# as the Python API refuses them.
Value = Annotated[float, Strict()] | Literal["NaN", "Infinity", "-Infinity"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateRun(_Body):
    experiment: Name | None = None
    name: Name | None = None
    tags: dict[str, Any] | None = None
    parent_run_id: str | None = None
    created_by: Name | None = None
    id: str | None = Field(default=None, description="Client-chosen id: 32 lowercase hex chars.")
    start_time: Int64 | None = None
    env: dict[str, Any] | None = None
    host: Name | None = None
    pid: Int64 | None = None


class EndRun(_Body):
    status: Literal["completed", "failed", "killed", "crashed"] = "completed"
    error: Annotated[str, Field(max_length=100_000)] | None = None
    end_time: Int64 | None = None


class RenameRun(_Body):
    name: Name


class Params(_Body):
    params: dict[str, Any]


class Tags(_Body):
    tags: dict[str, Any]


class Note(_Body):
    note: Annotated[str, Field(max_length=1024 * 1024)]


class Dataset(_Body):
    role: Name = "train"
    name: Name | None = None
    n_rows: Int64 | None = None
    n_cols: Int64 | None = None
    features: list[str] | None = None
    hash: Name | None = None
    source: Annotated[str, Field(max_length=10_000)] | None = None


class Series(_Body):
    """One metric key over many steps. ``timestamps`` (epoch ms) default to the server's now."""

    run_id: str | None = Field(default=None, description="Only in POST /api/metrics.")
    key: Name
    steps: list[Int64]
    values: list[Value]
    timestamps: list[Int64] | None = None


class MetricBatch(_Body):
    series: list[Series]
    idempotency_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class Heartbeat(_Body):
    run_ids: Annotated[list[str], Field(max_length=10_000)]


class Archive(_Body):
    before_ms: Int64
    experiment: Name | None = None


class Experiment(_Body):
    name: Name
    description: Annotated[str, Field(max_length=1024 * 1024)] | None = None
    owner: Name | None = None


class Register(_Body):
    run_id: str
    artifact: Annotated[str, Field(max_length=1024)] = "model"
    stage: Literal["none", "staging", "production", "archived"] = "none"
    description: Annotated[str, Field(max_length=1024 * 1024)] | None = None


class Promote(_Body):
    stage: Literal["none", "staging", "production", "archived"]


class Description(_Body):
    description: Annotated[str, Field(max_length=1024 * 1024)]


# -- runs ------------------------------------------------------------------------------------
@router.post("/api/runs", dependencies=[WRITE], tags=["runs"], status_code=201)
def create_run(
    request: Request, body: CreateRun, idempotency_key: IdempotencyHeader = None
) -> Response:
    """Start a run (status ``running``); returns the run dict with its ``id``. A retry with the
    same ``Idempotency-Key`` gets the first answer (one run, not two)."""

    def apply() -> Any:
        return runs_api.create_run(
            experiment=body.experiment,
            name=body.name,
            tags=body.tags,
            parent_run_id=body.parent_run_id,
            created_by=body.created_by,
            run_id=body.id,
            start_time=body.start_time,
            env=body.env,
            host=body.host,
            pid=body.pid,
            store=store_of(request),
        )

    run, _ = idempotent(request, idempotency_key, body, apply)
    return json_response(request, run, 201)


@router.post("/api/runs/{run_id}/end", dependencies=[WRITE], tags=["runs"])
def end_run(request: Request, run_id: str, body: EndRun) -> Response:
    """Record the final status; the run dict is returned."""
    run = runs_api.end_run(run_id, body.status, body.error, body.end_time, store=store_of(request))
    return json_response(request, run)


@router.patch("/api/runs/{run_id}", dependencies=[WRITE], tags=["runs"])
def rename_run(request: Request, run_id: str, body: RenameRun) -> Response:
    runs_api.rename_run(run_id, body.name, store=store_of(request))
    return json_response(request, {"ok": True})


@router.delete("/api/runs/{run_id}", dependencies=[WRITE], tags=["runs"])
def delete_run(request: Request, run_id: str, force: bool = False) -> Response:
    """Delete a run with everything attached (``409 in_use`` if it backs a model version)."""
    removed = runs_api.delete_run(run_id, force=force, store=store_of(request))
    return json_response(request, {"deleted": True, "artifacts_removed": removed})


@router.post("/api/runs/archive", dependencies=[WRITE], tags=["runs"])
def archive(request: Request, body: Archive, idempotency_key: IdempotencyHeader = None) -> Response:
    """Archive finished runs that ended before ``before_ms``; a retry with the same
    ``Idempotency-Key`` gets the first count back."""

    def apply() -> dict[str, int]:
        n = runs_api.archive_before(body.before_ms, body.experiment, store=store_of(request))
        return {"archived": n}

    result, _ = idempotent(request, idempotency_key, body, apply)
    return json_response(request, result)


@router.post("/api/heartbeat", dependencies=[WRITE], tags=["runs"])
def heartbeat(request: Request, body: Heartbeat) -> Response:
    runs_api.heartbeat(body.run_ids, store=store_of(request))
    return json_response(request, {"ok": True})


@router.post("/api/runs/{run_id}/params", dependencies=[WRITE], tags=["runs"])
def log_params(request: Request, run_id: str, body: Params) -> Response:
    """Log immutable params (``409 param_conflict`` if a key already has another value)."""
    runs_api.log_params(run_id, body.params, store=store_of(request))
    return json_response(request, {"ok": True})


@router.post("/api/runs/{run_id}/tags", dependencies=[WRITE], tags=["runs"])
def set_tags(request: Request, run_id: str, body: Tags) -> Response:
    runs_api.log_tags(run_id, body.tags, store=store_of(request))
    return json_response(request, {"ok": True})


@router.delete("/api/runs/{run_id}/tags/{key}", dependencies=[WRITE], tags=["runs"])
def delete_tag(
    request: Request, run_id: str, key: str, idempotency_key: IdempotencyHeader = None
) -> Response:
    """Remove a tag; ``removed`` says whether it existed (a retry with the same
    ``Idempotency-Key`` gets the first answer)."""

    def apply() -> dict[str, bool]:
        return {"removed": runs_api.remove_tag(run_id, key, store=store_of(request))}

    result, _ = idempotent(request, idempotency_key, None, apply)
    return json_response(request, result)


@router.put("/api/runs/{run_id}/note", dependencies=[WRITE], tags=["runs"])
def set_note(request: Request, run_id: str, body: Note) -> Response:
    runs_api.set_note(run_id, body.note, store=store_of(request))
    return json_response(request, {"ok": True})


@router.post("/api/runs/{run_id}/datasets", dependencies=[WRITE], tags=["runs"], status_code=201)
def log_dataset(
    request: Request, run_id: str, body: Dataset, idempotency_key: IdempotencyHeader = None
) -> Response:
    """Record a dataset row; a retry with the same ``Idempotency-Key`` adds no second row."""
    row, _ = idempotent(
        request,
        idempotency_key,
        body,
        lambda: runs_api.log_dataset(run_id, body.model_dump(), store=store_of(request)),
    )
    return json_response(request, row, 201)


# -- metrics ---------------------------------------------------------------------------------
def _points(
    batch: MetricBatch, run_id: str | None, cap: int
) -> list[tuple[str, str, int, float, int | None]]:
    total = sum(len(s.steps) for s in batch.series)
    if total > cap:
        raise BodyTooLarge(f"{total} points in one batch; the limit is {cap}")
    out: list[tuple[str, str, int, float, int | None]] = []
    for s in batch.series:
        rid = run_id if run_id is not None else s.run_id
        if run_id is not None and s.run_id not in (None, run_id):
            raise InvalidInput("a series' run_id must match the run in the URL (or be omitted)")
        if rid is None:
            raise InvalidInput("every series of POST /api/metrics needs a run_id")
        n = len(s.steps)
        if len(s.values) != n or (s.timestamps is not None and len(s.timestamps) != n):
            raise InvalidInput(f"series {s.key!r}: steps, values and timestamps differ in length")
        values = [v if isinstance(v, float) else float(v) for v in s.values]
        stamps: list[int | None] = list(s.timestamps) if s.timestamps is not None else [None] * n
        out.extend(zip([rid] * n, [s.key] * n, s.steps, values, stamps, strict=True))
    return out


def _log_batch(request: Request, batch: MetricBatch, run_id: str | None, header: str | None) -> Any:
    settings = settings_of(request)
    key = check_key(header or batch.idempotency_key)
    points = _points(batch, run_id, settings.max_batch_points)

    def apply() -> dict[str, Any]:
        return {"stored": runs_api.log_metric_batch(points, store=store_of(request))}

    result, replayed = idempotent(request, key, batch, apply)
    return {**result, "replayed": replayed}


@router.post("/api/runs/{run_id}/metrics", dependencies=[WRITE], tags=["metrics"])
def log_metrics(
    request: Request,
    run_id: str,
    body: MetricBatch,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Log many keys x many steps of one run in one transaction. With an ``Idempotency-Key``
    header (or body field) a retried batch is answered from memory and not applied again."""
    return json_response(
        request, _log_batch(request, body, validate.run_id(run_id), idempotency_key)
    )


@router.post("/api/metrics", dependencies=[WRITE], tags=["metrics"])
def log_metrics_any(
    request: Request,
    body: MetricBatch,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Like ``POST /api/runs/{run_id}/metrics`` for series of several runs (each names its
    ``run_id``); one transaction, ``404`` (nothing stored) if any run is unknown."""
    return json_response(request, _log_batch(request, body, None, idempotency_key))


# -- artifacts -------------------------------------------------------------------------------
@router.put("/api/runs/{run_id}/artifacts/{name:path}", dependencies=[WRITE], tags=["artifacts"])
async def upload_artifact(
    request: Request,
    run_id: str,
    name: str,
    format: Annotated[str, Query(max_length=20)] = "file",
    content_type: Annotated[str | None, Query(max_length=255)] = None,
) -> Response:
    """Store the raw request body (streamed to the artifact store, capped) as artifact
    ``name``; never overwrites (``409 already_exists``). The MIME type is ``content_type``,
    else the request's ``Content-Type`` unless it is ``application/octet-stream``, else
    guessed. Nothing is stored when the body is refused, stalls or the client goes away."""
    run_id = validate.run_id(run_id)
    name = names.validate(name)
    fmt = "file" if format == "file" else formats.check_format(format)
    header_type = request.headers.get("content-type")
    if content_type is None and header_type and header_type != "application/octet-stream":
        content_type = header_type
    ctype = None if content_type is None else artifact_api.check_content_type(content_type)
    cap = settings_of(request).max_artifact_bytes
    st = store_of(request)
    # Checked before a byte of the body is read: the run exists and the name is free.
    writer = await anyio.to_thread.run_sync(artifact_api.begin_artifact, st, run_id, name)
    try:
        head = await bodies.stream_into_writer(request, writer, cap)
        if ctype is None:
            ctype = (
                formats.CONTENT_TYPES[fmt]
                if fmt != "file"
                else artifact_api.guess_content_type(name, head)
            )
        row = await anyio.to_thread.run_sync(
            artifact_api.commit_artifact, st, writer, run_id, name, fmt, ctype
        )
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(writer.discard)  # no-op after a commit
    return json_response(request, row, 201)


# -- experiments and registry ----------------------------------------------------------------
@router.post("/api/experiments", dependencies=[WRITE], tags=["experiments"])
def create_experiment(request: Request, body: Experiment) -> Response:
    """Create an experiment or update its description/owner."""
    row = annotate.create_experiment(
        body.name, body.description, body.owner, store=store_of(request)
    )
    return json_response(request, row)


@router.post("/api/models/{name}/versions", dependencies=[WRITE], tags=["models"], status_code=201)
def register_model(
    request: Request, name: str, body: Register, idempotency_key: IdempotencyHeader = None
) -> Response:
    """Register an artifact of a run as the next version of model ``name``. A retry with the
    same ``Idempotency-Key`` gets the first version back instead of creating another."""
    row, _ = idempotent(
        request,
        idempotency_key,
        body,
        lambda: registry.register_model(
            name, body.artifact, body.run_id, body.stage, body.description, store=store_of(request)
        ),
    )
    return json_response(request, row, 201)


@router.post("/api/models/{name}/versions/{version}/stage", dependencies=[WRITE], tags=["models"])
def promote(
    request: Request, name: str, version: Annotated[int, Path(ge=1, le=2**62)], body: Promote
) -> Response:
    """Move a version to a stage (promoting to production archives the current one)."""
    return json_response(
        request, registry.promote(name, version, body.stage, store=store_of(request))
    )


@router.put("/api/models/{name}/description", dependencies=[WRITE], tags=["models"])
def describe_model(request: Request, name: str, body: Description) -> Response:
    row = registry.set_model_description(name, body.description, store=store_of(request))
    return json_response(request, row)
