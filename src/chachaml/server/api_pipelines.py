"""HTTP routes of pipelines: the listing and one pipeline with its steps (read), and the two
writes the remote store's ``run_pipeline`` makes (record a pipeline, set a step's state). Every
route calls :mod:`chachaml.pipeline_api`, which validates and goes through the store protocol."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from chachaml import pipeline_api, validate
from chachaml.errors import InvalidInput
from chachaml.server.auth import READ, WRITE
from chachaml.server.deps import IdempotencyHeader, idempotent, settings_of, store_of
from chachaml.server.encoding import json_response

__all__ = ["router"]

router = APIRouter()

Name = Annotated[str, Field(max_length=250)]
RunId = Annotated[str, Field(max_length=32)]
Int64 = Annotated[int, Field(ge=validate.INT64_MIN, le=validate.INT64_MAX)]
Text = Annotated[str | None, Query(max_length=250)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewPipeline(_Body):
    id: RunId = Field(description="The parent run's id (the run must exist).")
    name: Name
    steps: Annotated[list[Name], Field(min_length=1, max_length=pipeline_api.MAX_STEPS)]
    description: Annotated[str, Field(max_length=1024 * 1024)] | None = None
    resumed_from: RunId | None = None
    created_at: Int64 | None = None


class StepState(_Body):
    status: Literal["pending", "running", "completed", "failed", "killed", "skipped", "reused"]
    run_id: RunId | None = None
    started_at: Int64 | None = None
    finished_at: Int64 | None = None
    error: Annotated[str, Field(max_length=100_000)] | None = None
    result_artifact: Name | None = None


@router.get("/api/pipelines", dependencies=[READ], tags=["pipelines"])
def list_pipelines(
    request: Request,
    name: Text = None,
    status: Text = None,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    """Pipelines, newest first (``ml.pipelines``); ``status`` is the parent run's."""
    cap = settings_of(request).max_page_size
    if limit is not None and limit > cap:
        raise InvalidInput(
            f"limit must be between 0 and {cap} (the page size cap); page with offset"
        )
    page = min(50, cap) if limit is None else limit
    found = pipeline_api.pipelines(page, name, status, offset=offset, store=store_of(request))
    return json_response(request, {"pipelines": found, "limit": page, "offset": offset})


@router.get("/api/pipelines/{pipeline_id}", dependencies=[READ], tags=["pipelines"])
def get_pipeline(request: Request, pipeline_id: str) -> Response:
    """One pipeline (id or unique id prefix) with its steps in order (``ml.pipeline``)."""
    return json_response(request, pipeline_api.pipeline(pipeline_id, store=store_of(request)))


@router.post("/api/pipelines", dependencies=[WRITE], tags=["pipelines"], status_code=201)
def create_pipeline(
    request: Request, body: NewPipeline, idempotency_key: IdempotencyHeader = None
) -> Response:
    """Record an existing run as a pipeline with its steps ``pending`` (``404`` for an unknown
    run, ``409 already_exists`` if it already is one); returns the pipeline."""

    def apply() -> object:
        st = store_of(request)
        pipeline_api.record_pipeline(
            body.id,
            body.name,
            body.steps,
            description=body.description,
            resumed_from=body.resumed_from,
            created_at=body.created_at,
            store=st,
        )
        return pipeline_api.pipeline(body.id, store=st)

    found, _ = idempotent(request, idempotency_key, body, apply)
    return json_response(request, found, 201)


@router.put("/api/pipelines/{pipeline_id}/steps/{index}", dependencies=[WRITE], tags=["pipelines"])
def set_step(
    request: Request,
    pipeline_id: str,
    index: Annotated[int, Path(ge=0, lt=pipeline_api.MAX_STEPS)],
    body: StepState,
) -> Response:
    """Replace the state of step ``index`` (``404`` for an unknown pipeline, step or run)."""
    pipeline_api.record_step(
        pipeline_id,
        index,
        body.status,
        run_id=body.run_id,
        started_at=body.started_at,
        finished_at=body.finished_at,
        error=body.error,
        result_artifact=body.result_artifact,
        store=store_of(request),
    )
    return json_response(request, {"ok": True})
