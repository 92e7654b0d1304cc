"""Alerts, backend-agnostic: rules, checks on the latest value, once per run, history, delivery
(the remote store checks and delivers on the server)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

import chachaml as ml
from alert_receiver import Receiver
from chachaml import alert_api
from chachaml.errors import InvalidInput, NotFound


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def _run(value: float | None, experiment: str = "exp") -> str:
    with ml.run(experiment=experiment) as run:
        if value is not None:
            ml.log_metric("loss", 0.1)
            ml.log_metric("loss", value)
    return run.id


def test_rules_round_trip_with_masked_webhooks(conformance_store: ml.Store, hook: Receiver) -> None:
    row = ml.set_alert("a", "loss", ">", 1.0, "exp", hook.url, "params.lr > 0.1")
    assert row["webhook_url"] == f"http://127.0.0.1:{hook.port}/***"
    assert (row["metric"], row["op"], row["threshold"], row["active"]) == ("loss", ">", 1.0, True)
    ml.set_alert("b", "loss", "nan")
    assert [a["name"] for a in ml.alerts()] == ["a", "b"]
    assert ml.alert("a") == ml.alerts()[0]
    assert ml.deactivate_alert("b")["active"] is False
    assert ml.activate_alert("b")["active"] is True
    with pytest.raises(InvalidInput):
        ml.set_alert("c", "loss", "~", 1.0)
    with pytest.raises(NotFound):
        ml.alert("c")
    with pytest.raises(NotFound):
        ml.delete_alert("c")
    ml.delete_alert("b")
    assert [a["name"] for a in ml.alerts()] == ["a"]


def test_check_fires_once_on_the_latest_value_and_delivers(
    conformance_store: ml.Store, hook: Receiver
) -> None:
    ml.set_alert("high", "loss", ">", 1.0, webhook_url=hook.url)
    ml.set_alert("diverged", "loss", "nan")
    ml.set_alert("no-loss", "loss", "missing")
    high = _run(2.0)
    _run(0.5)
    nan = _run(math.nan)
    empty = _run(None)
    result = ml.check_alerts()
    assert result["checked"] == 3
    fired = {(e["alert"], e["run_id"]) for e in result["triggered"]}
    assert fired == {("high", high), ("diverged", nan), ("no-loss", empty)}
    (delivery,) = result["deliveries"]
    assert (delivery["delivery"], delivery["http_status"], delivery["run_id"]) == (
        "delivered",
        200,
        high,
    )
    assert [b["run_id"] for b in hook.bodies()] == [high]
    assert ml.check_alerts()["triggered"] == []
    history = ml.alert_history()
    assert [e["id"] for e in history] == sorted((e["id"] for e in history), reverse=True)
    (event,) = ml.alert_history("high")
    assert (event["delivery"], event["http_status"], event["value"]) == ("delivered", 200, 2.0)
    assert "SECRET" not in str([history, result, ml.alerts()])


def test_check_run_and_failed_delivery_recorded(
    conformance_store: ml.Store, hook: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alert_api, "BACKOFF", 0.01)
    hook.script(404)
    ml.set_alert("high", "loss", ">", 1.0, webhook_url=hook.url)
    run_id = _run(2.0)
    result = alert_api.check_run(run_id)
    (event,) = result["triggered"]
    assert (event["delivery"], event["http_status"], event["attempts"]) == ("failed", 404, 1)
    assert alert_api.check_run(run_id)["triggered"] == []
    with pytest.raises(NotFound):
        alert_api.check_run("0" * 32)
