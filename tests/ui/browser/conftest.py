"""Browser tests of the web UI: Debian's Chromium driven by Playwright (sync API).

One browser per session, one live server (the real app under uvicorn, in a thread on 127.0.0.1)
per store state, built lazily on first use and kept for the session, and a fresh browser context
per test. Without a browser the tests skip; with ``CI=true`` they fail (``backends.unavailable``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ui_stores import SEEDERS, Facts
from ui_watch import INIT_SCRIPT, PageWatch

import chachaml as ml
from backends import unavailable
from chachaml.server.settings import Settings
from chachaml.server.testing import CHROMIUM_ARGS, LiveServer, chromium_path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the browser tests need the playwright package (pip install playwright)")
    path = chromium_path()
    if path is None:
        unavailable("the browser tests need Debian's chromium package (apt-get install chromium)")
    pw = sync_playwright().start()
    try:
        launched = pw.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))
    except Exception as exc:
        pw.stop()
        unavailable(f"chromium at {path} does not start: {exc}")
    yield launched
    launched.close()
    pw.stop()


@dataclass
class Served:
    """A store state served by a live server: its URL, the facts its seeder returned, the store
    the test process writes through (a second connection to the server's database)."""

    state: str
    url: str
    facts: Facts
    store: ml.Store
    server: LiveServer


class Servers:
    """Builds each store state (and its server) on first use; stops everything at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.served: dict[str, Served] = {}

    def get(self, state: str) -> Served:
        if state not in self.served:
            folder = self.root / state
            folder.mkdir(parents=True, exist_ok=True)
            db, artifacts = str(folder / "ui.db"), str(folder / "artifacts")
            store = ml.open_store(db, artifacts=artifacts)
            facts = SEEDERS[state](store)
            server = LiveServer.start(Settings(store_url=db, artifacts_url=artifacts))
            self.served[state] = Served(state, server.url, facts, store, server)
        return self.served[state]

    def close(self) -> None:
        for served in self.served.values():
            for handle in served.facts.get("handles", []):
                if not handle.ended:
                    handle.end()
            served.server.stop()
            served.store.close()
        self.served.clear()


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    registry = Servers(tmp_path_factory.mktemp("ui-stores"))
    yield registry
    registry.close()


@pytest.fixture(scope="session")
def demo(servers: Servers) -> Served:
    return servers.get("demo")


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    ctx.add_init_script(INIT_SCRIPT)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@dataclass
class Tab:
    """A page and what it recorded; ``origin`` is set by :func:`open_tab`."""

    page: Any
    watch: PageWatch


@pytest.fixture
def open_tab(context: Any) -> Any:
    """``open_tab(served)`` → a new page of the test's context watched against ``served``."""

    def make(served: Served) -> Tab:
        page = context.new_page()
        watch = PageWatch(origin=served.url)
        watch.attach(page)
        return Tab(page, watch)

    return make
