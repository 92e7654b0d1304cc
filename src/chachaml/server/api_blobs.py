"""Blob routes: the artifact-store protocol over HTTP (what the remote store's artifact half
uses). Keys are ``<run_id>/<name>``, validated like every artifact name. Bytes are never
overwritten, and bytes that a metadata row references can only go with their run."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Annotated

import anyio
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from chachaml import artifact_api, query
from chachaml.errors import NotFound
from chachaml.server.auth import READ, WRITE
from chachaml.server.deps import settings_of, store_of
from chachaml.server.encoding import json_response
from chachaml.server.errors import BodyTooLarge
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
    """Commit the raw body under ``<run_id>/<name>``; ``409`` if the key exists."""
    key = artifact_api.artifact_key(run_id, name)
    cap = settings_of(request).max_artifact_bytes
    st = store_of(request)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    try:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise BodyTooLarge(f"artifact is over the upload cap of {cap} bytes")
            spool.write(chunk)
        spool.seek(0)

        def commit() -> dict[str, object]:
            writer = st.artifacts.writer()
            try:
                while True:
                    block = spool.read(1024 * 1024)
                    if not block:
                        break
                    writer.write(block)
                writer.commit(key)
            finally:
                writer.discard()
            return {"key": key, "size": writer.size, "sha256": writer.sha256}

        result = await anyio.to_thread.run_sync(commit)
    finally:
        spool.close()
    return json_response(request, result, 201)


@router.get("/api/store/blobs/{run_id}/{name:path}", dependencies=[READ], tags=["store"])
def get_blob(request: Request, run_id: str, name: str) -> Response:
    key = artifact_api.artifact_key(run_id, name)
    stream = store_of(request).artifacts.open(key)

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
    key = artifact_api.artifact_key(run_id, name)
    blobs = store_of(request).artifacts
    if not blobs.exists(key):
        raise NotFound(f"no bytes under {key!r}")
    return json_response(request, {"key": key, "size": blobs.size(key)})


@router.delete("/api/store/blobs/{run_id}/{name:path}", dependencies=[WRITE], tags=["store"])
def delete_blob(request: Request, run_id: str, name: str) -> Response:
    """Delete bytes that no metadata row references (``409 in_use`` otherwise)."""
    st = query.resolve(store_of(request))
    freed = artifact_api.delete_unreferenced_bytes(st, f"{run_id}/{name}")
    return json_response(request, {"freed": freed})


@router.post(
    "/api/runs/{run_id}/artifact-rows", dependencies=[WRITE], tags=["store"], status_code=201
)
def add_artifact_row(request: Request, run_id: str, body: ArtifactRow) -> Response:
    """Insert the metadata row of uploaded bytes (``409`` if the run has that name)."""
    st = query.resolve(store_of(request))
    row = artifact_api.add_artifact_row(st, NewArtifact(run_id=run_id, **body.model_dump()))
    return json_response(request, row, 201)
