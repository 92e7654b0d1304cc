"""Alerts: the latest value decides, once per (alert, run) even under concurrent checks, rule
kinds, filters, refused input, the run-end hook, and webhook delivery to a real local receiver."""

from __future__ import annotations

import logging
import math
import multiprocessing
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import backends
import chachaml as ml
from alert_receiver import Receiver
from chachaml import alert_api
from chachaml.errors import InvalidFilter, InvalidInput, NotFound


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alert_api, "BACKOFF", 0.01)
    monkeypatch.setenv("CHACHAML_ALERT_TIMEOUT", "2")
    monkeypatch.delenv("CHACHAML_ALERTS_ON_END", raising=False)
    monkeypatch.delenv("CHACHAML_UI_URL", raising=False)


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def _run(values: list[float] | None, metric: str = "loss", **kw: Any) -> str:
    with ml.run(**kw) as run:
        for v in values or []:
            ml.log_metric(metric, v)
    return run.id


# -- evaluation -------------------------------------------------------------------------------
def test_the_latest_value_decides_not_the_max(store: ml.Store) -> None:
    ml.set_alert("high", "loss", ">", 1.0)
    spiked = _run([0.5, 5.0, 0.4])  # max breaches, latest does not
    ended_high = _run([0.5, 1.5])
    result = ml.check_alerts()
    assert result["checked"] == 1
    assert [(e["run_id"], e["value"]) for e in result["triggered"]] == [(ended_high, 1.5)]
    assert spiked not in {e["run_id"] for e in ml.alert_history()}


def test_fires_once_per_run_across_repeated_checks(store: ml.Store) -> None:
    ml.set_alert("high", "loss", ">", 1.0)
    _run([2.0])
    assert len(ml.check_alerts()["triggered"]) == 1
    assert ml.check_alerts()["triggered"] == []
    _run([3.0])
    assert [e["value"] for e in ml.check_alerts()["triggered"]] == [3.0]
    assert len(ml.alert_history("high")) == 2


def test_only_finished_runs_and_runs_finished_after_the_alert(store: ml.Store) -> None:
    before = _run([9.0])
    time.sleep(0.005)  # end times are in ms
    ml.set_alert("high", "loss", ">", 1.0)
    with ml.run() as running:
        ml.log_metric("loss", 9.0)
        assert ml.check_alerts()["triggered"] == []
    after = ml.check_alerts()["triggered"]
    assert [e["run_id"] for e in after] == [running.id]
    assert before not in {e["run_id"] for e in ml.alert_history()}


def test_all_comparison_ops(store: ml.Store) -> None:
    cases = {">": 2.0, ">=": 2.0, "<": 2.0, "<=": 2.0, "==": 2.0, "!=": 2.0}
    for i, (op, threshold) in enumerate(cases.items()):
        ml.set_alert(f"a{i}", "m", op, threshold)
    ids = {v: _run([v], metric="m") for v in (1.0, 2.0, 3.0)}
    fired: dict[str, set[float]] = {}
    for e in ml.check_alerts()["triggered"]:
        fired.setdefault(e["op"], set()).add(e["value"])
    assert fired == {
        ">": {3.0},
        ">=": {2.0, 3.0},
        "<": {1.0},
        "<=": {1.0, 2.0},
        "==": {2.0},
        "!=": {1.0, 3.0},
    }
    assert len(ids) == 3


def test_nan_and_missing_rules(store: ml.Store) -> None:
    ml.set_alert("diverged", "loss", "nan")
    ml.set_alert("no-acc", "acc", "missing")
    nan_run = _run([0.5, math.nan])
    inf_run = _run([0.5, -math.inf])
    recovered = _run([math.nan, 0.5])
    with ml.run() as with_acc:
        ml.log_metric("acc", 0.9)
    triggered = ml.check_alerts()["triggered"]
    by_alert: dict[str, dict[str, Any]] = {}
    for e in triggered:
        by_alert.setdefault(e["alert"], {})[e["run_id"]] = e["value"]
    assert set(by_alert["diverged"]) == {nan_run, inf_run}
    assert math.isnan(by_alert["diverged"][nan_run])
    assert by_alert["diverged"][inf_run] == -math.inf
    assert set(by_alert["no-acc"]) == {nan_run, inf_run, recovered}
    assert all(v is None for v in by_alert["no-acc"].values())
    assert with_acc.id not in by_alert["no-acc"]


def test_experiment_and_filter_restrict_the_runs(store: ml.Store) -> None:
    ml.set_alert("prod-only", "loss", ">", 1.0, experiment="prod")
    ml.set_alert("big-lr", "loss", ">", 1.0, filter="params.lr >= 0.1 and tags.team = 'a'")
    other = _run([5.0], experiment="dev")
    prod = _run([5.0], experiment="prod")
    with ml.run(experiment="dev", tags={"team": "a"}) as big:
        ml.log_param("lr", 0.5)
        ml.log_metric("loss", 5.0)
    with ml.run(experiment="dev", tags={"team": "a"}):
        ml.log_param("lr", 0.01)
        ml.log_metric("loss", 5.0)
    fired = {(e["alert"], e["run_id"]) for e in ml.check_alerts()["triggered"]}
    assert fired == {("prod-only", prod), ("big-lr", big.id)}
    assert other not in {r for _, r in fired}


def test_set_alert_upserts_by_name_and_keeps_events(store: ml.Store) -> None:
    ml.set_alert("a", "loss", ">", 1.0)
    _run([2.0])
    ml.check_alerts()
    row = ml.set_alert("a", "loss", ">", 0.5, webhook_url="https://hooks.slack.com/services/X/Y")
    assert [a["name"] for a in ml.alerts()] == ["a"]
    assert row["threshold"] == 0.5 and row["webhook_url"] == "https://hooks.slack.com/***"
    assert ml.check_alerts()["triggered"] == []  # re-setting does not re-fire
    assert len(ml.alert_history("a")) == 1


def test_bad_input_is_refused_and_nothing_stored(store: ml.Store) -> None:
    bad: list[dict[str, Any]] = [
        {"name": "", "metric": "m", "op": ">", "threshold": 1},
        {"name": "a", "metric": "m", "op": "=>", "threshold": 1},
        {"name": "a", "metric": "m", "op": ">", "threshold": math.inf},
        {"name": "a", "metric": "m", "op": ">", "threshold": math.nan},
        {"name": "a", "metric": "m", "op": ">", "threshold": None},
        {"name": "a", "metric": "m", "op": ">", "threshold": "1"},
        {"name": "a", "metric": "m", "op": "nan", "threshold": 1.0},
        {"name": "a", "metric": "m", "op": "missing", "threshold": 0},
        {"name": "a", "metric": "", "op": ">", "threshold": 1},
        {"name": "a", "metric": "m", "op": ">", "threshold": 1, "webhook_url": "ftp://x/y"},
        {"name": "a", "metric": "m", "op": ">", "threshold": 1, "webhook_url": "file:///etc"},
        {"name": "a", "metric": "m", "op": ">", "threshold": 1, "webhook_url": "http:///p"},
        {"name": "a", "metric": "m", "op": ">", "threshold": 1, "webhook_url": "http://a b"},
        {"name": "a", "metric": "m", "op": ">", "threshold": 1, "filter": "metrics.x >"},
        {"name": "a", "metric": "m", "op": ">", "threshold": 1, "filter": "order by name"},
    ]
    for kwargs in bad:
        with pytest.raises(InvalidInput):
            ml.set_alert(**kwargs)
    assert ml.alerts() == []
    with pytest.raises(InvalidFilter):
        ml.set_alert("a", "m", ">", 1, filter="params.x ==")


def test_lifecycle_and_unknown_names(store: ml.Store) -> None:
    ml.set_alert("a", "loss", ">", 1.0)
    assert ml.alert("a")["active"] is True
    assert ml.deactivate_alert("a")["active"] is False
    inactive = _run([2.0])
    assert ml.check_alerts() == {"checked": 0, "triggered": [], "deliveries": []}
    ended = ml.get_run(inactive)["end_time"]
    while time.time_ns() // 1_000_000 <= ended:  # activate in a later millisecond
        pass
    assert ml.activate_alert("a")["active"] is True
    assert ml.check_alerts()["triggered"] == []  # finished while inactive: not watched
    _run([2.0])
    assert len(ml.check_alerts()["triggered"]) == 1
    ml.delete_alert("a")
    assert ml.alerts() == [] and ml.alert_history() == []
    for call in (ml.alert, ml.activate_alert, ml.deactivate_alert, ml.delete_alert):
        with pytest.raises(NotFound):
            call("a")
    with pytest.raises(NotFound):
        ml.alert_history("a")
    with pytest.raises(InvalidInput):
        ml.alert_history(limit=-1)


def test_deleting_a_run_removes_its_events(store: ml.Store) -> None:
    ml.set_alert("a", "loss", ">", 1.0)
    run_id = _run([2.0])
    ml.check_alerts()
    from chachaml import runs_api

    runs_api.delete_run(run_id)
    assert ml.alert_history() == []


def test_check_run_evaluates_one_run_whenever_it_finished(store: ml.Store) -> None:
    ml.set_alert("a", "loss", ">", 1.0)
    run_id = _run([2.0])
    assert len(alert_api.check_run(run_id)["triggered"]) == 1
    assert alert_api.check_run(run_id)["triggered"] == []
    with pytest.raises(NotFound):
        alert_api.check_run("f" * 32)


# -- concurrency ------------------------------------------------------------------------------
def _finished_runs(st: ml.Store, n: int) -> None:
    with ml.store(st):
        for i in range(n):
            _run([float(i % 3)])


def _race(url: str, n_checkers: int = 4) -> list[dict[str, Any]]:
    stores = [ml.open_store(url) for _ in range(n_checkers)]
    results: list[dict[str, Any]] = [{}] * n_checkers
    barrier = threading.Barrier(n_checkers)

    def check(i: int) -> None:
        barrier.wait()
        results[i] = alert_api.check_alerts(store=stores[i])

    threads = [threading.Thread(target=check, args=(i,)) for i in range(n_checkers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for st in stores:
        st.close()
    return results


def _assert_each_event_once(results: list[dict[str, Any]], hook: Receiver, expect: int) -> None:
    fired = [(e["alert"], e["run_id"]) for r in results for e in r["triggered"]]
    assert len(fired) == len(set(fired)) == expect
    delivered = [(b["alert"], b["run_id"]) for b in hook.bodies()]
    assert sorted(delivered) == sorted(f for f in fired if f[0] == "a")


def test_concurrent_checks_on_one_sqlite_file_fire_once(tmp_path: Path, hook: Receiver) -> None:
    url = str(tmp_path / "shared.db")
    with ml.open_store(url) as st:
        alert_api.set_alert("a", "loss", ">=", 1.0, webhook_url=hook.url, store=st)
        alert_api.set_alert("b", "loss", "<", 1.0, store=st)
        _finished_runs(st, 30)
    _assert_each_event_once(_race(url), hook, 30)
    assert len(hook.bodies()) == 20


def _check_in_process(url: str, queue: Any) -> None:
    queue.put(alert_api.check_alerts(store=ml.open_store(url)))


def test_concurrent_checks_in_two_processes_fire_once(tmp_path: Path, hook: Receiver) -> None:
    url = str(tmp_path / "shared.db")
    with ml.open_store(url) as st:
        alert_api.set_alert("a", "loss", ">=", 1.0, webhook_url=hook.url, store=st)
        _finished_runs(st, 30)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_check_in_process, args=(url, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    _assert_each_event_once(results, hook, 20)


def test_concurrent_checks_on_postgresql_fire_once(tmp_path: Path, hook: Receiver) -> None:
    url = backends.pg_url_for(tmp_path)
    with ml.open_store(url) as st:
        alert_api.set_alert("a", "loss", ">=", 1.0, webhook_url=hook.url, store=st)
        alert_api.set_alert("b", "loss", "<", 1.0, store=st)
        _finished_runs(st, 30)
    _assert_each_event_once(_race(url), hook, 30)


# -- run-end evaluation -----------------------------------------------------------------------
def test_run_end_evaluation_with_the_env_var(
    store: ml.Store, hook: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    ml.set_alert("a", "loss", ">", 1.0, webhook_url=hook.url)
    _run([2.0])
    assert hook.bodies() == []  # off by default
    monkeypatch.setenv("CHACHAML_ALERTS_ON_END", "1")
    run_id = _run([3.0])
    assert [b["run_id"] for b in hook.bodies()] == [run_id]
    (event,) = [e for e in ml.alert_history() if e["run_id"] == run_id]
    assert event["delivery"] == "delivered" and event["http_status"] == 200


def test_run_end_never_raises_and_is_bounded_by_the_timeout(
    store: ml.Store, hook: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHACHAML_ALERTS_ON_END", "1")
    monkeypatch.setenv("CHACHAML_ALERT_TIMEOUT", "0.5")
    monkeypatch.setenv("CHACHAML_ALERT_RETRIES", "5")
    ml.set_alert("slow", "loss", ">", 1.0, webhook_url=hook.url)
    hook.script(*[(200, {}, 3.0)] * 3)  # the receiver hangs longer than the timeout
    with ml.run():
        ml.log_metric("loss", 0.1)
    start = time.perf_counter()
    with ml.run():
        ml.log_metric("loss", 2.0)
    slowed = time.perf_counter() - start
    assert slowed < 0.5 + 0.4, slowed
    (event,) = ml.alert_history("slow")
    assert event["delivery"] == "failed" and "timed out" in event["delivery_error"]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("store exploded")

    monkeypatch.setattr(alert_api, "check_run", broken)
    with ml.run():  # the hook fails; training goes on
        ml.log_metric("loss", 2.0)


# -- delivery ---------------------------------------------------------------------------------
def test_generic_payload_and_masking(
    store: ml.Store, hook: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setenv("CHACHAML_UI_URL", "http://ui.local:8080/")
    row = ml.set_alert("acc-low", "acc", "<", 0.9, webhook_url=hook.url)
    assert "SECRET" not in str(row) and row["webhook_url"] == f"http://127.0.0.1:{hook.port}/***"
    run_id = _run([0.5], metric="acc", name="r1", experiment="exp")
    result = ml.check_alerts()
    (body,) = hook.bodies()
    assert body == {
        "alert": "acc-low",
        "metric": "acc",
        "op": "<",
        "threshold": 0.9,
        "value": 0.5,
        "run_id": run_id,
        "run_name": "r1",
        "experiment": "exp",
        "fired_at": body["fired_at"],
        "url": f"http://ui.local:8080/runs/{run_id}",
        "text": f"chachaml alert acc-low: acc = 0.5 < 0.9 in run r1 (exp) "
        f"http://ui.local:8080/runs/{run_id}",
    }
    (d,) = result["deliveries"]
    assert d["delivery"] == "delivered" and d["http_status"] == 200 and d["attempts"] == 1
    shown = str([ml.alerts(), ml.alert_history(), result])
    assert "SECRET" not in shown and "hooks/T000" not in shown


def test_slack_payload_is_text_with_a_run_link(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHACHAML_UI_URL", "http://ui.local")
    event = {"alert": "a", "metric": "loss", "op": ">", "threshold": 1.0, "value": 2.0}
    event |= {"run_id": "ab" * 16, "run_name": None, "experiment": "e"}
    body = alert_api.payload(event, "https://hooks.slack.com/services/T/B/X")
    assert body == {
        "text": "chachaml alert a: loss = 2 > 1 in run abababab (e) "
        f"<http://ui.local/runs/{'ab' * 16}|open run>"
    }


def _one_event(hook: Receiver, **env: str) -> dict[str, Any]:
    ml.set_alert("a", "loss", ">", 1.0, webhook_url=hook.url)
    _run([2.0])
    result = ml.check_alerts()
    (event,) = result["triggered"]
    (stored,) = ml.alert_history()
    assert {k: stored[k] for k in ("delivery", "http_status", "attempts")} == {
        k: event[k] for k in ("delivery", "http_status", "attempts")
    }
    return event


def test_retry_on_500_then_success(store: ml.Store, hook: Receiver) -> None:
    hook.script(500, 502)
    event = _one_event(hook)
    assert (event["delivery"], event["http_status"], event["attempts"]) == ("delivered", 200, 3)
    assert len(hook.bodies()) == 3


def test_429_honours_retry_after(store: ml.Store, hook: Receiver) -> None:
    hook.script((429, {"Retry-After": "0.3"}, 0.0))
    event = _one_event(hook)
    assert event["delivery"] == "delivered" and event["attempts"] == 2
    first, second = hook.received
    assert second["at"] - first["at"] >= 0.28


def test_4xx_is_not_retried_and_recorded(store: ml.Store, hook: Receiver) -> None:
    hook.script(404)
    event = _one_event(hook)
    assert (event["delivery"], event["http_status"], event["attempts"]) == ("failed", 404, 1)
    assert event["delivery_error"].startswith("HTTP 404")


def test_timeout_is_recorded(
    store: ml.Store, hook: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHACHAML_ALERT_TIMEOUT", "0.2")
    monkeypatch.setenv("CHACHAML_ALERT_RETRIES", "1")
    hook.script((200, {}, 1.0), (200, {}, 1.0))
    event = _one_event(hook)
    assert (event["delivery"], event["http_status"], event["attempts"]) == ("failed", None, 2)
    assert "timed out" in event["delivery_error"]


def test_connection_refused_is_recorded_without_the_url(
    store: ml.Store, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setenv("CHACHAML_ALERT_RETRIES", "2")
    with Receiver() as gone:
        url = gone.url
    ml.set_alert("a", "loss", ">", 1.0, webhook_url=url)
    _run([2.0])
    with caplog.at_level(logging.WARNING, logger="chachaml.alerts"):
        result = ml.check_alerts()
    (event,) = result["triggered"]
    assert (event["delivery"], event["attempts"]) == ("failed", 3)
    assert "ConnectError" in event["delivery_error"]
    everything = str(result) + str(ml.alert_history()) + caplog.text
    assert "SECRET-TOKEN" not in everything and "/hooks/" not in everything


def test_missing_httpx_is_a_recorded_failure(
    store: ml.Store, hook: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_httpx(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "httpx":
            raise ImportError("no httpx")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_httpx)
    event = _one_event(hook)
    assert event["delivery"] == "failed" and "chachaml[alerts]" in event["delivery_error"]


# -- CLI --------------------------------------------------------------------------------------
def test_cli_set_check_history_watch(store: ml.Store, db_path: Path, hook: Receiver) -> None:
    from chachaml.cli import cli

    runner = CliRunner()
    base = ["--store", str(db_path)]
    _run([0.0])
    out = runner.invoke(cli, ["alerts", "set", "a", "loss", ">", "1", "--webhook", hook.url, *base])
    assert out.exit_code == 0, out.output
    _run([2.0])
    out = runner.invoke(cli, ["alerts", "check", *base])
    assert out.exit_code == 0 and "1 triggered, 1 delivered, 0 failed" in out.output
    out = runner.invoke(cli, ["alerts", "list", *base])
    assert "SECRET" not in out.output and "loss > 1" in out.output
    out = runner.invoke(cli, ["alert-history", "--json", *base])
    assert '"delivered"' in out.output
    out = runner.invoke(cli, ["alerts", "watch", "--interval", "0.01", "--count", "2", *base])
    assert out.output.count("checked 1 alert: 0 triggered") == 2
    out = runner.invoke(cli, ["alerts", "delete", "nope", *base])
    assert out.exit_code != 0 and "does not exist" in out.output
