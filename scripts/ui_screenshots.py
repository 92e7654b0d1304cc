"""Render a screenshot of every page of the web UI on the demo store into ``docs/ui/``.

Builds the demo store (``chachaml demo``'s workload) in a temporary directory, serves it with the
real app on 127.0.0.1, and saves a full-page PNG at 1280x800 of each page with Debian's
chromium driven by Playwright. ``docs/ui.md`` shows them.

    .venv/bin/python scripts/ui_screenshots.py [--out docs/ui] [--only runs,run]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import chachaml as ml
from chachaml.demo import run_demo
from chachaml.server.settings import Settings
from chachaml.server.testing import CHROMIUM_ARGS as BROWSER_FLAGS
from chachaml.server.testing import LiveServer, chromium_path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [*BROWSER_FLAGS, "--hide-scrollbars"]
#: True once every chart of the page is drawn (charts load when near the viewport: each one not
#: drawn yet is scrolled into view).
CHARTS_DRAWN_JS = """
() => {
  const all = (window.chachaml && window.chachaml.charts && window.chachaml.charts.all) || [];
  const waiting = all.filter((c) => !c.plot && c.note.textContent !== 'no points');
  if (waiting.length) { waiting[0].box.scrollIntoView(); return false; }
  window.scrollTo(0, 0);
  return true;
}
"""

Facts = dict[str, Any]


def demo_facts(store: ml.Store) -> Facts:
    summary = run_demo(store=store, echo=lambda _line: None)
    with ml.store(store):
        grid = ml.runs(experiment=summary["experiment"], name="grid-search", limit=1)[0]
        candidates = ml.runs(parent_run_id=grid["id"], limit=2)
    return {
        "run": summary["best_run"],
        "compare": [c["id"] for c in candidates],
        "model": summary["model"],
        "pipeline": summary["pipelines"]["retrain"],
        "failed_pipeline": summary["pipelines"]["nightly"],
    }


#: file name → path on the demo store (``None``: served from the empty store instead).
PAGES: dict[str, Callable[[Facts], str]] = {
    "runs": lambda f: "/runs",
    "run": lambda f: f"/runs/{f['run']}",
    "compare": lambda f: "/compare?" + urlencode({"ids": ",".join(f["compare"])}),
    "experiments": lambda f: "/experiments",
    "models": lambda f: "/models",
    "model": lambda f: f"/models/{quote(f['model'], safe='')}",
    "pipelines": lambda f: "/pipelines",
    "pipeline": lambda f: f"/pipelines/{f['pipeline']}",
    "pipeline-failed": lambda f: f"/pipelines/{f['failed_pipeline']}",
    "alerts": lambda f: "/alerts",
    "search-parse-error": lambda f: (
        "/search?" + urlencode({"filter": "metrics.val_accuracy >> 0.9 and params.lr = 0.1"})
    ),
    "chat": lambda f: "/chat",
    "not-found": lambda f: "/runs/" + "0" * 32,
}
EMPTY_PAGES = {"empty-store": "/runs"}


def shoot(page: Any, url: str, out: Path) -> list[str]:
    """Save ``url`` as a full-page PNG; returns the console errors seen while loading it (the
    400 of a search that does not parse and the 404 page's own status are expected)."""
    errors: list[str] = []

    def on_console(message: Any) -> None:
        expected = "status of 400" in message.text or "status of 404" in message.text
        if message.type == "error" and not (expected and message.location["url"] == url):
            errors.append(message.text)

    page.on("console", on_console)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    page.wait_for_function(CHARTS_DRAWN_JS, timeout=10_000)
    page.screenshot(path=str(out), full_page=True)
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "ui")
    parser.add_argument("--only", default="", help="comma-separated page names")
    args = parser.parse_args()
    only = {n for n in args.only.split(",") if n}
    args.out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    chromium = chromium_path() or "/usr/bin/chromium"
    problems = []
    with tempfile.TemporaryDirectory(prefix="chachaml-shots-") as tmp:
        # Runs record their working directory and git state: make them neutral (no checkout
        # path, no git status of whoever renders the screenshots).
        here = os.getcwd()
        os.chdir(tmp)
        demo_db, empty_db = f"{tmp}/demo.db", f"{tmp}/empty.db"
        with ml.open_store(demo_db, artifacts=f"{tmp}/demo-artifacts") as store:
            facts = demo_facts(store)
        ml.open_store(empty_db, artifacts=f"{tmp}/empty-artifacts").close()
        demo = LiveServer.start(Settings(store_url=demo_db, artifacts_url=f"{tmp}/demo-artifacts"))
        empty = LiveServer.start(
            Settings(store_url=empty_db, artifacts_url=f"{tmp}/empty-artifacts")
        )
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                jobs = [(n, demo.url + p(facts)) for n, p in PAGES.items()]
                jobs += [(n, empty.url + p) for n, p in EMPTY_PAGES.items()]
                for name, url in jobs:
                    if only and name not in only:
                        continue
                    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
                    out = args.out / f"{name}.png"
                    errors = shoot(ctx.new_page(), url, out)
                    ctx.close()
                    print(f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
                    problems += [f"{name}: console error: {e}" for e in errors]
                browser.close()
        finally:
            demo.stop()
            empty.stop()
            os.chdir(here)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
