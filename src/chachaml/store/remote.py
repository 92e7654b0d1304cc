"""The remote store: the metadata protocol over a chachaml server's HTTP API (the artifact half
is :mod:`chachaml.artifacts.remote`; both share one :class:`chachaml.httpclient.Http` client).

``ml.use_store("http://tracker:8080")`` opens it. Every call is one HTTP request (httpx, imported
lazily) with retries and exponential backoff on connection errors and 502/503/504. Metric writes
never fail because the server is away: a batch that cannot be delivered is appended to a local
SQLite *outbox* (``$CHACHAML_OUTBOX_DIR`` or ``~/.cache/chachaml``, one file per server URL) and
sent, oldest first, before the next batch (or by ``chachaml sync``). Each batch keeps the
idempotency key it was created with, and points are upserts on ``(run, key, step)``, so a batch
delivered twice is stored once. Every other write carries an idempotency key too (shared by its
retries, see :mod:`chachaml.httpclient`): a model version, dataset row or artifact row whose
answer was lost is created once. Bearer token: ``CHACHAML_TOKEN``.

This module is a storage layer: it knows the HTTP API, not the server's code.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from chachaml.artifacts.remote import RemoteArtifactStore
from chachaml.errors import (
    AlreadyExists,
    ChachamlError,
    InvalidInput,
    NotFound,
    StoreUnavailable,
)
from chachaml.httpclient import Http, Unreachable, quote_name, quote_part
from chachaml.store.outbox import Outbox, outbox_path
from chachaml.store.protocol import (
    MetricPoint,
    NewArtifact,
    NewRun,
    RunDict,
    RunQuery,
    StepState,
)

__all__ = ["RemoteArtifactStore", "RemoteMetadataStore", "open_remote", "sync_outbox"]

_log = logging.getLogger("chachaml.remote")

PAGE = 1000  # the server's default page-size cap
IDS_PER_REQUEST = 200  # keeps query strings far below header limits
IDS_PER_QUERY = 10_000  # the server's cap on ids in a POST /api/runs/query body
BATCH_POINTS = 50_000  # the server caps batches at 100,000 points
_q = quote_part


def _paged(
    fetch: Callable[[int, int], list[RunDict]], offset: int, limit: int | None
) -> list[RunDict]:
    """Every row of a listing from ``offset`` (all, or ``limit``), fetched ``PAGE`` at a time
    with ``fetch(page_size, offset)``; stops at a short page."""
    out: list[RunDict] = []
    remaining = limit
    while remaining is None or remaining > 0:
        page = PAGE if remaining is None else min(PAGE, remaining)
        got = fetch(page, offset)
        out.extend(got)
        offset += len(got)
        if remaining is not None:
            remaining -= len(got)
        if len(got) < page:
            break
    return out


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), IDS_PER_REQUEST):
        yield ids[i : i + IDS_PER_REQUEST]


def encode_batch(points: Sequence[MetricPoint]) -> dict[str, Any]:
    """Points → ``{"series": [{"run_id", "key", "steps", "values", "timestamps"}]}``."""
    series: dict[tuple[str, str], dict[str, Any]] = {}
    for run_id, key, step, value, ts in points:
        s = series.get((run_id, key))
        if s is None:
            s = series[(run_id, key)] = {
                "run_id": run_id,
                "key": key,
                "steps": [],
                "values": [],
                "timestamps": [],
            }
        s["steps"].append(step)
        s["values"].append(value)
        s["timestamps"].append(ts)
    return {"series": list(series.values())}


class RemoteMetadataStore:
    """:class:`~chachaml.store.protocol.MetadataStore` over the HTTP API."""

    def __init__(self, url: str, http: Http, outbox: Outbox | None = None) -> None:
        self.url = url
        self.http = http
        self.outbox = outbox or Outbox(outbox_path(url))
        self._send_lock = threading.Lock()
        self._spooling = False

    def close(self) -> None:
        self.outbox.close()
        self.http.close()

    # -- metadata of the store -----------------------------------------------------------------
    def applied_migrations(self) -> list[tuple[int, str]]:
        info = self.http.send("GET", "/api/store/info")
        return [(int(v), str(n)) for v, n in info["migrations"]]

    def integrity_check(self) -> str:
        return str(
            self.http.send("GET", "/api/store/info", params={"integrity": "true"})["integrity"]
        )

    # -- runs ------------------------------------------------------------------------------------
    def create_run(self, run: NewRun) -> None:
        body = {
            "id": run.id,
            "experiment": run.experiment,
            "name": run.name,
            "start_time": run.start_time,
            "created_by": run.created_by,
            "parent_run_id": run.parent_run_id,
            "tags": dict(run.tags),
            "env": dict(run.env),
            "host": run.host,
            "pid": run.pid,
        }
        try:
            self.http.send("POST", "/api/runs", body=body)
        except AlreadyExists:
            # A retry of a request whose answer was lost: the run is ours if it has our start.
            existing = self.get_run(run.id)
            if existing is None or existing.get("start_time") != run.start_time:
                raise

    def finish_run(self, run_id: str, status: str, end_time: int, error: str | None) -> None:
        self.flush_outbox()
        body = {"status": status, "end_time": end_time, "error": error}
        self.http.send("POST", f"/api/runs/{_q(run_id)}/end", body=body)

    def rename_run(self, run_id: str, name: str) -> None:
        self.http.send("PATCH", f"/api/runs/{_q(run_id)}", body={"name": name})

    def heartbeat(self, run_ids: Sequence[str], now_ms: int) -> None:
        # Best effort: a missed beat only matters after the heartbeat timeout.
        with contextlib.suppress(StoreUnavailable):
            self.http.send("POST", "/api/heartbeat", body={"run_ids": list(run_ids)}, retries=0)

    def get_run(self, run_id: str, stale_before: int = 0) -> RunDict | None:
        found: RunDict | None = self.http.get_or_none(f"/api/runs/{_q(run_id)}")
        return found

    @staticmethod
    def _run_body(query: RunQuery) -> dict[str, Any]:
        """A ``POST /api/runs/query`` body (a JSON body: id lists of any length fit)."""
        body: dict[str, Any] = {}
        for field in ("experiment", "status", "name", "parent_run_id", "created_by", "filter"):
            value = getattr(query, field)
            if value is not None:
                body[field] = value
        if query.tags:
            body["tags"] = dict(query.tags)
        if query.ids is not None:
            body["ids"] = list(query.ids)
        if query.metric is not None:
            key, op, value = query.metric
            body.update(metric=key, op=op, value=float(value))
        if query.order_by:
            body["order_by"] = [f"{f} {'desc' if desc else 'asc'}" for f, desc in query.order_by]
        if query.include_archived:
            body["include_archived"] = True
        return body

    def list_runs(self, query: RunQuery) -> list[RunDict]:
        if query.ids is not None and not query.ids:
            return []
        base = self._run_body(query)
        if query.ids is not None and len(query.ids) > IDS_PER_QUERY:
            raise InvalidInput(f"the remote store lists at most {IDS_PER_QUERY} ids at once")
        return _paged(
            lambda page, at: self.http.send(
                "POST", "/api/runs/query", body={**base, "limit": page, "offset": at}
            )["runs"],
            query.offset,
            query.limit,
        )

    def count_runs(self, query: RunQuery) -> int:
        if query.ids is not None and not query.ids:
            return 0
        body = {**self._run_body(query), "limit": 0, "count": True}
        return int(self.http.send("POST", "/api/runs/query", body=body)["count"])

    def local_running_runs(self, host: str) -> list[tuple[str, int | None]]:
        # Crashed remote runs are found by the server's heartbeat timeout, not by local pids.
        return []

    # -- params, tags, notes, datasets -----------------------------------------------------------
    def log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        decoded = {k: json.loads(v) for k, v in params.items()}
        self.http.send("POST", f"/api/runs/{_q(run_id)}/params", body={"params": decoded})

    def params_of(self, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for chunk in _chunks(run_ids):
            out.update(self.http.send("GET", "/api/store/params", params={"ids": list(chunk)}))
        return out

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self.http.send("POST", f"/api/runs/{_q(run_id)}/tags", body={"tags": dict(tags)})

    def delete_tag(self, run_id: str, key: str) -> bool:
        return bool(self.http.send("DELETE", f"/api/runs/{_q(run_id)}/tags/{_q(key)}")["removed"])

    def get_tags(self, run_id: str) -> dict[str, str]:
        found = self.http.get_or_none(f"/api/runs/{_q(run_id)}/tags")
        return dict(found or {})

    def set_note(self, run_id: str, note: str) -> None:
        self.http.send("PUT", f"/api/runs/{_q(run_id)}/note", body={"note": note})

    def add_dataset(self, run_id: str, dataset: Mapping[str, Any]) -> RunDict:
        fields = ("role", "name", "n_rows", "n_cols", "features", "hash", "source")
        body = {k: dataset.get(k) for k in fields if dataset.get(k) is not None}
        row: RunDict = self.http.send("POST", f"/api/runs/{_q(run_id)}/datasets", body=body)
        return row

    def get_datasets(self, run_id: str) -> list[RunDict]:
        return list(self.http.get_or_none(f"/api/runs/{_q(run_id)}/datasets") or [])

    # -- metrics ---------------------------------------------------------------------------------
    def _post_batch(self, idem: str, body: bytes, retries: int = 2) -> None:
        self.http.send(
            "POST",
            "/api/metrics",
            content=body,
            headers={"Idempotency-Key": idem, "Content-Type": "application/json"},
            retries=retries,
        )

    def flush_outbox(self) -> int:
        """Send spooled batches, oldest first; returns how many were sent. Stops (leaving the
        rest) when the server is unreachable. A batch the server refuses for good (e.g. its run
        was deleted) is dropped with a warning."""
        sent = 0
        with self._send_lock:
            while True:
                head = self.outbox.first()
                if head is None:
                    return sent
                seq, idem, body = head
                try:
                    self._post_batch(idem, body)
                except StoreUnavailable:
                    return sent
                except ChachamlError as exc:
                    _log.warning("chachaml: dropping a spooled metric batch: %s", exc)
                self.outbox.remove(seq)
                sent += 1

    def log_metrics(self, points: Sequence[MetricPoint]) -> None:
        """Send points in batches; spool to the outbox when the server is unreachable."""
        for i in range(0, len(points), BATCH_POINTS):
            chunk = points[i : i + BATCH_POINTS]
            idem = uuid.uuid4().hex
            body = json.dumps(encode_batch(chunk), separators=(",", ":")).encode()
            self.flush_outbox()
            with self._send_lock:
                if self.outbox.count():
                    self.outbox.append(idem, body)  # keep order behind older batches
                    continue
                try:
                    self._post_batch(idem, body)
                except Unreachable:
                    if not self._spooling:  # once per outage, not once per batch
                        _log.warning(
                            "chachaml: %s unreachable; spooling metrics to %s (sent later)",
                            self.url,
                            self.outbox.path,
                        )
                    self._spooling = True
                    self.outbox.append(idem, body)
                else:
                    self._spooling = False

    def metric_summaries(self, run_ids: Sequence[str]) -> dict[str, dict[str, RunDict]]:
        out: dict[str, dict[str, RunDict]] = {}
        for chunk in _chunks(run_ids):
            out.update(
                self.http.send("GET", "/api/store/metric-summaries", params={"ids": list(chunk)})
            )
        return out

    def metric_history(
        self, run_id: str, key: str, max_points: int | None = None, after_step: int | None = None
    ) -> list[tuple[int, float, int]]:
        params: dict[str, Any] = {"key": key}
        if max_points is None:
            params["raw"] = "true"
        else:
            params["max_points"] = max_points
        if after_step is not None:
            params["after_step"] = after_step
        found = self.http.send("GET", f"/api/runs/{_q(run_id)}/metrics/history", params=params)
        return [(int(p["step"]), float(p["value"]), int(p["timestamp"])) for p in found["points"]]

    def best_run(
        self, key: str, experiment: str | None, direction: str, by: str = "last"
    ) -> tuple[str, float, int] | None:
        params = {"metric": key, "direction": direction, "by": by}
        if experiment is not None:
            params["experiment"] = experiment
        found = self.http.send("GET", "/api/best", params=params)
        if not found:
            return None
        return str(found["id"]), float(found["metric_value"]), int(found["metric_step"])

    # -- experiments -----------------------------------------------------------------------------
    def upsert_experiment(
        self, name: str, description: str | None, owner: str | None, now_ms: int
    ) -> None:
        body = {"name": name, "description": description, "owner": owner}
        self.http.send("POST", "/api/experiments", body=body)

    def list_experiments(self) -> list[RunDict]:
        return list(self.http.send("GET", "/api/experiments"))

    # -- lifecycle -------------------------------------------------------------------------------
    def archive_runs(self, before_ms: int, experiment: str | None) -> int:
        body = {"before_ms": before_ms, "experiment": experiment}
        return int(self.http.send("POST", "/api/runs/archive", body=body)["archived"])

    def archived_run_ids(self) -> list[str]:
        return list(self.http.send("GET", "/api/store/archived-run-ids"))

    def delete_run(self, run_id: str, force: bool = False) -> list[str]:
        # The server deletes the bytes too, so there is nothing left for the caller to remove.
        # A retry that finds the run gone after a lost answer: the lost attempt deleted it.
        params = {"force": "true"} if force else None
        self.http.send("DELETE", f"/api/runs/{_q(run_id)}", params=params, lost_ok=(NotFound,))
        return []

    # -- artifacts -------------------------------------------------------------------------------
    def add_artifact(self, artifact: NewArtifact) -> RunDict:
        body = artifact._asdict()
        run_id = body.pop("run_id")
        row: RunDict = self.http.send("POST", f"/api/runs/{_q(run_id)}/artifact-rows", body=body)
        return row

    def get_artifact(self, run_id: str, name: str) -> RunDict | None:
        found: RunDict | None = self.http.get_or_none(
            f"/api/runs/{_q(run_id)}/artifact-info/{quote_name(name)}"
        )
        return found

    def list_artifacts(self, run_id: str) -> list[RunDict]:
        return list(self.http.send("GET", f"/api/runs/{_q(run_id)}/artifacts"))

    def artifact_paths(self) -> list[str]:
        return list(self.http.send("GET", "/api/store/artifact-paths"))

    # -- model registry --------------------------------------------------------------------------
    def register_model_version(
        self,
        model: str,
        run_id: str,
        artifact: str,
        stage: str,
        description: str | None,
        now_ms: int,
    ) -> RunDict:
        body = {"run_id": run_id, "artifact": artifact, "stage": stage, "description": description}
        row: RunDict = self.http.send("POST", f"/api/models/{_q(model)}/versions", body=body)
        return row

    def set_model_stage(self, model: str, version: int, stage: str, now_ms: int) -> RunDict:
        row: RunDict = self.http.send(
            "POST", f"/api/models/{_q(model)}/versions/{int(version)}/stage", body={"stage": stage}
        )
        return row

    def get_model(self, name: str) -> RunDict | None:
        found: RunDict | None = self.http.get_or_none(f"/api/models/{_q(name)}")
        return found

    def list_models(self) -> list[RunDict]:
        return list(self.http.send("GET", "/api/models"))

    def list_model_versions(self, name: str) -> list[RunDict]:
        return list(self.http.get_or_none(f"/api/models/{_q(name)}/versions") or [])

    def get_model_version(self, name: str, version: int) -> RunDict | None:
        found: RunDict | None = self.http.get_or_none(
            f"/api/models/{_q(name)}/versions/{int(version)}"
        )
        return found

    def model_version_in_stage(self, name: str, stage: str) -> RunDict | None:
        found: RunDict | None = self.http.get_or_none(f"/api/models/{_q(name)}/stages/{_q(stage)}")
        return found

    def set_model_description(self, name: str, description: str, now_ms: int) -> None:
        self.http.send(
            "PUT", f"/api/models/{_q(name)}/description", body={"description": description}
        )

    def model_stage_history(self, name: str) -> list[RunDict]:
        return list(self.http.get_or_none(f"/api/models/{_q(name)}/history") or [])

    def model_versions_of_runs(self, run_ids: Sequence[str]) -> list[RunDict]:
        out: list[RunDict] = []
        for chunk in _chunks(run_ids):
            out += self.http.send(
                "GET", "/api/store/model-versions-of-runs", params={"ids": list(chunk)}
            )
        return out

    # -- pipelines -------------------------------------------------------------------------------
    def create_pipeline(
        self,
        pipeline_id: str,
        name: str,
        description: str | None,
        resumed_from: str | None,
        created_at: int,
        steps: Sequence[str],
    ) -> None:
        body = {
            "id": pipeline_id,
            "name": name,
            "description": description,
            "resumed_from": resumed_from,
            "created_at": created_at,
            "steps": list(steps),
        }
        try:
            self.http.send("POST", "/api/pipelines", body=body)
        except AlreadyExists:
            # A retry of a request whose answer was lost: the pipeline is ours if it matches.
            existing = self.get_pipeline(pipeline_id)
            if existing is None or existing.get("created_at") != created_at:
                raise

    def set_pipeline_step(self, pipeline_id: str, idx: int, state: StepState) -> None:
        self.http.send(
            "PUT", f"/api/pipelines/{_q(pipeline_id)}/steps/{int(idx)}", body=state._asdict()
        )

    def list_pipelines(
        self,
        name: str | None,
        status: str | None,
        limit: int | None,
        offset: int = 0,
        stale_before: int = 0,
    ) -> list[RunDict]:
        base: dict[str, Any] = {}
        if name is not None:
            base["name"] = name
        if status is not None:
            base["status"] = status
        return _paged(
            lambda page, at: self.http.send(
                "GET", "/api/pipelines", params={**base, "limit": page, "offset": at}
            )["pipelines"],
            offset,
            limit,
        )

    def get_pipeline(self, pipeline_id: str, stale_before: int = 0) -> RunDict | None:
        found: RunDict | None = self.http.get_or_none(f"/api/pipelines/{_q(pipeline_id)}")
        return found

    # -- alerts ----------------------------------------------------------------------------------
    # The server masks webhook URLs in what it returns, checks the rules and delivers the
    # webhooks itself (the secret URLs never travel back to clients).
    def upsert_alert(self, alert: Mapping[str, Any], now_ms: int) -> RunDict:
        body = {k: alert.get(k) for k in ("metric", "op", "threshold", "experiment")}
        body.update(webhook_url=alert.get("webhook_url"), filter=alert.get("filter"))
        row: RunDict = self.http.send("PUT", f"/api/alerts/{_q(str(alert['name']))}", body=body)
        return row

    def get_alert(self, name: str) -> RunDict | None:
        found: RunDict | None = self.http.get_or_none(f"/api/alerts/{_q(name)}")
        return found

    def list_alerts(self) -> list[RunDict]:
        return list(self.http.send("GET", "/api/alerts"))

    def set_alert_active(self, name: str, active: bool, now_ms: int) -> RunDict | None:
        verb = "activate" if active else "deactivate"
        try:
            row: RunDict = self.http.send("POST", f"/api/alerts/{_q(name)}/{verb}")
        except NotFound:
            return None
        return row

    def delete_alert(self, name: str) -> bool:
        try:
            self.http.send("DELETE", f"/api/alerts/{_q(name)}", lost_ok=(NotFound,))
        except NotFound:
            return False
        return True

    def alert_events(self, name: str | None, limit: int) -> list[RunDict]:
        params: dict[str, Any] = {"limit": limit}
        if name is not None:
            params["name"] = name
        return list(self.http.send("GET", "/api/alert-history", params=params))

    def check_alert_rules(
        self, now_ms: int, overlap_ms: int, run_id: str | None = None, deadline_s: float = 0.0
    ) -> RunDict:
        body: dict[str, Any] = {"run_id": run_id}
        if run_id is not None and deadline_s > 0:
            body["deadline_s"] = min(deadline_s, 600.0)
        found = self.http.send("POST", "/api/alerts/check", body=body)
        return {"checked": int(found["checked"]), "triggered": list(found["triggered"])}

    def record_alert_delivery(self, event_id: int, outcome: Mapping[str, Any]) -> None:
        """Nothing to do: the server records the deliveries it makes."""


def open_remote(url: str) -> tuple[RemoteMetadataStore, RemoteArtifactStore]:
    """Both halves of a remote store sharing one HTTP client (token from ``CHACHAML_TOKEN``)."""
    http = Http(url, os.environ.get("CHACHAML_TOKEN") or None)
    return RemoteMetadataStore(url, http), RemoteArtifactStore(url, http)


def sync_outbox(url: str) -> dict[str, int]:
    """Send every spooled metric batch for ``url``; returns ``{"sent", "remaining"}``."""
    meta, blobs = open_remote(url)
    try:
        sent = meta.flush_outbox()
        return {"sent": sent, "remaining": meta.outbox.count()}
    finally:
        meta.close()
        blobs.close()
