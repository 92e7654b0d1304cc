"""The experiments, models, pipelines, alerts, chat and misc pages, in-process: empty stores,
unfinished data, hostile names, the stage change with its confirmation, version diffs,
sanitised markdown, and ``chachaml ui``."""

from __future__ import annotations

import html
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip("fastapi")

from click.testing import CliRunner
from fastapi.testclient import TestClient

import chachaml as ml
from alert_receiver import Receiver
from chachaml import alert_api, annotate, pipeline_api, registry
from chachaml.cli import cli
from chachaml.server.app import create_app
from chachaml.server.settings import Settings
from chachaml.server.testing import free_port
from chachaml.server.ui import pages_chat
from chachaml.store import Store, open_store

if str(Path(__file__).parents[1] / "server") not in sys.path:
    sys.path.append(str(Path(__file__).parents[1] / "server"))
from server_helpers import LOCAL

HOSTILE = "<script>alert('x')</script> ü/?#&\"é"
PAGES = ("/experiments", "/models", "/pipelines", "/alerts", "/chat")
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture
def st(tmp_path: Path) -> Iterator[Store]:
    store = open_store(str(tmp_path / "pages.db"), str(tmp_path / "blobs"))
    yield store
    store.close()


@pytest.fixture
def client(st: Store) -> Iterator[TestClient]:
    app = create_app(Settings(), store=st)
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as c:
        yield c


def csrf_of(client: TestClient) -> str:
    found = TOKEN_FIELD.search(client.get("/experiments").text)
    assert found
    return found.group(1)


def model_with_versions(st: Store, name: str = "churn") -> tuple[str, str]:
    """v1 (production) from a run with lr=0.1/acc=0.8, v2 (staging) from one with lr=0.2."""
    ids = []
    for lr, acc in ((0.1, 0.8), (0.2, 0.9)):
        with ml.run(experiment="train", store=st) as run:
            run.log_params({"lr": lr, "depth": 3})
            run.log_metric("acc", acc)
            run.log_artifact("model", {"lr": lr})
        ids.append(run.id)
    registry.register_model(name, run_id=ids[0], stage="production", store=st)
    registry.register_model(name, run_id=ids[1], stage="staging", store=st)
    return ids[0], ids[1]


def stage_badges(page: str) -> dict[int, str]:
    """Version -> stage as the versions table shows it (the badge in each row)."""
    rows = re.findall(r'<tr id="v(\d+)"[^>]*>.*?class="badge stage stage-(\w+)"', page, re.S)
    return {int(v): s for v, s in rows}


def model_url(name: str) -> str:
    from urllib.parse import quote

    return "/models/" + quote(name, safe="")


# -- empty store ------------------------------------------------------------------------------
def test_every_page_works_on_an_empty_store(client: TestClient) -> None:
    for path in PAGES:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.text[:300])
        assert "text/html" in resp.headers["content-type"]
    assert "No models yet" in client.get("/models").text
    assert "No pipelines" in client.get("/pipelines").text
    assert "No alert rules yet" in client.get("/alerts").text


def test_the_empty_store_page_teaches_a_first_run_that_works(client: TestClient, st: Store) -> None:
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 200
    assert "No runs yet" in page.text and "chachaml demo" in page.text
    snippet = re.search(r"<pre><code>(import chachaml as ml.*?)</code></pre>", page.text, re.S)
    assert snippet, page.text
    code = html.unescape(snippet.group(1))
    with ml.store(st):
        exec(compile(code, "first_run.py", "exec"), {})  # the page's own instructions
    runs = ml.runs(store=st)
    assert len(runs) == 1 and runs[0]["experiment"] == "quickstart"
    assert ml.metric_history(runs[0]["id"], "loss", store=st)
    after = client.get("/", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"] == "/runs"


# -- unfinished data --------------------------------------------------------------------------
def test_pages_show_running_runs_and_unfinished_pipelines(client: TestClient, st: Store) -> None:
    running = ml.start_run(experiment="live", store=st)
    try:
        pipeline_api.record_pipeline(running.id, "nightly", ["load", "fit", "report"], store=st)
        with ml.run(parent=running.id, store=st) as step_run:
            pass
        pipeline_api.record_step(
            running.id, 0, "completed", run_id=step_run.id, started_at=1, finished_at=5, store=st
        )
        pipeline_api.record_step(running.id, 1, "running", started_at=6, store=st)
        experiments = client.get("/experiments").text
        assert 'data-experiment="live"' in experiments
        listing = client.get("/pipelines").text
        assert "nightly" in listing and "1/3" in listing
        page = client.get(f"/pipelines/{running.id}")
        assert page.status_code == 200
        statuses = re.findall(r'<tr data-step="(\d)" data-status="(\w+)"', page.text)
        assert statuses == [("0", "completed"), ("1", "running"), ("2", "pending")]
        assert ">running<" in page.text  # the running step's duration, not a crash
        assert f'href="/runs/{step_run.id}"' in page.text
        assert client.get(f"/api/pipelines/{running.id}").json()["status"] == "running"
    finally:
        running.end()


def test_a_failed_pipeline_shows_its_error_and_the_skipped_steps(
    client: TestClient, st: Store
) -> None:
    def boom(ctx: Any) -> None:
        raise ValueError(HOSTILE)

    with pytest.raises(ValueError):
        ml.run_pipeline(
            "etl", [("load", lambda c: 1), ("boom", boom), ("after", lambda c: 2)], store=st
        )
    pid = ml.pipelines(store=st)[0]["id"]
    page = client.get(f"/pipelines/{pid}").text
    statuses = re.findall(r'<tr data-step="(\d)" data-status="(\w+)"', page)
    assert statuses == [("0", "completed"), ("1", "failed"), ("2", "skipped")]
    error = re.search(r'data-step-error="1">.*?<pre class="error-text">(.*?)</pre>', page, re.S)
    assert error is not None
    assert html.unescape(error.group(1)) == f"ValueError: {HOSTILE}"
    assert "<script>alert" not in page
    failed = client.get("/pipelines?status=failed").text
    assert f'data-pipeline="{pid}"' in failed
    assert f'data-pipeline="{pid}"' not in client.get("/pipelines?status=completed").text


def test_pipeline_page_labels_the_description_and_hides_an_empty_result_column(
    client: TestClient, st: Store
) -> None:
    def pages() -> list[str]:
        return [client.get(f"/pipelines/{p['id']}").text for p in ml.pipelines(store=st)]

    with ml.run(experiment="p", store=st) as plain:
        pass
    pipeline_api.record_pipeline(
        plain.id, "plain", ["a", "b"], description="*Why* it runs", store=st
    )
    (page,) = pages()
    described = re.search(r"<dt>Description</dt><dd[^>]*>(.*?)</dd>", page, re.S)
    assert described and "<em>Why</em> it runs" in described.group(1)
    assert "<th>Result</th>" not in page  # no step saved a result
    with ml.run(experiment="p", store=st) as saved:
        pass
    pipeline_api.record_pipeline(saved.id, "saved", ["a", "b"], store=st)
    pipeline_api.record_step(saved.id, 0, "completed", result_artifact="features.pkl", store=st)
    page = client.get(f"/pipelines/{saved.id}").text
    assert "<th>Result</th>" in page and "features.pkl" in page
    assert "<dt>Description</dt>" not in page


def test_models_list_marks_a_missing_description(client: TestClient, st: Store) -> None:
    with ml.run(experiment="m", store=st):
        ml.log_artifact("model", {"w": 1})
        registry.register_model("plain", description="the version's words")
        registry.register_model("described")
    registry.set_model_description("described", "Model *words*", store=st)
    page = client.get("/models").text
    cells = dict(re.findall(r'<tr data-model="([^"]+)">.*?<td class="wrap">(.*?)</td>', page, re.S))
    assert cells["described"] == "Model *words*"
    assert re.fullmatch(r'<span class="muted"[^>]*>\u2013</span>', cells["plain"]), cells["plain"]


def test_the_pipelines_pager_moves_through_pages(client: TestClient, st: Store) -> None:
    for i in range(53):
        with ml.run(name=f"p{i}", store=st) as run:
            pass
        pipeline_api.record_pipeline(run.id, f"p{i}", ["only"], store=st)
    first = client.get("/pipelines").text
    second_url = re.search(r'href="([^"]+)" rel="next"', first)
    assert second_url is not None
    second = client.get(html.unescape(second_url.group(1))).text
    shown = re.findall(r'data-pipeline="(\w+)"', first) + re.findall(
        r'data-pipeline="(\w+)"', second
    )
    assert sorted(shown) == sorted(p["id"] for p in ml.pipelines(limit=None, store=st))
    assert 'rel="next"' not in second


# -- hostile and unicode names ----------------------------------------------------------------
def test_hostile_names_are_escaped_everywhere_and_still_reachable(
    client: TestClient, st: Store
) -> None:
    annotate.create_experiment(HOSTILE, description=HOSTILE, owner=HOSTILE, store=st)
    model_with_versions(st, HOSTILE)
    alert_api.set_alert(HOSTILE, "acc", "<", 0.5, experiment=HOSTILE, store=st)
    with ml.run(experiment=HOSTILE, store=st) as parent:
        pass
    pipeline_api.record_pipeline(parent.id, HOSTILE, [HOSTILE], store=st)
    for path in (*PAGES, f"/pipelines/{parent.id}"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text, path
    models = client.get("/models").text
    href = re.search(r'<td><a [^>]*?href="(/models/[^"]+)"', models)
    assert href is not None
    opened = client.get(html.unescape(href.group(1)))
    assert opened.status_code == 200
    heading = re.search(r"<h1>(.*?)</h1>", opened.text, re.S)
    assert heading is not None and html.unescape(heading.group(1)) == HOSTILE
    assert stage_badges(opened.text) == {1: "production", 2: "staging"}
    experiments = client.get("/experiments").text
    runs_link = re.search(r'<td><a [^>]*?href="(/runs\?experiment=[^"]+)"', experiments)
    assert runs_link is not None
    query = urlsplit(html.unescape(runs_link.group(1))).query
    from urllib.parse import parse_qs

    assert parse_qs(query)["experiment"] == [HOSTILE]
    alerts = client.get("/alerts").text
    link = re.search(r'<td><a href="(/alerts\?alert=[^"]+)">', alerts)
    assert link is not None
    one = client.get(html.unescape(link.group(1))).text
    assert "History of" in one and "no alert" not in one


# -- models: stage changes with confirmation --------------------------------------------------
def test_promoting_with_confirmation_moves_the_badge(client: TestClient, st: Store) -> None:
    model_with_versions(st)
    page = client.get("/models/churn").text
    assert stage_badges(page) == {1: "production", 2: "staging"}
    form = re.search(r'<form method="get" action="/models/churn" class="[^"]*promote-form', page)
    assert form, "each version row has a stage form"
    confirm = client.get("/models/churn?promote=2&stage=production")
    assert confirm.status_code == 200
    assert "v1 is in production now and will be archived" in confirm.text
    assert stage_badges(client.get("/models/churn").text)[2] == "staging"  # asking changed nothing
    token = TOKEN_FIELD.search(confirm.text)
    assert token is not None
    unconfirmed = client.post(
        "/models/churn",
        data={
            "action": "promote",
            "version": "2",
            "stage": "production",
            "csrf_token": token.group(1),
        },
        follow_redirects=False,
    )
    assert unconfirmed.status_code == 303
    assert unconfirmed.headers["location"] == "/models/churn?promote=2&stage=production"
    assert registry.model("churn", store=st)["production_version"] == 1
    done = client.post(
        "/models/churn",
        data={
            "action": "promote",
            "version": "2",
            "stage": "production",
            "confirm": "yes",
            "csrf_token": token.group(1),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/models/churn#v2"
    after = client.get("/models/churn").text
    assert stage_badges(after) == {1: "archived", 2: "production"}
    api = client.get("/api/models/churn").json()
    assert {v["version"]: v["stage"] for v in api["versions"]} == stage_badges(after)
    listing = client.get("/models").text
    assert '<span class="badge stage-production">v2</span>' in listing


def test_promoting_a_missing_version_keeps_production(client: TestClient, st: Store) -> None:
    model_with_versions(st)
    resp = client.post(
        "/models/churn",
        data={
            "action": "promote",
            "version": "9",
            "stage": "production",
            "confirm": "yes",
            "csrf_token": csrf_of(client),
        },
    )
    assert resp.status_code == 422
    assert "no version 9" in resp.text
    assert registry.model("churn", store=st)["production_version"] == 1
    for odd in ("²", "0", "-1", "1e3", "99999999999999999999999", ""):
        resp = client.post(
            "/models/churn",
            data={
                "action": "promote",
                "version": odd,
                "stage": "production",
                "confirm": "yes",
                "csrf_token": csrf_of(client),
            },
        )
        assert resp.status_code == 422 and "version must be" in resp.text, odd
    assert registry.model("churn", store=st)["production_version"] == 1
    bad_stage = client.get("/models/churn?promote=2&stage=prod")
    assert bad_stage.status_code == 422 and "choose a stage" in bad_stage.text


def test_the_version_diff_shows_what_differs(client: TestClient, st: Store) -> None:
    model_with_versions(st)
    page = client.get("/models/churn?v1=1&v2=2")
    assert page.status_code == 200
    rows = dict(
        re.findall(r'<tr class="diff-(\w+)" data-key="(\w+)">', page.text)[i][::-1]
        for i in range(3)
    )
    assert rows == {"lr": "differ", "acc": "differ", "depth": "same"}
    lr_row = re.search(r'data-key="lr">(.*?)</tr>', page.text, re.S)
    assert lr_row is not None
    cells = re.findall(r'<td class="num">(.*?)</td>', lr_row.group(1))
    assert cells == ["0.1", "0.2"]
    twin = client.get("/api/models/churn/diff?v1=1&v2=2").json()
    assert set(twin["params"]["differ"]) == {"lr"}
    assert "choose two versions" in client.get("/models/churn?v1=1").text


def test_the_description_is_markdown_and_sanitised(client: TestClient, st: Store) -> None:
    model_with_versions(st)
    text = (
        "**bold** and $a^2$\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1)) "
        '<img src=x onerror="alert(1)">'
    )
    resp = client.post(
        "/models/churn",
        data={"action": "describe", "description": text, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    assert registry.model("churn", store=st)["description"] == text
    page = client.get("/models/churn").text
    shown = re.search(r'<section class="panel" id="description">(.*?)<details', page, re.S)
    assert shown is not None
    body = shown.group(1)
    assert "<strong>bold</strong>" in body and 'class="math"' in body
    assert "<script" not in body and "<img" not in body  # shown as text, never as tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert not re.search(r"href=\S*javascript", body)  # the link is refused, its text stays


def test_a_bad_description_is_refused_and_the_draft_kept(client: TestClient, st: Store) -> None:
    model_with_versions(st)
    registry.set_model_description("churn", "old", store=st)
    resp = client.post(
        "/models/churn",
        data={
            "action": "describe",
            "description": "x" * (1024 * 1024 + 1),
            "csrf_token": csrf_of(client),
        },
    )
    assert resp.status_code == 422 and "larger than" in resp.text
    assert registry.model("churn", store=st)["description"] == "old"


# -- experiments ------------------------------------------------------------------------------
def test_describing_an_experiment_shows_it_like_its_json_twin(
    client: TestClient, st: Store
) -> None:
    with ml.run(experiment="derived", store=st):
        pass
    resp = client.post(
        "/experiments",
        data={
            "name": "iris",
            "description": "Fisher's *flowers*",
            "owner": "ana",
            "csrf_token": csrf_of(client),
        },
        follow_redirects=False,
    )
    assert resp.status_code == 303
    page = client.get("/experiments").text
    shown = re.findall(r'<tr data-experiment="([^"]+)">', page)
    assert shown == [e["name"] for e in client.get("/api/experiments").json()]
    assert set(shown) == {"iris", "derived"}
    assert "<em>flowers</em>" in page and "ana" in page and "derived</span>" in page
    empty = client.post("/experiments", data={"name": " ", "csrf_token": csrf_of(client)})
    assert empty.status_code == 422 and "needs a name" in empty.text


# -- alerts -----------------------------------------------------------------------------------
def test_alerts_show_rules_masked_webhooks_and_delivery_status(
    client: TestClient, st: Store
) -> None:
    with Receiver() as hook:
        hook.script(404)
        secret_url = hook.url + "/hooks/SECRET-PART"
        alert_api.set_alert("low-acc", "acc", "<", 0.5, webhook_url=secret_url, store=st)
        with ml.run(experiment="e", store=st) as run:
            run.log_metric("acc", 0.1)
        token = csrf_of(client)
        checked = client.post(
            "/alerts", data={"action": "check", "csrf_token": token}, follow_redirects=False
        )
        assert checked.status_code == 303
        page = client.get(checked.headers["location"]).text
    assert "Checked 1 rule: 1 new event" in page
    assert "SECRET-PART" not in page
    assert alert_api.mask_url(secret_url) in page
    event = re.search(r'<tr data-event="\d+" data-delivery="(\w+)">(.*?)</tr>', page, re.S)
    assert event is not None and event.group(1) == "failed"
    assert "404" in event.group(2) and f'href="/runs/{run.id}"' in event.group(2)
    history = client.get("/api/alert-history").json()
    assert [e["delivery"] for e in history] == ["failed"]
    off = client.post(
        "/alerts",
        data={"action": "deactivate", "name": "low-acc", "csrf_token": token},
        follow_redirects=False,
    )
    assert off.status_code == 303 and alert_api.alert("low-acc", store=st)["active"] is False
    assert "Turn on" in client.get("/alerts").text
    unknown = client.post(
        "/alerts", data={"action": "activate", "name": "nope", "csrf_token": token}
    )
    assert unknown.status_code == 422 and "does not exist" in unknown.text


# -- chat -------------------------------------------------------------------------------------
def test_the_chat_page_never_posts_the_key_to_a_ui_route(client: TestClient) -> None:
    page = client.get("/chat").text
    form = re.search(r'<form id="chat-form"[^>]*>', page)
    assert form is not None
    assert "action=" not in form.group(0) and "method=" not in form.group(0)
    key = re.search(r'<input type="password" id="chat-key"[^>]*>', page)
    assert key is not None and "name=" not in key.group(0)  # unnamed: never in a form body
    assert 'src="/static/js/chat.js' in page
    config = re.search(r'<script type="application/json" id="chat-config">(.*?)</script>', page)
    assert config is not None and '"api":"/api/chat"' in config.group(1).replace(" ", "")
    script = client.get("/static/js/chat.js").text
    assert "innerHTML" not in script and "sessionStorage" in script
    assert "X-CSRF-Token" in script


def test_the_chat_page_says_so_when_the_server_has_no_chat(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages_chat, "CHAT_API", "/api/no-such-chat")
    page = client.get("/chat")
    assert page.status_code == 200
    assert "Chat is not available on this server." in page.text
    assert "chat.js" not in page.text


# -- the CLI ----------------------------------------------------------------------------------
def test_chachaml_ui_serves_the_same_app_and_opens_the_browser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    port = free_port()
    opened: list[str] = []
    served: dict[str, Any] = {}

    def fake_run(app: Any, host: str, port: int, **kw: Any) -> None:
        # Listen for real, as uvicorn would, until the browser has been asked to open.
        served.update(app=app, host=host, port=port)
        with socket.create_server((host, port)) as sock:
            sock.settimeout(0.2)
            deadline = time.monotonic() + 20
            while not opened and time.monotonic() < deadline:
                try:
                    conn, _ = sock.accept()
                    conn.close()
                except TimeoutError:
                    pass

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    store = str(tmp_path / "ui.db")
    result = CliRunner().invoke(cli, ["ui", "--store", store, "--port", str(port), "--open"])
    assert result.exit_code == 0, result.output
    assert opened == [f"http://127.0.0.1:{port}/"]
    app = served["app"]
    paths = {getattr(r, "path", "") for r in app.routes}
    assert "/api/openapi.json" in paths  # the JSON API is on the UI's app
    app.state.store.close()
    assert f"chachaml ui on http://127.0.0.1:{port}" in result.output
    assert threading.active_count() >= 1


def test_chachaml_ui_does_not_open_a_browser_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.setattr("webbrowser.open", lambda url: pytest.fail("opened a browser"))
    result = CliRunner().invoke(cli, ["ui", "--store", str(tmp_path / "x.db"), "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    seen["app"].state.store.close()
    refused = CliRunner().invoke(cli, ["ui", "--host", "0.0.0.0", "--store", "y.db"])
    assert refused.exit_code != 0 and "without tokens" in refused.output
    helptext = " ".join(CliRunner().invoke(cli, ["server", "--help"]).output.split())
    assert "no web UI" not in helptext and "web UI" in helptext
