"""Every page x every store state loads in a real browser with no console error or warning, no
page error, no failed request, no HTTP error and no request to another origin, and shows the
state's data (names, errors, statuses as they are stored, unicode intact)."""

from __future__ import annotations

from typing import Any

import pytest
from ui_pages import STATES, pages_of, path_of, status_of
from ui_stores import UNICODE
from ui_watch import goto

import chachaml as ml
from chachaml.errors import InvalidFilter

CASES = [(state, kind) for state in STATES for kind in pages_of(state)]


def _names(store: ml.Store, ids: list[str]) -> list[str]:
    with ml.store(store):
        return [ml.get_run(i)["name"] for i in ids]


def expected_texts(state: str, kind: str, served: Any) -> list[str]:
    """Text the page must show, computed from the store (not from the UI)."""
    facts, store = served.facts, served.store
    out: list[str] = []
    if kind == "run":
        out += _names(store, [facts["run"]])
    if kind == "compare":
        out += _names(store, facts["compare"])
    if kind == "search_parse_error":
        with pytest.raises(InvalidFilter) as caught, ml.store(store):
            ml.search_runs("metrics.loss <<< 1 and (")
        out.append(str(caught.value).splitlines()[0])
    if kind == "search_results":
        with ml.store(store):
            found = ml.search_runs("metrics.loss < 10", limit=20)
        out += [r["name"] for r in found]
    shows_error = {"failed": ("run",), "failed_pipeline": ("run", "pipeline")}
    if kind in shows_error.get(state, ()):
        out.append(facts["error"])
    if state == "running" and kind == "run":
        out.append("running")
    if state == "archived" and kind == "runs":
        with ml.store(store):
            out.append(ml.get_run(facts["visible"])["name"])
    if state == "archived" and kind == "archived_runs":
        out += _names(store, facts["archived"])
    if state == "unicode":
        u = UNICODE
        out += {
            "runs": [u["run"]],
            "experiments": [u["experiment"]],
            "models": [u["model"]],
            "model": [u["model"]],
            "run": [u["run"], u["param"], u["tag_key"], u["tag_value"], u["metric"], "ノート 📝"],
            "runs_of_experiment": [u["run"]],
            "pipelines": ["パイプライン-🚰"],
            "pipeline": ["パイプライン-🚰", "ステップ"],
            "alerts": ["警告-⚠️"],
        }.get(kind, [])
    if state == "demo":
        out += {
            "runs": ["grid-search", "baseline-majority"],
            "models": ["flowers-softmax"],
            "model": ["flowers-softmax", "production", "staging"],
            "pipelines": ["flowers-retrain", "flowers-nightly"],
            "failed_pipeline": ["3 rows have no petal width"],
            "experiments": ["flowers-logreg", "flowers-pipeline"],
            "alerts": ["weak-flowers-model"],
        }.get(kind, [])
    return out


@pytest.mark.parametrize(("state", "kind"), CASES, ids=[f"{s}-{k}" for s, k in CASES])
def test_page_loads_clean(servers: Any, open_tab: Any, state: str, kind: str) -> None:
    served = servers.get(state)
    tab = open_tab(served)
    path = path_of(kind, served.facts)
    goto(tab.page, tab.watch, path, status=status_of(kind))
    tab.watch.assert_clean(f"{state} {path}")
    assert tab.page.title().strip(), f"{path} has no <title>"
    text = tab.page.inner_text("body")
    missing = [t for t in expected_texts(state, kind, served) if t not in text]
    assert not missing, f"{state} {path} does not show {missing}"


def test_archived_runs_hidden_by_default(servers: Any, open_tab: Any) -> None:
    served = servers.get("archived")
    tab = open_tab(served)
    goto(tab.page, tab.watch, "/runs")
    text = tab.page.inner_text("body")
    hidden = [n for n in _names(served.store, served.facts["archived"]) if n in text]
    assert not hidden, f"archived runs listed by default: {hidden}"


@pytest.mark.parametrize("path", ["/runs/" + "0" * 32, "/no-such-page", "/models/no-such-model"])
def test_not_found_page(servers: Any, open_tab: Any, path: str) -> None:
    served = servers.get("empty")
    tab = open_tab(served)
    goto(tab.page, tab.watch, path, status=404)
    tab.watch.assert_clean(path)
    text = tab.page.inner_text("body").lower()
    assert "not found" in text or "404" in text, text[:300]
    assert tab.page.locator("a[href='/runs'], a[href='/']").count() > 0, "no way back"


def test_empty_store_explains_how_to_start(servers: Any, open_tab: Any) -> None:
    """The empty /runs page says how to log a first run (not a bare empty table)."""
    served = servers.get("empty")
    tab = open_tab(served)
    goto(tab.page, tab.watch, "/runs")
    text = tab.page.inner_text("body")
    assert "ml.run" in text or "chachaml demo" in text, text[:500]


def test_pages_work_without_javascript(browser: Any, servers: Any) -> None:
    """Reading works with JavaScript disabled (SPEC §5): the runs table and a run's params."""
    served = servers.get("demo")
    ctx = browser.new_context(java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.goto(served.url + "/runs")
        assert "grid-search" in page.inner_text("body")
        page.goto(served.url + f"/runs/{served.facts['run']}")
        with ml.store(served.store):
            params = ml.get_run(served.facts["run"])["params"]
        text = page.inner_text("body")
        assert all(k in text for k in params), params
    finally:
        ctx.close()


def test_runs_page_follows_a_run_that_finishes(servers: Any, open_tab: Any) -> None:
    """The status of a running run on /runs updates by itself when the run ends (no reload)."""
    served = servers.get("running")
    handle = served.facts["handles"][1]  # the live-chart test uses the first one
    tab = open_tab(served)
    goto(tab.page, tab.watch, "/runs")
    cell = tab.page.locator(f"[data-status-of='{handle.id}']")
    assert cell.inner_text().strip() == "running"
    navigations = []
    tab.page.on("framenavigated", lambda frame: navigations.append(frame.url))
    handle.end(status="killed", error="stopped by the test")
    tab.page.wait_for_function(
        "(id) => document.querySelector(`[data-status-of='${id}']`).innerText.trim() === 'killed'",
        arg=handle.id,
        timeout=15_000,
    )
    assert not navigations, f"the page reloaded instead of updating: {navigations}"
    tab.watch.assert_clean()
