"""Blob routes: the artifact-store protocol over HTTP (what the remote store's artifact half
uses). Keys are ``<run_id>/<name>``, validated like every artifact name. Bytes are never
overwritten, and bytes that a metadata row references can only go with their run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from chachaml import artifact_api, context, validate
from chachaml.server import bodies
from chachaml.server.auth import READ, WRITE
from chachaml.server.deps import IdempotencyHeader, idempotent, settings_of, store_of
from chachaml.server.encoding import json_response
from chachaml.store.protocol import NewArtifact

__all__ = ["router"]

router = APIRouter()


class ArtifactRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=1024)]
    path: Annotated[str, Field(max_length=1100)]
    format: Annotated[str, Field(max_length=20)]
    content_type: Annotated[str, Field(max_length=255)]
    size: Annotated[int, Field(ge=0, le=2**62)]
    sha256: Annotated[str, Field(min_length=64, max_length=64)]
    created_at: Annotated[int, Field(ge=0, le=2**62)]


@router.put("/api/store/blobs/{run_id}/{name:path}", dependencies=[WRITE], tags=["store"])
async def put_blob(request: Request, run_id: str, name: str) -> Response:
    """Commit the raw body under ``<run_id>/<name>`` (streamed to the artifact store, capped);
    ``409`` if the key exists. Nothing is kept when the body is refused, stalls or the client
    goes away."""
    artifact_api.artifact_key(run_id, name)  # refuse a bad key before reading the body
    cap = settings_of(request).max_artifact_bytes
    writer = await anyio.to_thread.run_sync(artifact_api.blob_writer, store_of(request))
    try:
        await bodies.stream_into_writer(request, writer, cap)
        result = await anyio.to_thread.run_sync(artifact_api.commit_blob, writer, run_id, name)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(writer.discard)  # no-op after a commit
    return json_response(request, result, 201)


@router.get("/api/store/blobs/{run_id}/{name:path}", dependencies=[READ], tags=["store"])
def get_blob(request: Request, run_id: str, name: str) -> Response:
    stream = artifact_api.open_blob(store_of(request), run_id, name)

    def chunks() -> Iterator[bytes]:
        with stream:
            while block := stream.read(1024 * 1024):
                yield block

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/api/store/blob-info/{run_id}/{name:path}", dependencies=[READ], tags=["store"])
def blob_info(request: Request, run_id: str, name: str) -> Response:
    return json_response(request, artifact_api.blob_info(store_of(request), run_id, name))


@router.delete("/api/store/blobs/{run_id}/{name:path}", dependencies=[WRITE], tags=["store"])
def delete_blob(request: Request, run_id: str, name: str) -> Response:
    """Delete bytes that no metadata row references (``409 in_use`` otherwise)."""
    st = context.resolve(store_of(request))
    freed = artifact_api.delete_unreferenced_bytes(st, f"{run_id}/{name}")
    return json_response(request, {"freed": freed})


@router.post(
    "/api/runs/{run_id}/artifact-rows", dependencies=[WRITE], tags=["store"], status_code=201
)
def add_artifact_row(
    request: Request, run_id: str, body: ArtifactRow, idempotency_key: IdempotencyHeader = None
) -> Response:
    """Insert the metadata row of uploaded bytes: ``404`` for an unknown run or missing bytes,
    ``422`` unless the stored bytes have exactly the row's size and sha256 (re-hashed here),
    ``409`` if the run has that name. A retry with the same ``Idempotency-Key`` gets the first
    answer."""
    st = store_of(request)

    def apply() -> Any:
        record = NewArtifact(run_id=validate.run_id(run_id), **body.model_dump())
        return artifact_api.add_artifact_row(st, record)

    row, _ = idempotent(request, idempotency_key, body, apply)
    return json_response(request, row, 201)
