"""The read half of the JSON API: every route calls a service function (``query``, ``annotate``,
``registry``, ``artifact_api``) or a read of the store protocol, never SQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from chachaml import (
    annotate,
    artifact_api,
    cleanup,
    comparison,
    health,
    query,
    registry,
    validate,
)
from chachaml import (
    export as exporting,
)
from chachaml.errors import InvalidInput
from chachaml.server.auth import PUBLIC, READ
from chachaml.server.deps import parse_tags, settings_of, store_of
from chachaml.server.encoding import json_response

__all__ = ["router"]

router = APIRouter()

Ids = Annotated[list[str], Query(max_length=1000)]
Text = Annotated[str | None, Query(max_length=10_000)]
Offset = Annotated[int, Query(ge=0, le=2**62)]
INLINE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "application/json", "text/csv"}
)


def _page_limit(request: Request, limit: int | None) -> int:
    cap = settings_of(request).max_page_size
    if limit is None:
        return min(100, cap)
    if limit < 0 or limit > cap:
        raise InvalidInput(
            f"limit must be between 0 and {cap} (the page size cap); page with offset"
        )
    return limit


def _ids(values: list[str]) -> list[str]:
    return [validate.run_id(v) for v in values]


@router.get("/healthz", dependencies=[PUBLIC], tags=["meta"])
def healthz(request: Request) -> Response:
    """Liveness: the app is up (does not touch the store)."""
    return json_response(request, {"status": "ok"})


class RunsQuery(BaseModel):
    """``POST /api/runs/query``: the ``GET /api/runs`` parameters as a JSON body, for id lists
    too long for a URL (up to 10,000 ids)."""

    model_config = ConfigDict(extra="forbid")

    experiment: Annotated[str | list[str] | None, Field(max_length=10_000)] = None
    status: Annotated[str | None, Field(max_length=10_000)] = None
    name: Annotated[str | None, Field(max_length=10_000)] = None
    parent_run_id: Annotated[str | None, Field(max_length=10_000)] = None
    created_by: Annotated[str | None, Field(max_length=10_000)] = None
    tags: Annotated[dict[str, str], Field(max_length=100)] = {}
    filter: Annotated[str | None, Field(max_length=10_000)] = None
    order_by: Annotated[list[str], Field(max_length=20)] = []
    limit: Annotated[int | None, Field(ge=0)] = None
    offset: Annotated[int, Field(ge=0, le=2**62)] = 0
    include_archived: bool = False
    count: bool = False
    ids: Annotated[list[str], Field(max_length=10_000)] = []
    metric: Annotated[str | None, Field(max_length=250)] = None
    op: Annotated[str | None, Field(pattern="^(>|>=|<|<=|=|!=|exists)$")] = None
    value: float | None = None


def _runs_page(request: Request, q: RunsQuery) -> Response:
    page = _page_limit(request, q.limit)
    op = None if q.op == "exists" else q.op
    value = None if q.metric is None or op is None else q.value
    args: dict[str, Any] = {
        "experiment": q.experiment,
        "status": q.status,
        "name": q.name,
        "parent_run_id": q.parent_run_id,
        "created_by": q.created_by,
        "tags": q.tags or None,
        "ids": q.ids or None,
        "metric": q.metric,
        "op": op,
        "value": value,
        "include_archived": q.include_archived,
        "store": store_of(request),
    }
    found = query.search_runs(
        q.filter, order_by=q.order_by or None, limit=page, offset=q.offset, **args
    )
    total = query.count_runs(q.filter, **args) if q.count else None
    body = {"runs": found, "count": total, "limit": page, "offset": q.offset}
    return json_response(request, body)


@router.get("/api/runs", dependencies=[READ], tags=["runs"])
def list_runs(
    request: Request,
    experiment: Annotated[list[str], Query(max_length=100)] = [],  # noqa: B006
    status: Text = None,
    name: Text = None,
    parent_run_id: Text = None,
    created_by: Text = None,
    tag: Annotated[list[str], Query(max_length=100, description="key=value")] = [],  # noqa: B006
    filter: Text = None,
    order_by: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Offset = 0,
    include_archived: bool = False,
    count: bool = False,
    ids: Annotated[list[str], Query(max_length=1000)] = [],  # noqa: B006
    metric: Annotated[str | None, Query(max_length=250)] = None,
    op: Annotated[str | None, Query(pattern="^(>|>=|<|<=|=|!=|exists)$")] = None,
    value: float | None = None,
) -> Response:
    """Run summaries (newest first unless ``order_by``) with optional total ``count``: the
    listing of ``ml.search_runs``, with the same arguments and the same order.

    ``metric``/``op``/``value`` is the threshold form (latest value); ``metric`` alone (or
    ``op=exists``) lists the runs that logged it, highest latest value first. ``ids``
    restricts to those runs; ``experiment`` may repeat."""
    q = RunsQuery.model_construct(
        experiment=None
        if not experiment
        else experiment[0]
        if len(experiment) == 1
        else experiment,
        status=status,
        name=name,
        parent_run_id=parent_run_id,
        created_by=created_by,
        tags=parse_tags(tag) or {},
        filter=filter,
        order_by=order_by,
        limit=limit,
        offset=offset,
        include_archived=include_archived,
        count=count,
        ids=ids,
        metric=metric,
        op=op,
        value=value,
    )
    return _runs_page(request, q)


@router.post("/api/runs/query", dependencies=[READ], tags=["runs"])
def query_runs(request: Request, body: RunsQuery) -> Response:
    """The same listing as ``GET /api/runs`` with the parameters in a JSON body (``tags`` as
    an object); use it for long ``ids`` lists."""
    return _runs_page(request, body)


@router.get("/api/runs/{run_id}", dependencies=[READ], tags=["runs"])
def get_run(request: Request, run_id: str) -> Response:
    """One run: params, latest metrics, tags, datasets, children, env, note."""
    return json_response(request, query.get_run(run_id, store=store_of(request)))


@router.get("/api/runs/{run_id}/metrics/history", dependencies=[READ], tags=["runs"])
def metric_history(
    request: Request,
    run_id: str,
    key: Annotated[str, Query(max_length=250)],
    max_points: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    raw: bool = False,
    after_step: Annotated[int | None, Query(ge=-(2**63), le=2**63 - 1)] = None,
) -> Response:
    """Points of one metric in step order, downsampled to ``max_points`` (default 2,000) keeping
    each bucket's min and max (spikes stay); ``raw=true`` returns every point.

    ``after_step`` is the live-update cursor: only points with a greater step, not downsampled,
    the first ``max_points`` of them (all with ``raw=true``); ask again from the last step."""
    st = store_of(request)
    query.get_run(run_id, store=st)  # NotFound for an unknown run (an empty history otherwise)
    limit = None if raw else (max_points or settings_of(request).default_history_points)
    points = query.metric_history(run_id, key, limit, after_step=after_step, store=st)
    return json_response(request, {"run_id": run_id, "key": key, "points": points})


@router.get("/api/runs/{run_id}/tags", dependencies=[READ], tags=["runs"])
def get_tags(request: Request, run_id: str) -> Response:
    return json_response(request, query.get_tags(run_id, store=store_of(request)))


@router.get("/api/runs/{run_id}/datasets", dependencies=[READ], tags=["runs"])
def get_datasets(request: Request, run_id: str) -> Response:
    return json_response(request, query.get_datasets(run_id, store=store_of(request)))


@router.get("/api/runs/{run_id}/artifacts", dependencies=[READ], tags=["artifacts"])
def list_artifacts(request: Request, run_id: str) -> Response:
    return json_response(request, artifact_api.list_artifacts(run_id, store=store_of(request)))


@router.get("/api/runs/{run_id}/artifact-info/{name:path}", dependencies=[READ], tags=["artifacts"])
def artifact_info(request: Request, run_id: str, name: str) -> Response:
    """The metadata of one artifact."""
    return json_response(request, artifact_api.get_artifact(run_id, name, store=store_of(request)))


@router.get("/api/runs/{run_id}/artifacts/{name:path}", dependencies=[READ], tags=["artifacts"])
def download_artifact(request: Request, run_id: str, name: str) -> Response:
    """The artifact's bytes, streamed, with its content type. Anything a browser could run
    (HTML, SVG, ...) is sent as an attachment and sandboxed."""
    row, stream = artifact_api.open_artifact(run_id, name, store=store_of(request))

    def chunks() -> Iterator[bytes]:
        with stream:
            while True:
                block = stream.read(1024 * 1024)
                if not block:
                    return
                yield block

    ctype = str(row["content_type"])
    base = ctype.split(";", 1)[0].strip().lower()
    filename = name.rsplit("/", 1)[-1]
    quoted = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename) or "artifact"
    disposition = "inline" if base in INLINE_TYPES or base == "text/plain" else "attachment"
    headers = {
        "Content-Disposition": f'{disposition}; filename="{quoted}"',
        "Content-Length": str(row["size"]),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Chachaml-Sha256": str(row["sha256"]),
    }
    return StreamingResponse(chunks(), media_type=ctype, headers=headers)


@router.get("/api/compare", dependencies=[READ], tags=["runs"])
def compare(request: Request, ids: Ids) -> Response:
    """Params split into same/differ/partial and latest metrics side by side."""
    if not ids:
        raise InvalidInput("compare needs at least one ids=<run id>")
    if len(ids) > 100:
        raise InvalidInput("compare takes at most 100 runs")
    return json_response(request, comparison.compare_runs(ids, store=store_of(request)))


@router.get("/api/search", dependencies=[READ], tags=["runs"])
def search(
    request: Request,
    filter: Text = None,
    experiment: Text = None,
    metric: Text = None,
    op: Text = None,
    value: float | None = None,
    order_by: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Offset = 0,
    include_archived: bool = False,
) -> Response:
    """Runs matching a filter expression or the metric/op/value threshold form."""
    found = query.search_runs(
        filter,
        experiment=experiment,
        metric=metric,
        op=op,
        value=value,
        order_by=order_by or None,
        limit=_page_limit(request, limit),
        offset=offset,
        include_archived=include_archived,
        store=store_of(request),
    )
    return json_response(request, {"runs": found})


@router.get("/api/best", dependencies=[READ], tags=["runs"])
def best(
    request: Request,
    metric: Annotated[str, Query(max_length=250)],
    experiment: Text = None,
    direction: Annotated[str, Query(pattern="^(max|min)$")] = "max",
    by: Annotated[str, Query(pattern="^(last|max|min)$")] = "last",
) -> Response:
    """The run with the highest (or lowest) latest value of ``metric`` (``by=max``/``min``:
    its maximum/minimum over steps); ``null`` when no run has it."""
    found = query.best_run(metric, experiment, direction, by=by, store=store_of(request))
    return json_response(request, found)


@router.get("/api/export", dependencies=[READ], tags=["runs"])
def export(
    request: Request,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    experiment: Text = None,
    status: Text = None,
    filter: Text = None,
    tag: Annotated[list[str], Query(max_length=100)] = [],  # noqa: B006
    limit: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    include_archived: bool = False,
    created_by: Text = None,
    order_by: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
) -> Response:
    """Flat rows (run columns, params, latest metrics) as JSON or CSV, in the order of
    ``GET /api/runs`` with the same arguments."""
    rows = exporting.export_runs(
        experiment,
        status,
        filter,
        parse_tags(tag),
        limit,
        include_archived,
        created_by=created_by,
        order_by=order_by or None,
        store=store_of(request),
    )
    if format == "csv":
        return Response(
            exporting.export_csv(rows).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="runs.csv"'},
        )
    return json_response(request, {"rows": rows})


@router.get("/api/experiments", dependencies=[READ], tags=["experiments"])
def experiments(request: Request) -> Response:
    return json_response(request, annotate.experiments(store=store_of(request)))


@router.get("/api/experiments/{name}", dependencies=[READ], tags=["experiments"])
def experiment(request: Request, name: str) -> Response:
    return json_response(request, annotate.experiment(name, store=store_of(request)))


@router.get("/api/models", dependencies=[READ], tags=["models"])
def models(request: Request) -> Response:
    return json_response(request, registry.models(store=store_of(request)))


@router.get("/api/models/{name}", dependencies=[READ], tags=["models"])
def model(request: Request, name: str) -> Response:
    return json_response(request, registry.model(name, store=store_of(request)))


@router.get("/api/models/{name}/versions", dependencies=[READ], tags=["models"])
def model_versions(request: Request, name: str) -> Response:
    return json_response(request, registry.model_versions(name, store=store_of(request)))


@router.get("/api/models/{name}/versions/{version}", dependencies=[READ], tags=["models"])
def model_version(
    request: Request, name: str, version: Annotated[int, Path(ge=1, le=2**62)]
) -> Response:
    return json_response(request, registry.get_version(name, version, store=store_of(request)))


@router.get("/api/models/{name}/stages/{stage}", dependencies=[READ], tags=["models"])
def model_in_stage(request: Request, name: str, stage: str) -> Response:
    """The newest version currently in ``stage`` (``null`` if none)."""
    return json_response(request, registry.version_in_stage(name, stage, store=store_of(request)))


@router.get("/api/models/{name}/history", dependencies=[READ], tags=["models"])
def model_history(request: Request, name: str) -> Response:
    return json_response(request, registry.stage_history(name, store=store_of(request)))


@router.get("/api/models/{name}/diff", dependencies=[READ], tags=["models"])
def model_diff(
    request: Request,
    name: str,
    v1: Annotated[int, Query(ge=1, le=2**62)],
    v2: Annotated[int, Query(ge=1, le=2**62)],
) -> Response:
    return json_response(request, registry.diff_versions(name, v1, v2, store=store_of(request)))


# -- store-level reads (what the remote store needs beyond the pages) ---------------------------
@router.get("/api/store/info", dependencies=[READ], tags=["store"])
def store_info(request: Request, integrity: bool = False) -> Response:
    """Applied schema migrations and, with ``integrity=true``, the backend's integrity check."""
    return json_response(request, health.store_info(store_of(request), integrity=integrity))


@router.get("/api/store/params", dependencies=[READ], tags=["store"])
def params_of(request: Request, ids: Ids) -> Response:
    """JSON text of each run's params, by run id."""
    return json_response(request, query.params_json(ids, store=store_of(request)))


@router.get("/api/store/metric-summaries", dependencies=[READ], tags=["store"])
def metric_summaries(request: Request, ids: Ids) -> Response:
    return json_response(request, query.metric_summaries(ids, store=store_of(request)))


@router.get("/api/store/model-versions-of-runs", dependencies=[READ], tags=["store"])
def model_versions_of_runs(request: Request, ids: Ids) -> Response:
    return json_response(request, registry.versions_of_runs(ids, store=store_of(request)))


@router.get("/api/store/archived-run-ids", dependencies=[READ], tags=["store"])
def archived_run_ids(request: Request) -> Response:
    return json_response(request, cleanup.archived_run_ids(store=store_of(request)))


@router.get("/api/store/artifact-paths", dependencies=[READ], tags=["store"])
def artifact_paths(request: Request) -> Response:
    return json_response(request, artifact_api.artifact_paths(store=store_of(request)))


@router.get("/api/store/artifact-objects", dependencies=[READ], tags=["store"])
def artifact_objects(request: Request) -> Response:
    """Every committed object in the server's artifact store (``key``, ``size``, ``modified``)."""
    return json_response(request, artifact_api.stored_objects(store=store_of(request)))
