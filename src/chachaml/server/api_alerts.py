"""HTTP routes of alerts: rules, checks and history. Every route calls ``alert_api``; webhook
URLs are accepted in full and only ever returned masked."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, Strict
from starlette.requests import Request
from starlette.responses import Response

from chachaml import alert_api
from chachaml.server.auth import READ, WRITE
from chachaml.server.deps import IdempotencyHeader, idempotent, store_of
from chachaml.server.encoding import json_response

__all__ = ["router"]

router = APIRouter()

Name = Annotated[str, Field(min_length=1, max_length=250)]
Limit = Annotated[int, Query(ge=0, le=alert_api.MAX_HISTORY)]
AlertName = Annotated[str, Query(min_length=1, max_length=250)]
Threshold = Annotated[float, Strict()] | Annotated[int, Strict()]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SetAlert(_Body):
    """A rule: ``op`` one of ``> >= < <= == !=`` (with a finite ``threshold``), ``nan`` or
    ``missing`` (without). ``webhook_url`` is http(s); it is never returned in full."""

    metric: Name
    op: Literal[">", ">=", "<", "<=", "==", "!=", "nan", "missing"]
    threshold: Threshold | None = None
    experiment: Name | None = None
    webhook_url: Annotated[str, Field(max_length=alert_api.MAX_URL_CHARS)] | None = None
    filter: Annotated[str, Field(max_length=alert_api.MAX_FILTER_CHARS)] | None = None


class Check(_Body):
    """``run_id``: check that finished run only (whenever it finished), its deliveries
    bounded by ``deadline_s`` seconds; without it, every run finished since the last check."""

    run_id: Annotated[str, Field(max_length=64)] | None = None
    deadline_s: Annotated[float, Field(gt=0, le=600)] | None = None


@router.get("/api/alerts", dependencies=[READ], tags=["alerts"])
def list_alerts(request: Request) -> Response:
    """Every alert rule by name (webhook URLs masked)."""
    return json_response(request, alert_api.alerts(store=store_of(request)))


@router.post("/api/alerts/check", dependencies=[WRITE], tags=["alerts"])
def check(request: Request, body: Check, idempotency_key: IdempotencyHeader = None) -> Response:
    """Evaluate the active rules, record new events and deliver their webhooks (from the
    server): ``{"checked", "triggered", "deliveries"}``. Concurrent checks fire each event
    once; a retry with the same ``Idempotency-Key`` gets the first answer."""

    def apply() -> dict[str, Any]:
        st = store_of(request)
        if body.run_id is not None:
            return alert_api.check_run(body.run_id, store=st, deadline_s=body.deadline_s)
        return alert_api.check_alerts(store=st)

    result, _ = idempotent(request, idempotency_key, body, apply)
    return json_response(request, result)


@router.get("/api/alert-history", dependencies=[READ], tags=["alerts"])
def all_history(request: Request, name: AlertName | None = None, limit: Limit = 100) -> Response:
    """Events of every rule (or of rule ``name``), newest first, with delivery status."""
    return json_response(request, alert_api.alert_history(name, limit, store=store_of(request)))


@router.get("/api/alerts/{name}", dependencies=[READ], tags=["alerts"])
def get_alert(request: Request, name: str) -> Response:
    return json_response(request, alert_api.alert(name, store=store_of(request)))


@router.get("/api/alerts/{name}/history", dependencies=[READ], tags=["alerts"])
def history(request: Request, name: str, limit: Limit = 100) -> Response:
    """The rule's events, newest first, with delivery status."""
    return json_response(request, alert_api.alert_history(name, limit, store=store_of(request)))


@router.put("/api/alerts/{name}", dependencies=[WRITE], tags=["alerts"])
def set_alert(request: Request, name: str, body: SetAlert) -> Response:
    """Create or replace rule ``name`` (events and active state are kept)."""
    row = alert_api.set_alert(
        name,
        body.metric,
        body.op,
        body.threshold,
        body.experiment,
        body.webhook_url,
        body.filter,
        store=store_of(request),
    )
    return json_response(request, row)


@router.post("/api/alerts/{name}/activate", dependencies=[WRITE], tags=["alerts"])
def activate(request: Request, name: str) -> Response:
    return json_response(request, alert_api.activate_alert(name, store=store_of(request)))


@router.post("/api/alerts/{name}/deactivate", dependencies=[WRITE], tags=["alerts"])
def deactivate(request: Request, name: str) -> Response:
    return json_response(request, alert_api.deactivate_alert(name, store=store_of(request)))


@router.delete("/api/alerts/{name}", dependencies=[WRITE], tags=["alerts"])
def delete(request: Request, name: str, idempotency_key: IdempotencyHeader = None) -> Response:
    """Delete a rule and its events; a retry with the same ``Idempotency-Key`` gets the
    first answer."""

    def apply() -> dict[str, bool]:
        alert_api.delete_alert(name, store=store_of(request))
        return {"deleted": True}

    result, _ = idempotent(request, idempotency_key, None, apply)
    return json_response(request, result)
