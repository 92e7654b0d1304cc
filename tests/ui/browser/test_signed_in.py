"""A server started with tokens, used from the browser: sign in through /login, then everything
that writes works from the session cookie (the chat page's fetch, the note preview's fetch and
the tag forms send the page's CSRF token), a write without the token is refused, and the top
bar's sign-out ends the session."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ui_watch import goto

import chachaml as ml
from chachaml.server.settings import Settings, parse_tokens
from chachaml.server.testing import LiveServer

if str(Path(__file__).resolve().parents[2] / "server") not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parents[2] / "server"))
if str(Path(__file__).resolve().parents[2] / "chat") not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parents[2] / "chat"))
import fake_llm
from server_helpers import READ_TOKEN, WRITE_TOKEN

#: A fetch from the page that writes without the X-CSRF-Token header; answers its HTTP status.
POST_WITHOUT_TOKEN = """
async (body) => (await fetch("/api/chat", {method: "POST", credentials: "same-origin",
  headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})).status
"""


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str, Any]]:
    """A live server with a read and a write token over a store with one run."""
    folder = tmp_path_factory.mktemp("ui-signed-in")
    db, artifacts = str(folder / "ui.db"), str(folder / "artifacts")
    store = ml.open_store(db, artifacts=artifacts)
    with ml.store(store), ml.run(experiment="guarded", name="first") as run:
        ml.log_metric("loss", 0.5, step=0)
        ml.log_tag("kept", "yes")
    tokens = parse_tokens(f"{READ_TOKEN}:read,{WRITE_TOKEN}:write")
    server = LiveServer.start(Settings(store_url=db, artifacts_url=artifacts, tokens=tokens))
    yield server, run.id, store
    server.stop()
    store.close()


def sign_in(tab: Any, token: str, next_path: str) -> None:
    tab.watch.allow("/login", 401)
    tab.page.goto(tab.watch.origin + next_path, wait_until="load")  # → /login?next=...
    assert tab.page.url.startswith(tab.watch.origin + "/login"), tab.page.url
    tab.page.locator("#token").fill(token)
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Sign in").click()
    tab.watch.settle(tab.page)


def test_signed_in_session_writes_through_csrf_token_and_signs_out(
    guarded: tuple[LiveServer, str, Any], open_tab: Any
) -> None:
    server, run_id, store = guarded
    tab = open_tab(SimpleNamespace(url=server.url))
    page = tab.page
    sign_in(tab, WRITE_TOKEN, f"/runs/{run_id}")
    assert page.url == f"{server.url}/runs/{run_id}"
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token and len(token) == 64
    assert page.locator("#logout").is_visible()

    # Tags: a form POST with the token field, on the session cookie.
    page.get_by_label("Key", exact=True).fill("reviewed")
    page.get_by_label("Value", exact=True).fill("ana")
    with page.expect_navigation():
        page.get_by_role("button", name="Add tag").click()
    tab.watch.settle(page)
    with ml.store(store):
        assert ml.get_tags(run_id) == {"kept": "yes", "reviewed": "ana"}
    with page.expect_navigation():
        page.get_by_role("button", name="Remove tag reviewed").click()
    tab.watch.settle(page)
    with ml.store(store):
        assert ml.get_tags(run_id) == {"kept": "yes"}

    # The note preview: a fetch POST with the X-CSRF-Token header.
    page.locator("#note-editor summary").click()
    page.locator("#note-text").fill("**bold** words")
    page.get_by_role("button", name="Preview").click()
    page.locator("#note-preview strong", has_text="bold").wait_for()

    # Chat: POST /api/chat from chat.js with the header, against the fake OpenAI server.
    llm = fake_llm.FakeLLM()
    try:
        llm.script(fake_llm.openai_text(f"The only run is {run_id}."))
        goto(page, tab.watch, "/chat")
        page.locator("#chat-question").fill("Which runs are there?")
        page.locator("#chat-settings summary").click()
        page.locator("#chat-provider").select_option("openai")
        page.locator("#chat-base-url").fill(llm.v1)
        page.locator("#chat-model").fill("local-model")
        page.locator("#chat-send").click()
        answer = page.locator("#chat-log .chat-answer", has_text="The only run is")
        answer.wait_for(timeout=20_000)
        tab.watch.settle(page)
        assert llm.left == 0 and not llm.unexpected, llm.unexpected
        assert answer.locator("a").get_attribute("href") == f"/runs/{run_id}"
        # The same write without the header is refused: the header is what made it pass.
        tab.watch.allow("/api/chat", 403)
        status = page.evaluate(POST_WITHOUT_TOKEN, {"question": "x", "provider": "openai"})
        assert status == 403
        assert llm.left == 0 and len(llm.requests) == 1  # the refused one never reached it
    finally:
        llm.close()

    # Sign out from the top bar: back to /login, and the pages ask to sign in again.
    with page.expect_navigation():
        page.locator("#logout").click()
    tab.watch.settle(page)
    assert page.url.startswith(server.url + "/login"), page.url
    assert page.locator("#logout").count() == 0
    page.goto(f"{server.url}/runs/{run_id}", wait_until="load")
    assert page.url.startswith(server.url + "/login?next="), page.url
    tab.watch.assert_clean()


def test_read_only_session_shows_the_badge_and_sign_out(
    guarded: tuple[LiveServer, str, Any], open_tab: Any
) -> None:
    server, _run_id, _store = guarded
    tab = open_tab(SimpleNamespace(url=server.url))
    sign_in(tab, READ_TOKEN, "/runs")
    bar = tab.page.locator(".topbar-right")
    assert "read-only" in bar.inner_text()
    assert tab.page.locator("#logout").is_visible()
    assert tab.page.get_by_role("button", name="Add tag").count() == 0
    tab.watch.assert_clean()
