"""Stored XSS, checked in a real browser (SPEC §13): the corpus of ``ui_stores.XSS_PAYLOADS``
and ``XSS_MARKDOWN`` sits in every user-controlled field (run, experiment, model, pipeline, step
and alert names, params, tags, metric keys, datasets, notes, descriptions, artifact names and
contents, error text). On every page that shows them no script runs: no dialog, no
``window.__xss`` in any frame, no console marker, and not even a CSP violation (a violation
means a payload became live markup and only the CSP stopped it). Links rendered from markdown
are hovered and clicked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from ui_pages import every_page
from ui_stores import XSS_GLOBAL, XSS_MARKER, XSS_PAYLOADS
from ui_watch import goto

import chachaml as ml

#: The DOM after rendering: inline event handlers, script elements that are neither external
#: nor JSON data, frames with inline documents, and links or form targets with a script URL.
DOM_AUDIT_JS = r"""
() => {
  const bad = [];
  const scheme = (v) => (v || '').replace(/[\u0000-\u0020]/g, '').toLowerCase();
  const scripty = (v) => /^(javascript|vbscript|data):/.test(scheme(v));
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.getAttributeNames()) {
      if (attr.startsWith('on')) bad.push(`${el.tagName} has handler ${attr}`);
      if (['href', 'src', 'action', 'formaction', 'xlink:href', 'data'].includes(attr)
          && scripty(el.getAttribute(attr)))
        bad.push(`${el.tagName} ${attr}=${el.getAttribute(attr)}`);
    }
    if (el.tagName === 'SCRIPT' && !el.src && el.type !== 'application/json')
      bad.push(`inline script: ${el.textContent.slice(0, 80)}`);
    if (['IFRAME', 'OBJECT', 'EMBED'].includes(el.tagName)) bad.push(`${el.tagName} element`);
    if (el.tagName === 'svg' && el.closest('.markdown, .note, [data-markdown]'))
      bad.push('svg inside rendered markdown');
  }
  return bad;
}
"""

STATE_JS = """
() => ({xss: typeof window.__xss !== 'undefined', csp: window.__cspViolations || []})
"""


def _run_pages(facts: dict[str, Any]) -> list[tuple[str, int]]:
    ids = [*facts["runs"], *facts["failed"]]
    return [(f"/runs/{i}", 200) for i in ids]


def check_no_script_ran(tab: Any, path: str) -> None:
    page, watch = tab.page, tab.watch
    for frame in page.frames:
        state = frame.evaluate(STATE_JS)
        assert not state["xss"], f"{path}: a payload ran (window.{XSS_GLOBAL} set)"
        assert not state["csp"], f"{path}: payload markup went live (CSP violation) {state['csp']}"
    assert not watch.dialogs, f"{path}: a payload opened a dialog {watch.dialogs}"
    marked = [m for m in watch.console if XSS_MARKER in m]
    assert not marked, f"{path}: a payload logged {marked}"
    audit = page.evaluate(DOM_AUDIT_JS)
    assert not audit, f"{path}: live markup from user data: {audit}"


def poke_links(tab: Any, path: str) -> None:
    """Hover every link rendered from markdown (notes, descriptions); click each one whose
    target is not an ordinary http(s) URL (a surviving ``javascript:`` link runs on click; one
    without ``href`` does nothing). Ordinary links are only hovered: they would navigate away,
    and the DOM audit has already checked every ``href``."""
    page = tab.page
    links = page.locator(".markdown a")
    for i in range(links.count()):
        link = links.nth(i)
        if not link.is_visible():
            continue
        link.hover()
        href = link.evaluate("(a) => a.href || ''")
        if href.startswith(("http://", "https://")):
            continue
        link.click(no_wait_after=True)
        check_no_script_ran(tab, f"{path} after clicking link #{i} ({href!r})")


def sweep(tab: Any, paths: list[tuple[str, int]]) -> None:
    for path, status in paths:
        goto(tab.page, tab.watch, path, status=status)
        check_no_script_ran(tab, path)
        poke_links(tab, path)
    # No payload may be a console error either (e.g. a broken inline script or JSON block).
    tab.watch.assert_clean("the XSS pages")


#: Listings filtered so that every payload-carrying run shows (filters echo user text too).
FILTERED = [
    ("/runs?" + urlencode({"filter": 'tags.reviewer != ""'}), 200),
    ("/search?" + urlencode({"filter": 'tags.reviewer != "" or name like "%script%"'}), 200),
]


@pytest.mark.parametrize("which", ["list-and-detail-pages", "run-pages"])
def test_no_payload_runs(servers: Any, open_tab: Any, which: str) -> None:
    served = servers.get("xss")
    tab = open_tab(served)
    facts = served.facts
    paths = every_page(facts) + FILTERED if which == "list-and-detail-pages" else _run_pages(facts)
    sweep(tab, paths)


def test_payloads_are_shown_as_text(servers: Any, open_tab: Any) -> None:
    """Escaping, not stripping: a run page shows its name, params and error text literally."""
    served = servers.get("xss")
    tab = open_tab(served)
    for run_id in served.facts["runs"][:3] + served.facts["failed"][:1]:
        goto(tab.page, tab.watch, f"/runs/{run_id}")
        with ml.store(served.store):
            run = ml.get_run(run_id)
        text = tab.page.inner_text("body")
        expected = [run["name"], *run["params"]]
        if run["error"]:
            expected.append(XSS_PAYLOADS[served.facts["failed"].index(run_id)])
        missing = [e for e in expected if e not in text]
        assert not missing, f"/runs/{run_id} does not show {missing} as text"


@pytest.mark.parametrize("name", ["evil.html", "evil.svg"])
def test_active_artifacts_never_render_inline(servers: Any, open_tab: Any, name: str) -> None:
    """HTML and SVG artifacts are downloaded when their link is clicked, never rendered in the
    app's origin; the run page shows no preview that could run their scripts."""
    served = servers.get("xss")
    tab = open_tab(served)
    path = f"/runs/{served.facts['artifacts_run']}"
    goto(tab.page, tab.watch, path)
    check_no_script_ran(tab, path)
    link = tab.page.locator(f"a[href*='{name}']").first
    with tab.page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.endswith(name.rsplit(".", 1)[1])
    check_no_script_ran(tab, f"{path} after downloading {name}")


def _fake_llm() -> Any:
    """``tests/chat/fake_llm.py``: the OpenAI wire format on 127.0.0.1 (the chat tests' own)."""
    chat_tests = str(Path(__file__).resolve().parents[2] / "chat")
    if chat_tests not in sys.path:
        sys.path.insert(0, chat_tests)
    import fake_llm

    return fake_llm


def test_chat_answers_are_text(servers: Any, open_tab: Any) -> None:
    """A model answer (and the tool results it saw) full of payloads is shown as text."""
    fake_llm = _fake_llm()
    served = servers.get("xss")
    run_id = served.facts["run"]
    answer = "\n".join([*XSS_PAYLOADS, "[xss-link](javascript:window.__xss=1)", run_id, "END"])
    llm = fake_llm.FakeLLM()
    try:
        llm.script(fake_llm.openai_tools(("list_runs", {"limit": 3})), fake_llm.openai_text(answer))
        tab = open_tab(served)
        goto(tab.page, tab.watch, "/chat")
        page = tab.page
        page.locator("#chat-question").fill("Which runs are there?")
        page.locator("#chat-settings summary").click()
        page.locator("#chat-provider").select_option("openai")
        page.locator("#chat-base-url").fill(llm.v1)
        page.locator("#chat-model").fill("local-model")
        page.locator("#chat-key").fill("sk-local-test")
        page.locator("#chat-send").click()
        page.locator("#chat-log .chat-answer", has_text="END").wait_for(timeout=20_000)
        tab.watch.settle(page)
        assert not llm.unexpected and llm.left == 0, llm.unexpected
        log_text = page.locator("#chat-log").inner_text()
        assert all(p in log_text for p in XSS_PAYLOADS), log_text[:500]
        check_no_script_ran(tab, "/chat")
        # The run id in the answer became a link to the run; nothing else did.
        hrefs = page.locator("#chat-log a").evaluate_all("links => links.map(a => a.href)")
        assert f"{served.url}/runs/{run_id}" in hrefs, hrefs
        assert all(h.startswith(served.url + "/runs/") for h in hrefs), hrefs
        tab.watch.assert_clean("/chat")
    finally:
        llm.close()
