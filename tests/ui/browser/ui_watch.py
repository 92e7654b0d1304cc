"""What a browser page did: console errors, page errors, failed requests, foreign requests,
dialogs and CSP violations, recorded from Playwright events; plus page helpers shared by the
browser tests (navigation that waits for the network to settle, reading chart data).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: Runs before any page script: records CSP violations so a payload that became live markup is
#: caught even when the CSP stopped it from running.
INIT_SCRIPT = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push({directive: e.violatedDirective, blocked: e.blockedURI,
                               sample: e.sample});
});
"""

#: Schemes that are not network requests to an origin.
_LOCAL_SCHEMES = ("data", "blob", "about")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class PageWatch:
    """Everything worth failing a test on, as it happens on one page (and its context)."""

    origin: str
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bad_status: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)
    inflight: int = 0
    allowed_status: set[tuple[str, int]] = field(default_factory=set)

    def attach(self, page: Any) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("request", self._on_request)
        page.on("requestfinished", self._on_done)
        page.on("requestfailed", self._on_failed)
        page.on("response", self._on_response)
        page.on("dialog", self._on_dialog)

    def _on_console(self, msg: Any) -> None:
        url = msg.location.get("url", "")
        # Chromium reports every HTTP error status as a console error: an expected one is not.
        status = re.search(r"status of (\d+)", msg.text)
        if status and (urlsplit(url).path, int(status.group(1))) in self.allowed_status:
            return
        if msg.type in ("error", "warning"):
            self.console.append(f"{msg.type}: {msg.text} @ {msg.location.get('url', '')}")

    def _on_request(self, request: Any) -> None:
        self.requests.append(request)
        url = request.url
        if urlsplit(url).scheme in _LOCAL_SCHEMES:
            return
        self.inflight += 1
        if origin_of(url) != self.origin:
            self.foreign.append(url)

    def _on_done(self, request: Any) -> None:
        if urlsplit(request.url).scheme not in _LOCAL_SCHEMES:
            self.inflight -= 1

    def _on_failed(self, request: Any) -> None:
        if urlsplit(request.url).scheme not in _LOCAL_SCHEMES:
            self.inflight -= 1
        failure = request.failure or ""
        # A navigation away (or a download) aborts the requests still in flight: not a failure.
        if "ERR_ABORTED" not in failure:
            self.failed.append(f"{request.method} {request.url}: {failure}")

    def _on_response(self, response: Any) -> None:
        status = response.status
        path = urlsplit(response.url).path
        if status >= 400 and (path, status) not in self.allowed_status:
            self.bad_status.append(f"{status} {response.request.method} {response.url}")

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        if dialog.type in ("confirm", "prompt", "beforeunload"):
            return  # a test that expects a confirmation handles it itself
        dialog.dismiss()

    def allow(self, path: str, status: int) -> None:
        """``path`` answering ``status`` is what the test expects (e.g. the 404 page)."""
        self.allowed_status.add((path, status))

    def problems(self, *, dialogs: bool = True) -> list[str]:
        out = [f"console {m}" for m in self.console]
        out += [f"page error: {m}" for m in self.page_errors]
        out += [f"request failed: {m}" for m in self.failed]
        out += [f"HTTP {m}" for m in self.bad_status]
        out += [f"request to another origin: {m}" for m in self.foreign]
        if dialogs:
            out += [f"dialog {m}" for m in self.dialogs]
        return out

    def assert_clean(self, what: str = "the page") -> None:
        problems = self.problems()
        assert not problems, f"{what}:\n  " + "\n  ".join(problems)

    def reset(self) -> None:
        for name in ("console", "page_errors", "failed", "bad_status", "foreign", "dialogs"):
            getattr(self, name).clear()

    def settle(self, page: Any, timeout: float = 10.0) -> None:
        """Wait (polling with a deadline) until the page loaded and no request is in flight."""
        page.wait_for_load_state("load", timeout=timeout * 1000)
        deadline = time.monotonic() + timeout
        while self.inflight > 0:
            assert time.monotonic() < deadline, f"{self.inflight} requests still in flight"
            page.wait_for_timeout(20)  # lets Playwright deliver events; the condition decides


def goto(page: Any, watch: PageWatch, path: str, *, status: int = 200) -> Any:
    """Navigate to ``path`` of the server, check the document's status, wait until settled."""
    if status != 200:
        watch.allow(urlsplit(path).path, status)
    response = page.goto(watch.origin + path, wait_until="load")
    assert response is not None, path
    assert response.status == status, f"{path}: HTTP {response.status}"
    watch.settle(page)
    return response


# -- Charts ---------------------------------------------------------------------------------------
#: The page's chart objects: ``window.chachaml.charts.all`` (charts.js), each with ``key`` (the
#: metric), ``box`` (its element) and ``plot`` (the uPlot instance, once drawn).
ALL_CHARTS = "((window.chachaml && window.chachaml.charts && window.chachaml.charts.all) || [])"

#: Every chart as plain data: key, x values and each series as plotted, the x range, y scale.
CHARTS_JS = f"""
() => {ALL_CHARTS}.map((c) => {{
  const u = c.plot;
  if (!u) return {{key: c.key, drawn: false, xs: [], series: []}};
  const data = u.data || [];
  const x = u.scales.x || {{}}, y = u.scales.y || {{}};
  return {{key: c.key, drawn: true, xs: Array.from(data[0] || []),
          series: data.slice(1).map((s) => Array.from(s || [])),
          xmin: x.min, xmax: x.max, ydistr: y.distr}};
}})
"""

#: True once the chart of metric ``key`` plots at least ``n`` points (scrolls it into view first:
#: charts load their data when they come near the viewport).
HAS_POINTS_JS = f"""
([key, n]) => {{
  const c = {ALL_CHARTS}.find((c) => c.key === key);
  if (!c) return false;
  if (!c.plot) {{ c.box.scrollIntoView({{block: 'center'}}); return false; }}
  return c.plot.data[0].length >= n;
}}
"""

#: The plot area (uPlot's ``over`` element) of the chart of ``key``, in viewport coordinates.
OVER_RECT_JS = f"""
(key) => {{
  const u = {ALL_CHARTS}.find((c) => c.key === key).plot;
  u.root.scrollIntoView({{block: 'center'}});
  const r = u.over.getBoundingClientRect();
  return {{x: r.left, y: r.top, width: r.width, height: r.height}};
}}
"""


def charts(page: Any) -> list[dict[str, Any]]:
    """The page's charts as plain data."""
    result: list[dict[str, Any]] = page.evaluate(CHARTS_JS)
    return result


def wait_points(page: Any, key: str, n: int, timeout_ms: float = 10_000) -> None:
    """Wait (a polled condition) until the chart of ``key`` plots at least ``n`` points."""
    page.wait_for_function(HAS_POINTS_JS, arg=[key, n], timeout=timeout_ms)
