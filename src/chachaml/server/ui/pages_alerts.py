"""``/alerts``: alert rules (condition, scope, masked webhook, active, last check) and the
history of events with their delivery status; writers can switch a rule on or off and run a
check now.

JSON twins: ``GET /api/alerts`` and ``GET /api/alert-history?name=&limit=``; the forms write
like ``POST /api/alerts/{name}/activate|deactivate`` and ``POST /api/alerts/check``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from chachaml import alert_api
from chachaml.errors import InvalidInput, NotFound
from chachaml.server.auth import READ, WRITE
from chachaml.server.deps import store_of
from chachaml.server.ui import render
from chachaml.server.ui.security import CheckedForm

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

HISTORY_SIZE = 100
Count = Annotated[int | None, Query(ge=0, le=10**9)]


def _page(
    request: Request,
    alert: str | None,
    *,
    error: str | None = None,
    checked: dict[str, Any] | None = None,
) -> Response:
    st = store_of(request)
    rules = alert_api.alerts(store=st)
    names = {r["name"] for r in rules}
    selected = alert if alert in names else None
    history = alert_api.alert_history(selected, HISTORY_SIZE, store=st)
    api_query = urlencode([*([("name", selected)] if selected else []), ("limit", HISTORY_SIZE)])
    if error is None and alert and not selected:
        error = f"there is no alert {alert!r}; showing every alert"
    context = {
        "rules": rules,
        "history": history,
        "selected": selected,
        "error": error,
        "checked": checked,
        "history_json_url": f"/api/alert-history?{api_query}",
    }
    status = 422 if error else 200
    return render(request, "alerts.html", context, nav="alerts", status_code=status)


@router.get("/alerts", dependencies=[READ])
def alerts_page(
    request: Request,
    alert: Annotated[str | None, Query(max_length=250)] = None,
    checked: Count = None,
    fired: Count = None,
) -> Response:
    """Rules and recent events (of one rule with ``?alert=name``); ``checked``/``fired`` report
    the check the page just ran."""
    summary = None if checked is None else {"checked": checked, "fired": fired or 0}
    return _page(request, alert or None, checked=summary)


@router.post("/alerts", dependencies=[WRITE])
def alert_action(request: Request, form: CheckedForm) -> Response:
    """``action=activate``/``deactivate`` (with ``name``) or ``action=check``."""
    st = store_of(request)
    action = form.get("action")
    name = form.get("name", "")
    try:
        if action == "activate":
            alert_api.activate_alert(name, store=st)
        elif action == "deactivate":
            alert_api.deactivate_alert(name, store=st)
        elif action == "check":
            summary = alert_api.check_alerts(store=st)
            done = urlencode({"checked": summary["checked"], "fired": len(summary["triggered"])})
            return RedirectResponse(f"/alerts?{done}", status_code=303)
        else:
            raise InvalidInput("unknown action: use the page's forms")
    except (InvalidInput, NotFound) as exc:
        return _page(request, None, error=exc.message)
    return RedirectResponse("/alerts", status_code=303)
