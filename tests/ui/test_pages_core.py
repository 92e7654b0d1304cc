"""The core web UI pages in-process: /runs, /search, /runs/{id}, /compare, their forms, the
static route and the markdown sanitiser. Expected values are computed here from what the tests
logged, never read back from the page code."""

from __future__ import annotations

import csv
import html
import importlib.util
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import markupsafe
import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

import chachaml as ml
from chachaml import runs_api
from chachaml.server.app import create_app
from chachaml.server.settings import Settings, parse_tokens
from chachaml.server.ui.markdown import render_markdown
from chachaml.store import Store, open_store
from chachaml.store.protocol import NewRun

if str(Path(__file__).parents[1] / "server") not in sys.path:
    sys.path.append(str(Path(__file__).parents[1] / "server"))
from server_helpers import LOCAL, READ_TOKEN, WRITE_TOKEN

HOSTILE = "</script><script>alert('x')</script>&amp;\"é"
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
ROW = re.compile(r'<tr data-run="([0-9a-f]{32})"')
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\xa3"
    b"\x9d\xd8\x1c\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def st(tmp_path: Path) -> Iterator[Store]:
    store = open_store(str(tmp_path / "ui.db"), str(tmp_path / "blobs"))
    yield store
    store.close()


@pytest.fixture
def client(st: Store) -> Iterator[TestClient]:
    app = create_app(Settings(), store=st)
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as c:
        yield c


def rows(page: str) -> list[str]:
    return ROW.findall(page)


def json_block(page: str, block_id: str) -> Any:
    found = re.search(
        rf'<script type="application/json" id="{block_id}">(.*?)</script>', page, re.S
    )
    assert found, block_id
    return json.loads(found.group(1))


def csrf_of(client: TestClient, path: str) -> str:
    found = TOKEN_FIELD.search(client.get(path).text)
    assert found, path
    return found.group(1)


def assert_no_inline_script(page: str) -> None:
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", page), "an inline event handler"
    assert not re.search(r"\sstyle\s*=", page), "an inline style attribute"


def make_runs(st: Store, n: int) -> list[dict[str, Any]]:
    """``n`` finished runs in two experiments with an ``acc`` metric and an ``lr`` param whose
    values are known here."""
    made = []
    with ml.store(st):
        for i in range(n):
            acc = ((i * 37) % 101) / 100
            lr = [0.1, 0.01, 0.001][i % 3]
            exp = "even" if i % 2 == 0 else "odd"
            with ml.run(experiment=exp, name=f"r{i:03d}", tags={"batch": str(i % 4)}) as run:
                ml.log_param("lr", lr)
                ml.log_metric("acc", acc)
            made.append({"id": run.id, "acc": acc, "lr": lr, "experiment": exp, "i": i})
    return made


# -- /runs ---------------------------------------------------------------------------------------
def test_runs_page_on_an_empty_store_says_so(client: TestClient) -> None:
    resp = client.get("/runs")
    assert resp.status_code == 200
    assert "No runs yet" in resp.text
    assert "text/html" in resp.headers["content-type"]
    assert_no_inline_script(resp.text)
    filtered = client.get("/runs?experiment=nothing")
    assert filtered.status_code == 200 and "No runs match these filters" in filtered.text


def test_runs_page_escapes_every_user_string(client: TestClient, st: Store) -> None:
    with ml.store(st), ml.run(experiment=HOSTILE, name=HOSTILE, tags={HOSTILE: HOSTILE}):
        ml.log_param(HOSTILE, HOSTILE)
        ml.log_metric("m", 1.0)
    for path in (
        "/runs",
        f"/runs?col=params.{HOSTILE}",
        "/search?filter=experiment%20like%20'%25'",
    ):
        page = client.get(path).text
        assert "<script>alert" not in page
        assert str(markupsafe.escape(HOSTILE)) in page
        assert_no_inline_script(page)


def test_pages_cover_every_run_once_in_order(client: TestClient, st: Store) -> None:
    made = make_runs(st, 120)
    newest_first = [r["id"] for r in reversed(made)]
    first = client.get("/runs")
    assert first.status_code == 200
    assert rows(first.text) == newest_first[:50]
    assert 'rel="next"' in first.text and 'rel="prev"' not in first.text
    seen: list[str] = []
    url: str | None = "/runs"
    while url:
        page = client.get(html.unescape(url)).text
        seen += rows(page)
        found = re.search(r'<a class="btn" href="([^"]+)" rel="next">', page)
        url = found.group(1) if found else None
    assert seen == newest_first
    last = client.get("/runs?offset=100").text
    assert len(rows(last)) == 20 and 'rel="next"' not in last and 'rel="prev"' in last


@pytest.mark.parametrize(("sort", "desc"), [("metrics.acc", True), ("metrics.acc", False)])
def test_sort_by_a_metric_column(client: TestClient, st: Store, sort: str, desc: bool) -> None:
    made = make_runs(st, 30)
    # ties (equal acc) keep the default order: newest first
    ordered = sorted(made, key=lambda r: (-r["acc"] if desc else r["acc"], -r["i"]))
    page = client.get(f"/runs?sort={sort}&dir={'desc' if desc else 'asc'}").text
    assert rows(page) == [r["id"] for r in ordered]
    assert 'title="metrics.acc"' in page  # the sorted column is shown


def test_sort_by_a_chosen_param_column(client: TestClient, st: Store) -> None:
    made = make_runs(st, 12)
    ordered = sorted(made, key=lambda r: (r["lr"], -r["i"]))
    page = client.get("/runs?sort=params.lr&dir=asc&col=params.lr").text
    assert rows(page) == [r["id"] for r in ordered]
    cells = re.findall(r'<td class="">(0\.0*1)</td>', page)
    assert [float(c) for c in cells] == [r["lr"] for r in ordered]


def test_filters_experiment_status_user_tag_and_expression(client: TestClient, st: Store) -> None:
    made = make_runs(st, 20)
    with ml.store(st), pytest.raises(RuntimeError), ml.run(experiment="odd", name="bad") as bad:
        raise RuntimeError("boom")
    odd = {r["id"] for r in made if r["experiment"] == "odd"}
    assert set(rows(client.get("/runs?experiment=odd").text)) == odd | {bad.id}
    batch2 = {r["id"] for r in made if r["i"] % 4 == 2}
    assert set(rows(client.get("/runs?tag=batch%3D2").text)) == batch2
    high = {r["id"] for r in made if r["acc"] > 0.5}
    assert set(rows(client.get("/runs?filter=metrics.acc%20%3E%200.5").text)) == high
    user = ml.current_user()
    assert len(rows(client.get(f"/runs?user={user}").text)) == 21
    assert rows(client.get("/runs?user=nobody-else").text) == []
    assert rows(client.get("/runs?status=failed").text) == [bad.id]
    # a bad status or tag is an inline error, not a crash
    resp = client.get("/runs?status=bogus")
    assert resp.status_code == 400 and "bogus" in resp.text and 'role="alert"' in resp.text
    assert client.get("/runs?tag=novalue").status_code == 400


def test_filter_parse_error_is_shown_at_its_position(client: TestClient, st: Store) -> None:
    make_runs(st, 2)
    expr = "metrics.acc > 0.5 and and"
    position = expr.index("and and") + len("and ")  # the second "and" is unexpected
    for path in ("/runs", "/search"):
        resp = client.get(path, params={"filter": expr})
        assert resp.status_code == 400
        caret = re.search(r'<pre class="caret">(.*?)\n( *)\^</pre>', resp.text, re.S)
        assert caret, resp.text
        assert html.unescape(caret.group(1)) == expr
        assert len(caret.group(2)) == position
        assert rows(resp.text) == []
        # the expression did not parse: no results section (no "no runs match" box under it)
        assert 'class="empty"' not in resp.text and "No runs match" not in resp.text


def test_archived_runs_are_behind_the_toggle(client: TestClient, st: Store) -> None:
    made = make_runs(st, 3)
    with ml.store(st):
        with ml.run(experiment="old") as old:
            pass
        assert ml.archive_runs(older_than_days=0, experiment="old") == 1
    assert old.id not in rows(client.get("/runs").text)
    page = client.get("/runs?archived=1").text
    assert old.id in rows(page) and {r["id"] for r in made} <= set(rows(page))
    assert "is-archived" in page


def test_children_follow_their_parent_with_a_toggle(client: TestClient, st: Store) -> None:
    with ml.store(st), ml.run(experiment="tree", name="parent") as parent:
        with ml.run(name="c1") as c1:
            pass
        with ml.run(name="c2") as c2:
            pass
    with ml.store(st), ml.run(experiment="tree", name="later"):
        pass
    page = client.get("/runs?experiment=tree").text
    order = rows(page)
    at = order.index(parent.id)
    assert set(order[at + 1 : at + 3]) == {c1.id, c2.id}
    assert f'data-parent="{parent.id}"' in page
    assert f'data-toggle="{parent.id}"' in page


def test_csv_export_link_gives_exactly_the_filtered_rows(client: TestClient, st: Store) -> None:
    make_runs(st, 25)
    page = client.get("/runs?experiment=even&filter=metrics.acc%20%3E%200.2&sort=metrics.acc").text
    link = html.unescape(re.search(r'href="(/api/export\?[^"]+)" download', page).group(1))  # type: ignore[union-attr]
    resp = client.get(link)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    got = list(csv.DictReader(io.StringIO(resp.text)))
    expected = ml.export_runs(
        experiment="even",
        filter="metrics.acc > 0.2",
        order_by="metrics.acc desc",
        store=st,
    )
    assert [r["id"] for r in got] == [r["id"] for r in expected]
    assert [float(r["metrics.acc"]) for r in got] == [r["metrics.acc"] for r in expected]
    assert len(got) == len(rows(page))  # the page shows those same runs (under 50)


def test_json_twin_link_lists_the_same_runs(client: TestClient, st: Store) -> None:
    make_runs(st, 8)
    page = client.get("/runs?experiment=odd&sort=params.lr&dir=asc").text
    link = html.unescape(re.search(r'href="(/api/runs\?[^"]+)">JSON', page).group(1))  # type: ignore[union-attr]
    body = client.get(link).json()
    assert [r["id"] for r in body["runs"]] == rows(page)


# -- /search -------------------------------------------------------------------------------------
def test_search_shows_examples_and_results(client: TestClient, st: Store) -> None:
    made = make_runs(st, 10)
    empty = client.get("/search")
    assert empty.status_code == 200 and "Examples" in empty.text
    assert rows(empty.text) == []
    for expr in re.findall(r'<a href="/search\?filter=([^"]+)"><code>', empty.text):
        # every example parses (it may match nothing here)
        resp = client.get("/search?filter=" + html.unescape(expr))
        assert resp.status_code == 200, expr
    expr = "params.lr = 0.01 order by metrics.acc desc"
    ordered = sorted((r for r in reversed(made) if r["lr"] == 0.01), key=lambda r: -r["acc"])
    page = client.get("/search", params={"filter": expr}).text
    assert rows(page) == [r["id"] for r in ordered]


# -- /runs/{id} ------------------------------------------------------------------------------------
def test_run_page_shows_header_params_cards_and_chart_data(client: TestClient, st: Store) -> None:
    with ml.store(st), ml.run(experiment="e", name=HOSTILE) as parent:
        ml.log_params({"lr": 0.5, "layers": [64, 32]})
        for step, value in enumerate([0.9, 0.2, 0.4]):
            ml.log_metric("loss", value, step=step)
        with ml.run(name="kid") as kid:
            pass
    resp = client.get(f"/runs/{parent.id}")
    assert resp.status_code == 200
    page = resp.text
    assert_no_inline_script(page)
    assert "<script>alert" not in page
    card = re.search(r'<div class="card" data-key="loss">(.*?)</div>\s*</div>', page, re.S)
    assert card
    text = " ".join(re.sub(r"<[^>]+>", " ", card.group(1)).split())
    assert "0.4" in text and "min 0.2" in text and "max 0.9" in text and "3" in text
    assert f'href="/runs/{kid.id}"' in page
    assert "[64, 32]" in page  # a list param, as JSON
    chart = json_block(page, "chart-data")
    assert chart["keys"] == ["loss"]
    assert chart["run"]["name"] == HOSTILE  # survives the JSON block intact
    assert chart["run"]["status"] == "completed"
    kid_page = client.get(f"/runs/{kid.id}").text
    assert f'href="/runs/{parent.id}"' in kid_page


def test_metric_cards_give_min_and_max_in_4_significant_digits(
    client: TestClient, st: Store
) -> None:
    values = [1234567.0, 61728.3, 0.664477]
    with ml.store(st), ml.run(experiment="e") as run:
        for step, value in enumerate(values):
            ml.log_metric("big", value, step=step)
        ml.log_metric("small", 0.664477, step=0)
        ml.log_metric("small", 0.123456, step=1)
    page = client.get(f"/runs/{run.id}").text

    def card(key: str) -> str:
        found = re.search(rf'<div class="card" data-key="{key}">(.*?)</div>\s*</div>', page, re.S)
        assert found, key
        return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())

    # written out by hand: 0.664477 -> 0.6645, 1234567 -> 1.235M (the full values in the title)
    assert "min 0.6645 · max 1.235M · 3 pts" in card("big")
    assert "min 0.1235 · max 0.6645 · 2 pts" in card("small")
    assert 'title="1.23457e+06"' in page


def test_run_page_of_unknown_prefix_and_running_runs(client: TestClient, st: Store) -> None:
    assert client.get("/runs/" + "0" * 32).status_code == 404
    with ml.store(st):
        run = ml.start_run(experiment="live")
        try:
            ml.log_metric("x", 1.0)
            st.flush()
            resp = client.get(f"/runs/{run.id[:8]}", follow_redirects=False)
            assert resp.status_code == 303 and resp.headers["location"] == f"/runs/{run.id}"
            page = client.get(f"/runs/{run.id}").text
            assert json_block(page, "chart-data")["run"]["status"] == "running"
            assert 'data-since="' in page  # the duration ticks while running
        finally:
            ml.end_run()


def test_failed_run_shows_its_error_escaped(client: TestClient, st: Store) -> None:
    with ml.store(st), pytest.raises(ValueError), ml.run(experiment="e") as run:
        raise ValueError("<b>boom</b>")
    page = client.get(f"/runs/{run.id}").text
    assert "&lt;b&gt;boom&lt;/b&gt;" in page and "<b>boom" not in page


def test_history_cursor_returns_only_new_points(client: TestClient, st: Store) -> None:
    with ml.store(st), ml.run(experiment="e") as run:
        for step in range(0, 30, 3):
            ml.log_metric("loss", step * 1.5, step=step)
    url = f"/api/runs/{run.id}/metrics/history"
    body = client.get(url, params={"key": "loss", "after_step": 12}).json()
    assert [p["step"] for p in body["points"]] == [15, 18, 21, 24, 27]
    assert [p["value"] for p in body["points"]] == [s * 1.5 for s in (15, 18, 21, 24, 27)]
    page = client.get(url, params={"key": "loss", "after_step": 12, "max_points": 2}).json()
    assert [p["step"] for p in page["points"]] == [15, 18]
    assert client.get(url, params={"key": "loss", "after_step": 27}).json()["points"] == []
    assert client.get(url, params={"key": "loss", "after_step": "x"}).status_code == 422


def test_artifacts_preview_by_type_and_download_headers(client: TestClient, st: Store) -> None:
    with ml.store(st), ml.run(experiment="e") as run:
        ml.log_artifact("plot.png", PNG, format="bytes", content_type="image/png")
        ml.log_artifact("report.md", "# Title\n\n<script>alert(1)</script> $x^2$", "markdown")
        ml.log_artifact("data.json", '{"b": [1, 2], "a": "<i>"}', content_type="application/json")
        ml.log_artifact("rows.csv", "x,y\n1,<b>\n2,3\n", content_type="text/csv")
        ml.log_artifact("log.txt", "line <one>\n")
        ml.log_artifact("page.html", b"<script>alert(1)</script>", "bytes", "text/html")
        ml.log_artifact("pic.svg", b"<svg onload='alert(1)'/>", "bytes", "image/svg+xml")
        ml.log_table("scores", [{"model": "<rf>", "acc": 0.9}])
    page = client.get(f"/runs/{run.id}").text
    base = f"/api/runs/{run.id}/artifacts"
    assert f'<img src="{base}/plot.png"' in page
    assert "<h1>Title</h1>" in page and "<script>alert(1)" not in page
    assert '<span class="math">$x^2$</span>' in page
    pretty = json.dumps({"b": [1, 2], "a": "<i>"}, indent=2)
    assert html.escape(pretty, quote=False) in page.replace("&#34;", '"').replace("&#39;", "'")
    assert "<td>&lt;b&gt;</td>" in page  # the CSV as a table
    assert "<td>&lt;rf&gt;</td>" in page  # the logged table
    assert "line &lt;one&gt;" in page
    for name in ("page.html", "pic.svg"):
        assert f'<img src="{base}/{name}"' not in page and "<iframe" not in page
        assert f'href="{base}/{name}" download' in page
        resp = client.get(f"{base}/{name}")
        assert resp.headers["content-disposition"].startswith("attachment")
        assert resp.headers["x-content-type-options"] == "nosniff"
    img = client.get(f"{base}/plot.png")
    assert img.headers["content-type"] == "image/png" and img.content == PNG
    assert img.headers["content-disposition"].startswith("inline")


def test_tag_forms_add_and_remove_with_csrf(client: TestClient, st: Store) -> None:
    with ml.store(st), ml.run(experiment="e", tags={"keep": "1"}) as run:
        pass
    token = csrf_of(client, f"/runs/{run.id}")
    resp = client.post(
        f"/runs/{run.id}/tags",
        data={"key": "reviewed", "value": "<yes>", "csrf_token": token},
        follow_redirects=False,
    )
    assert resp.status_code == 303 and resp.headers["location"] == f"/runs/{run.id}#tags"
    assert ml.get_tags(run.id, store=st) == {"keep": "1", "reviewed": "<yes>"}
    assert "&lt;yes&gt;" in client.get(f"/runs/{run.id}").text
    refused = client.post(f"/runs/{run.id}/tags", data={"key": "x", "value": "y"})
    assert refused.status_code == 403
    assert "x" not in ml.get_tags(run.id, store=st)
    resp = client.post(
        f"/runs/{run.id}/tags/delete",
        data={"key": "keep", "csrf_token": token},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    assert ml.get_tags(run.id, store=st) == {"reviewed": "<yes>"}
    empty_key = client.post(f"/runs/{run.id}/tags", data={"key": " ", "csrf_token": token})
    assert empty_key.status_code in (400, 422)


def test_note_form_saves_markdown_and_renders_it_sanitised(client: TestClient, st: Store) -> None:
    with ml.store(st), ml.run(experiment="e") as run:
        pass
    note = "## Result\r\n\r\n[x](javascript:alert(1)) <img src=x onerror=alert(1)> $\\alpha$"
    token = csrf_of(client, f"/runs/{run.id}")
    resp = client.post(
        f"/runs/{run.id}/note", data={"note": note, "csrf_token": token}, follow_redirects=False
    )
    assert resp.status_code == 303
    assert ml.get_run(run.id, store=st)["note"] == note.replace("\r\n", "\n")
    view = re.search(
        r'<div class="markdown" id="note-view">(.*?)</div>',
        client.get(f"/runs/{run.id}").text,
        re.S,
    )
    assert view
    assert "<h2>Result</h2>" in view.group(1)
    assert 'href="javascript' not in view.group(1) and "<img" not in view.group(1)
    assert '<span class="math">$\\alpha$</span>' in view.group(1)
    preview = client.post(
        f"/runs/{run.id}/note/preview",
        data={"note": "**b** <script>x</script>", "csrf_token": token},
    )
    assert preview.status_code == 200
    assert preview.text == "<p><strong>b</strong> &lt;script&gt;x&lt;/script&gt;</p>"
    assert ml.get_run(run.id, store=st)["note"] == note.replace("\r\n", "\n")  # unchanged


def test_read_only_tokens_see_no_write_controls(tmp_path: Path) -> None:
    settings = Settings(
        store_url=str(tmp_path / "auth.db"),
        tokens=parse_tokens(f"{READ_TOKEN}:read,{WRITE_TOKEN}:write"),
    )
    app = create_app(settings)
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as c:
        with ml.store(app.state.store), ml.run(experiment="e", tags={"t": "1"}) as run:
            pass
        reader = {"Authorization": f"Bearer {READ_TOKEN}"}
        writer = {"Authorization": f"Bearer {WRITE_TOKEN}"}
        ro = c.get(f"/runs/{run.id}", headers=reader).text
        rw = c.get(f"/runs/{run.id}", headers=writer).text
        for marker in ('id="tag-form"', 'id="note-form"', "/tags/delete"):
            assert marker not in ro
            assert marker in rw
        anonymous = c.get(f"/runs/{run.id}", follow_redirects=False)
        assert anonymous.status_code in (200, 303, 401)  # a sign-in page or a redirect to it
        assert 'id="chart-data"' not in anonymous.text
        refused = c.post(f"/runs/{run.id}/tags", data={"key": "k"}, headers=reader)
        assert refused.status_code == 403
        assert ml.get_tags(run.id, store=app.state.store) == {"t": "1"}


# -- /compare --------------------------------------------------------------------------------------
def test_compare_page_diffs_params_differing_first(client: TestClient, st: Store) -> None:
    ids = []
    with ml.store(st):
        for lr, extra in ((0.1, True), (0.01, False)):
            with ml.run(experiment="sweep", name=f"lr={lr}") as run:
                ml.log_params({"lr": lr, "epochs": 5, **({"extra": 1} if extra else {})})
                ml.log_metric("acc", lr * 5)
                ml.log_metric("acc", lr * 6)
            ids.append(run.id)
    resp = client.get("/compare", params={"ids": ",".join(ids)})
    assert resp.status_code == 200
    page = resp.text
    assert_no_inline_script(page)
    kinds = re.findall(r'<tr class="diff-(\w+)[^"]*">\s*<th>([^<]+)</th>', page)
    params = [k for k in kinds if k[1] in ("lr", "epochs", "extra")]
    assert params == [("differ", "lr"), ("partial", "extra"), ("same", "epochs")]
    data = json_block(page, "compare-data")
    assert [r["id"] for r in data["runs"]] == ids
    assert data["keys"] == ["acc"]
    assert data["metrics"]["acc"] == [pytest.approx(0.6), pytest.approx(0.06)]
    assert data["params"]["lr"] == [0.1, 0.01]
    same = client.get(f"/compare?ids={ids[0]}&ids={ids[1]}")
    assert json_block(same.text, "compare-data")["keys"] == ["acc"]


def test_compare_without_or_with_unknown_ids_explains(client: TestClient, st: Store) -> None:
    resp = client.get("/compare")
    assert resp.status_code == 200 and "Select runs" in resp.text
    unknown = client.get("/compare?ids=" + "f" * 32)
    assert unknown.status_code == 404 and "does not exist" in unknown.text
    too_many = client.get("/compare?ids=" + ",".join(f"{i:032x}" for i in range(101)))
    assert too_many.status_code == 400 and "at most 100" in too_many.text


# -- static files and markdown ---------------------------------------------------------------------
def test_static_assets_are_versioned_and_cached(client: TestClient) -> None:
    page = client.get("/runs").text
    css = re.search(r'href="(/static/app\.css\?v=([0-9a-f]{12}))"', page)
    assert css
    resp = client.get(css.group(1))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/css")
    assert "immutable" in resp.headers["cache-control"]
    assert client.get("/static/app.css?v=old").headers["cache-control"] == "no-cache"
    etag = resp.headers["etag"]
    assert client.get("/static/app.css", headers={"If-None-Match": etag}).status_code == 304
    for bad in ("/static/../__init__.py", "/static/%2e%2e/__init__.py", "/static/nope.js"):
        assert client.get(bad).status_code == 404
    vendor = client.get("/static/vendor/uplot/uPlot.iife.min.js")
    assert vendor.status_code == 200 and "javascript" in vendor.headers["content-type"]


def test_vendored_assets_match_their_manifest() -> None:
    script = Path(__file__).parents[2] / "scripts" / "fetch_ui_assets.py"
    spec = importlib.util.spec_from_file_location("fetch_ui_assets", script)
    assert spec and spec.loader
    fetcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fetcher)
    manifest = fetcher.load_manifest()
    assert fetcher.check(manifest) == []
    assert subprocess.run([sys.executable, str(script), "--check"], check=False).returncode == 0
    names = {p["npm"] for p in manifest["packages"]}
    assert names == {"uplot", "katex"}
    for package in manifest["packages"]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", package["version"])
        assert package["license"] == "MIT"
        assert package["license_file"] in package["files"]


def test_cold_runs_page_stays_small(client: TestClient, st: Store) -> None:
    make_runs(st, 50)
    page = client.get("/runs")
    total = len(page.content)
    for url in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        total += len(client.get(html.unescape(url)).content)
    assert total <= 300_000, total
    assert "katex" not in re.findall(r'<script src="([^"]+)"', page.text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**b**", "<p><strong>b</strong></p>"),
        ("<script>x</script>", "<p>&lt;script&gt;x&lt;/script&gt;</p>"),
        ("[a](javascript:alert(1))", "<p>[a](javascript:alert(1))</p>"),
        (
            "[a](https://x.test/p)",
            '<p><a href="https://x.test/p" rel="noopener noreferrer nofollow">a</a></p>',
        ),
        (
            "$a_b*c*$ and $$x_1$$",
            '<p><span class="math">$a_b*c*$</span> and <span class="math">$$x_1$$</span></p>',
        ),
        ("costs $5 and $10", "<p>costs $5 and $10</p>"),
        ("`$x$`", "<p><code>$x$</code></p>"),
        ("", ""),
    ],
)
def test_markdown_is_sanitised(text: str, expected: str) -> None:
    assert str(render_markdown(text)) == expected


def test_markdown_drops_dangerous_schemes_from_links() -> None:
    out = str(render_markdown('<a href="javascript:x">a</a> [b](data:text/html,x) [c](/runs)'))
    assert "javascript:" not in out.split("&lt;a", maxsplit=1)[
        0
    ] and "data:text" not in out.replace("(data:text", "")
    assert '<a href="/runs" rel="noopener noreferrer nofollow">c</a>' in out


def test_every_core_route_declares_one_permission(client: TestClient) -> None:
    from chachaml.server.auth import iter_routes, route_permission

    paths = {
        getattr(r, "path", ""): route_permission(r)
        for r in iter_routes(client.app.routes)  # type: ignore[attr-defined]
    }
    assert paths["/runs"] == "read" and paths["/runs/{run_id}"] == "read"
    assert paths["/compare"] == "read" and paths["/search"] == "read"
    assert paths["/static/{name:path}"] == "public"
    for path in ("/runs/{run_id}/tags", "/runs/{run_id}/tags/delete", "/runs/{run_id}/note"):
        assert paths[path] == "write"


def test_query_strings_round_trip_through_the_filter_form(client: TestClient, st: Store) -> None:
    make_runs(st, 5)
    page = client.get("/runs?experiment=odd&col=params.lr&sort=params.lr&dir=asc").text
    sort_link = re.search(r'<a href="(/runs\?[^"]+)" class="sorted">', page)
    assert sort_link
    params = dict(parse_qsl(urlsplit(html.unescape(sort_link.group(1))).query))
    assert params["experiment"] == "odd" and params["dir"] == "desc"  # clicking flips it


def test_run_page_shows_git_environment_and_datasets(client: TestClient, st: Store) -> None:
    run_id = "ab" * 16
    env = {
        "python": "3.99.1",
        "platform": "<plat>",
        "argv": ["train.py", "--lr", "0.1"],
        "git": {"sha": "0123456789abcdef" * 2 + "01234567", "branch": "feat/<x>", "dirty": True},
    }
    st.meta.create_run(NewRun(run_id, "e", "with-env", 1_700_000_000_000, "me", env=env))
    runs_api.record_dataset(
        run_id, role="train", name="iris<csv>", n_rows=150, n_cols=4, features=["a", "b"], store=st
    )
    page = client.get(f"/runs/{run_id}").text
    assert "0123456789ab" in page and "feat/&lt;x&gt;" in page and ">dirty<" in page
    assert "3.99.1" in page and "&lt;plat&gt;" in page and "train.py --lr 0.1" in page
    datasets = re.search(r'<section class="panel" id="datasets">(.*?)</section>', page, re.S)
    assert datasets
    cells = [
        " ".join(c.split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", datasets.group(1), re.S)
    ]
    assert cells[:4] == ["train", "iris&lt;csv&gt;", "150", "4"]
    assert "a, b" in cells
