"""Alerts: rules on the **latest** value of a metric, checked on finished runs, delivered to
webhooks (Slack or any JSON endpoint).

>>> import chachaml as ml
>>> with ml.store("sqlite:///:memory:"):
...     _ = ml.set_alert("loss-high", "loss", ">", 1.0)
...     with ml.run():
...         ml.log_metric("loss", 3.0)
...         ml.log_metric("loss", 2.0)
...     [e["value"] for e in ml.check_alerts()["triggered"]]
[2.0]

A rule watches the runs that **finish** (completed, failed, killed or crashed) after it was set:
``check_alerts()`` looks at the runs that finished since each rule's last check and records one
event per (rule, run) that breaches it, so a breach fires once, however often (and by however
many processes at once) the check runs. The run's **latest** value decides: a run whose loss
spiked and came back down does not fire ``loss > 1``. Rules ``nan`` (the latest value is NaN or
±inf) and ``missing`` (the run finished without logging the metric) take no threshold; a NaN
latest value never fires a comparison.

Webhook URLs are secrets (a Slack URL is a bearer token): they are stored, used, and never
shown, logged or returned in full (``https://hooks.slack.com/***``). A delivery never raises into
the caller: its outcome (HTTP status, error, attempts) is recorded on the event.

This module is ``chachaml.alert_api``, not ``chachaml.alerts``: ``ml.alerts`` is the function
listing the rules, and a submodule of that name would be shadowed by it.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from chachaml import config, context, query, validate
from chachaml.errors import InvalidInput, NotFound
from chachaml.formatting import RecordsView, RecordView
from chachaml.store import Store

__all__ = [
    "COMPARISONS",
    "OPS",
    "activate_alert",
    "alert",
    "alert_history",
    "alerts",
    "check_alerts",
    "check_run",
    "deactivate_alert",
    "delete_alert",
    "deliver",
    "mask_url",
    "on_run_end",
    "set_alert",
    "watch",
]

_log = logging.getLogger("chachaml.alerts")

COMPARISONS = (">", ">=", "<", "<=", "==", "!=")
OPS = (*COMPARISONS, "nan", "missing")
#: A check also looks at runs that finished this long before the last check: a run whose end
#: was stamped before a check but committed after it is still seen (events are unique anyway).
OVERLAP_MS = 5 * 60 * 1000
MAX_URL_CHARS = 2048
MAX_FILTER_CHARS = 10_000
MAX_HISTORY = 10_000
BACKOFF = 0.5  # seconds before the first retry, doubled per retry
MAX_BACKOFF = 5.0
MAX_RETRY_AFTER = 30.0  # a server's Retry-After is honoured up to this many seconds
ON_END_ENV = "CHACHAML_ALERTS_ON_END"
TIMEOUT_ENV = "CHACHAML_ALERT_TIMEOUT"  # seconds per attempt, and the run-end budget
RETRIES_ENV = "CHACHAML_ALERT_RETRIES"
UI_URL_ENV = "CHACHAML_UI_URL"
_PUBLIC_EVENT = (
    "id",
    "alert",
    "run_id",
    "run_name",
    "experiment",
    "metric",
    "op",
    "threshold",
    "value",
    "fired_at",
    "delivery",
    "http_status",
    "delivery_error",
    "attempts",
    "delivered_at",
)
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def delivery_timeout() -> float:
    """Seconds per delivery attempt (``CHACHAML_ALERT_TIMEOUT``, default 5), which is also the
    most a run's end waits for its alerts (``CHACHAML_ALERTS_ON_END=1``)."""
    return config.get(TIMEOUT_ENV)


def delivery_retries() -> int:
    """Retries after a failed attempt (``CHACHAML_ALERT_RETRIES``, default 3)."""
    return int(config.get(RETRIES_ENV))


# -- masking ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def mask_url(url: str | None) -> str | None:
    """A webhook URL without its secret parts: scheme and host only (cached: a check masks
    the same few URLs for thousands of events).

    >>> mask_url("https://hooks.slack.com/services/T0/B0/XXXX")
    'https://hooks.slack.com/***'
    """
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "***"
    if not parts.scheme or not host:
        return "***"
    if ":" in host:
        host = f"[{host}]"
    shown = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    return shown + (
        "/***" if (parts.path not in ("", "/") or parts.query or parts.username) else ""
    )


def _scrub(text: str, url: str) -> str:
    """``text`` with every occurrence of ``url`` (or its path) masked."""
    masked = mask_url(url) or "***"
    text = text.replace(url, masked)
    try:
        path = urlsplit(url).path
    except ValueError:
        return text
    return text.replace(path, "/***") if len(path) > 1 else text


# -- validation -------------------------------------------------------------------------------
def _op(value: object) -> str:
    if value not in OPS:
        raise InvalidInput(f"alert op {value!r} is not one of: {' '.join(OPS)}")
    return str(value)


def _webhook(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"webhook_url must be a string, got {type(value).__name__}")
    if len(value) > MAX_URL_CHARS:
        raise InvalidInput(f"webhook_url is {len(value)} characters; the limit is {MAX_URL_CHARS}")
    if _SPACE.search(value):
        raise InvalidInput("webhook_url must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise InvalidInput("webhook_url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(
            f"webhook_url must be an http:// or https:// URL with a host, got "
            f"{mask_url(value) if parts.scheme in ('http', 'https') else repr(parts.scheme + ':')}"
        )
    return value


def _filter(value: object) -> str | None:
    if value is None:
        return None
    text = validate.text(value, "filter", limit=MAX_FILTER_CHARS)
    if not text.strip():
        return None
    from chachaml import filters  # the parser is loaded when a filter is first used

    filters.validate(text)
    if filters.order_by(text):
        raise InvalidInput("an alert's filter selects runs; it takes no `order by`")
    return text


def _name(value: object) -> str:
    return validate.name(value, "alert name")


# -- output -----------------------------------------------------------------------------------
def _public_alert(row: Mapping[str, Any]) -> dict[str, Any]:
    out = RecordView(row)
    out["webhook_url"] = mask_url(out.get("webhook_url"))
    return out


def _public_event(event: Mapping[str, Any]) -> dict[str, Any]:
    return {k: event.get(k) for k in _PUBLIC_EVENT}


def _require(st: Store, name: object) -> dict[str, Any]:
    name = _name(name)
    found = st.meta.get_alert(name)
    if found is None:
        raise NotFound(f"alert {name!r} does not exist (see ml.alerts())")
    return found


# -- rules ------------------------------------------------------------------------------------
def set_alert(
    name: str,
    metric: str,
    op: str,
    threshold: float | None = None,
    experiment: str | None = None,
    webhook_url: str | None = None,
    filter: str | None = None,
    *,
    store: Store | None = None,
) -> dict[str, Any]:
    """Create or replace the alert ``name`` (unique): fire when a finished run's **latest**
    ``metric`` is ``op threshold`` (``> >= < <= == !=``), or with ``op="nan"`` is NaN/±inf, or
    with ``op="missing"`` was never logged. ``experiment`` and ``filter`` (a filter expression)
    restrict the runs watched; ``webhook_url`` (http/https) receives each event. Re-setting a
    rule keeps its events and whether it is active. Returns the rule (webhook masked)."""
    row: dict[str, Any] = {
        "name": _name(name),
        "metric": validate.key(metric, "alert metric"),
        "op": _op(op),
        "threshold": None,
        "experiment": validate.optional_name(experiment, "experiment"),
        "webhook_url": _webhook(webhook_url),
        "filter": _filter(filter),
    }
    if row["op"] in COMPARISONS:
        if threshold is None:
            raise InvalidInput(f"alert op {op!r} needs a threshold")
        row["threshold"] = validate.finite_number(threshold, "threshold")
    elif threshold is not None:
        raise InvalidInput(f"alert op {op!r} takes no threshold (got {threshold!r})")
    st = context.resolve(store, flush=False)
    return _public_alert(st.meta.upsert_alert(row, _now_ms()))


def alerts(*, store: Store | None = None) -> list[dict[str, Any]]:
    """Every alert rule, by name (webhook URLs masked)."""
    st = context.resolve(store, flush=False)
    return RecordsView(_public_alert(a) for a in st.meta.list_alerts())


def alert(name: str, *, store: Store | None = None) -> dict[str, Any]:
    """One rule (``NotFound`` if unknown)."""
    return _public_alert(_require(context.resolve(store, flush=False), name))


def _set_active(name: str, active: bool, store: Store | None) -> dict[str, Any]:
    st = context.resolve(store, flush=False)
    found = st.meta.set_alert_active(_name(name), active, _now_ms())
    if found is None:
        raise NotFound(f"alert {name!r} does not exist (see ml.alerts())")
    return _public_alert(found)


def activate_alert(name: str, *, store: Store | None = None) -> dict[str, Any]:
    """Turn a rule back on; it watches runs that finish from now on."""
    return _set_active(name, True, store)


def deactivate_alert(name: str, *, store: Store | None = None) -> dict[str, Any]:
    """Stop checking a rule (kept, with its history)."""
    return _set_active(name, False, store)


def delete_alert(name: str, *, store: Store | None = None) -> None:
    """Delete a rule and its events (``NotFound`` if unknown)."""
    st = context.resolve(store, flush=False)
    if not st.meta.delete_alert(_name(name)):
        raise NotFound(f"alert {name!r} does not exist (see ml.alerts())")


def alert_history(
    name: str | None = None, limit: int = 100, *, store: Store | None = None
) -> list[dict[str, Any]]:
    """Events (of one rule, or all) newest first, with their delivery status: ``none`` (no
    webhook), ``pending``, ``delivered`` or ``failed`` (``http_status``, ``delivery_error``,
    ``attempts``)."""
    n = validate.limit(limit, allow_none=False)
    assert n is not None
    if n > MAX_HISTORY:
        raise InvalidInput(f"limit must be at most {MAX_HISTORY}")
    st = context.resolve(store, flush=False)
    if name is not None:
        _require(st, name)
    return RecordsView(_public_event(e) for e in st.meta.alert_events(name, n))


# -- checks -----------------------------------------------------------------------------------
def check_alerts(*, store: Store | None = None) -> dict[str, Any]:
    """Evaluate every active rule on the runs that finished since its last check; record and
    deliver the new events. Returns ``{"checked": number of rules, "triggered": [event, ...],
    "deliveries": [outcome, ...]}``. Safe to run from several processes at once (each event
    is recorded and delivered once); delivery failures are recorded, never raised."""
    return _check(context.resolve(store), None, 0.0)


def check_run(
    run_id: str, *, store: Store | None = None, deadline_s: float | None = None
) -> dict[str, Any]:
    """Like :func:`check_alerts` for one finished run only (whenever it finished); the
    deliveries take at most ``deadline_s`` seconds in all (default: the delivery timeout)."""
    st = context.resolve(store)
    run_id = query.find_run_id(run_id, store=st)
    budget = delivery_timeout() if deadline_s is None else float(deadline_s)
    if not budget > 0:
        raise InvalidInput("deadline_s must be a positive number of seconds")
    return _check(st, run_id, budget)


def _check(st: Store, run_id: str | None, deadline_s: float) -> dict[str, Any]:
    found = st.meta.check_alert_rules(_now_ms(), OVERLAP_MS, run_id, deadline_s)
    events: list[dict[str, Any]] = found["triggered"]  # fresh dicts: updated in place below
    pending = [e for e in events if e.get("delivery") == "pending" and e.get("webhook_url")]
    if pending:
        end = time.monotonic() + deadline_s if deadline_s > 0 else None
        client = _client()
        try:
            for event in pending:
                outcome = deliver(event, str(event["webhook_url"]), client=client, end=end)
                event.update(outcome)
                try:
                    st.meta.record_alert_delivery(int(event["id"]), outcome)
                except Exception as exc:  # the outcome is still returned to the caller
                    _log.warning("chachaml: recording an alert delivery failed: %s", exc)
        finally:
            if client is not None:
                client.close()
    deliveries = [
        {
            "event_id": e.get("id"),
            "alert": e.get("alert"),
            "run_id": e.get("run_id"),
            "webhook": e["webhook"] if "webhook" in e else mask_url(e.get("webhook_url")),
            "delivery": e.get("delivery"),
            "http_status": e.get("http_status"),
            "error": e.get("delivery_error"),
            "attempts": e.get("attempts"),
        }
        for e in events
        if e.get("delivery") not in (None, "none")
    ]
    return {
        "checked": int(found["checked"]),
        "triggered": [
            {**_public_event(e), "webhook": e.get("webhook", mask_url(e.get("webhook_url")))}
            for e in events
        ],
        "deliveries": deliveries,
    }


def on_run_end(run_id: str, *, store: Store | None = None) -> None:
    """The run-end hook (``runs_api.finish_run``): with ``CHACHAML_ALERTS_ON_END=1``, check
    the run's alerts, spending at most the delivery timeout on deliveries. Never raises."""
    if os.environ.get(ON_END_ENV, "").strip().lower() not in ("1", "true", "yes", "on"):
        return
    try:
        check_run(run_id, store=store, deadline_s=delivery_timeout())
    except Exception as exc:  # an alert must never break training code
        _log.warning("chachaml: checking alerts at the end of run %s failed: %s", run_id, exc)


def watch(
    interval: float = 60.0,
    count: int | None = None,
    *,
    store: Store | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    """Run :func:`check_alerts` every ``interval`` seconds (``count`` times, or until the
    caller stops iterating), yielding each summary. A failed check is logged and retried at
    the next tick."""
    if (
        isinstance(interval, bool)
        or not isinstance(interval, (int, float))
        or not (0 < interval < 10**7)
    ):
        raise InvalidInput("interval must be a positive number of seconds")
    n = validate.limit(count)
    done = 0
    while n is None or done < n:
        started = time.monotonic()
        try:
            yield check_alerts(store=store)
        except (InvalidInput, NotFound):
            raise
        except Exception as exc:
            _log.warning("chachaml: alert check failed (retried next tick): %s", exc)
            yield {"checked": 0, "triggered": [], "deliveries": [], "error": str(exc)}
        done += 1
        if n is None or done < n:
            sleep(max(0.0, interval - (time.monotonic() - started)))


# -- delivery ---------------------------------------------------------------------------------
def _client() -> Any:
    try:
        import httpx
    except ImportError:
        return None
    return httpx.Client(follow_redirects=False, trust_env=True)


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    return value


def _fmt(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def message(event: Mapping[str, Any]) -> str:
    """The one-line text of an event (Slack ``text``)."""
    op = event.get("op")
    metric = event.get("metric")
    if op == "missing":
        what = f"{metric} was never logged"
    elif op == "nan":
        what = f"{metric} = {_fmt(event.get('value'))} (not a finite number)"
    else:
        what = f"{metric} = {_fmt(event.get('value'))} {op} {_fmt(event.get('threshold'))}"
    run_id = str(event.get("run_id") or "")
    run = event.get("run_name") or run_id[:8]
    return f"chachaml alert {event.get('alert')}: {what} in run {run} ({event.get('experiment')})"


def _run_link(run_id: str) -> str | None:
    base = os.environ.get(UI_URL_ENV, "").strip().rstrip("/")
    return f"{base}/runs/{run_id}" if base else None


def payload(event: Mapping[str, Any], webhook_url: str) -> dict[str, Any]:
    """The JSON body: ``{"text": ...}`` for Slack (``hooks.slack.com``), else every field of
    the event and ``text``."""
    text = message(event)
    link = _run_link(str(event.get("run_id")))
    try:
        host = (urlsplit(webhook_url).hostname or "").lower()
    except ValueError:
        host = ""
    if host == "hooks.slack.com" or host.endswith(".slack.com"):
        return {"text": text + (f" <{link}|open run>" if link else "")}
    return {
        "alert": event.get("alert"),
        "metric": event.get("metric"),
        "op": event.get("op"),
        "threshold": _number(event.get("threshold")),
        "value": _number(event.get("value")),
        "run_id": event.get("run_id"),
        "run_name": event.get("run_name"),
        "experiment": event.get("experiment"),
        "fired_at": event.get("fired_at"),
        "url": link,
        "text": text + (f" {link}" if link else ""),
    }


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _attempt(
    client: Any, httpx: Any, url: str, body: Any, budget: float, outcome: dict[str, Any]
) -> tuple[bool, float | None]:
    """One POST; fills ``outcome``. Returns (retryable, the server's Retry-After if any)."""
    try:
        resp = client.post(url, json=body, timeout=budget)
    except httpx.TimeoutException as exc:
        outcome["http_status"] = None
        outcome["delivery_error"] = f"timed out after {budget:.3g} s ({type(exc).__name__})"
        return True, None
    except httpx.HTTPError as exc:
        outcome["http_status"] = None
        detail = _scrub(str(exc), url) or type(exc).__name__
        outcome["delivery_error"] = f"{type(exc).__name__}: {detail}"[:500]
        return True, None
    status = resp.status_code
    outcome["http_status"] = status
    if 200 <= status < 300:
        outcome.update(delivery="delivered", delivery_error=None, delivered_at=_now_ms())
        return False, None
    text = _scrub(resp.text[:200], url).strip()
    outcome["delivery_error"] = f"HTTP {status}" + (f": {text}" if text else "")
    after = _retry_after(resp.headers.get("retry-after")) if status in (429, 503) else None
    return status >= 500 or status == 429, after


def deliver(
    event: Mapping[str, Any],
    webhook_url: str,
    *,
    client: Any = None,
    end: float | None = None,
    timeout: float | None = None,
    retries: int | None = None,
) -> dict[str, Any]:
    """POST the event to ``webhook_url``; the outcome ``{"delivery": "delivered"|"failed",
    "http_status", "delivery_error", "attempts", "delivered_at"}``. Retries (backoff 0.5 s
    doubling, capped) on network errors, timeouts, 5xx and 429 (honouring ``Retry-After`` up to
    30 s); stops at ``end`` (a ``time.monotonic()`` deadline). Never raises; the URL never
    appears in the outcome."""
    timeout = delivery_timeout() if timeout is None else timeout
    retries = delivery_retries() if retries is None else retries
    outcome: dict[str, Any] = {
        "delivery": "failed",
        "http_status": None,
        "delivery_error": None,
        "attempts": 0,
        "delivered_at": None,
    }
    try:
        import httpx
    except ImportError:
        outcome["delivery_error"] = (
            "httpx is not installed: install the alerts extra (pip install 'chachaml[alerts]')"
        )
        return outcome
    own = client is None
    if own:
        client = httpx.Client(follow_redirects=False, trust_env=True)
    try:
        body = payload(event, webhook_url)
        delay = BACKOFF
        while True:
            budget = timeout if end is None else min(timeout, end - time.monotonic())
            if budget <= 0:
                outcome["delivery_error"] = (
                    outcome["delivery_error"] or "not sent"
                ) + "; gave up: the delivery deadline passed"
                return outcome
            outcome["attempts"] += 1
            retryable, after = _attempt(client, httpx, webhook_url, body, budget, outcome)
            if outcome["delivery"] == "delivered":
                return outcome
            wait = delay if after is None else min(after, MAX_RETRY_AFTER)
            if not retryable or outcome["attempts"] > retries:
                return outcome
            if end is not None and time.monotonic() + wait >= end:
                outcome["delivery_error"] += "; gave up: the delivery deadline passed"
                return outcome
            time.sleep(wait)
            delay = min(delay * 2, MAX_BACKOFF)
    except Exception as exc:  # never into the caller
        outcome["delivery_error"] = _scrub(f"{type(exc).__name__}: {exc}", webhook_url)[:500]
        return outcome
    finally:
        if own:
            client.close()
        if outcome["delivery"] == "failed":
            _log.warning(
                "chachaml: alert %s: delivery to %s failed: %s",
                event.get("alert"),
                mask_url(webhook_url),
                outcome["delivery_error"],
            )
