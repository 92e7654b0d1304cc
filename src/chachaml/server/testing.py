"""Run the server on loopback in a background thread (for tests, benchmarks and notebooks).

>>> from chachaml.server.testing import LiveServer
>>> with LiveServer.start(Settings(store_url="sqlite:///x.db")) as live:  # doctest: +SKIP
...     ml.use_store(live.url)
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from types import TracebackType
from typing import Any

from chachaml.errors import StoreUnavailable
from chachaml.server.settings import Settings
from chachaml.store import Store

__all__ = ["CHROMIUM_ARGS", "LiveServer", "chromium_path", "free_port"]

#: Flags for driving Debian's Chromium headless (browser tests, the UI benchmark, screenshots):
#: no sandbox (containers) and nothing that contacts another host on its own.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def chromium_path() -> str | None:
    """``CHACHAML_CHROMIUM``, else ``chromium`` on the PATH, else Debian's ``/usr/bin/chromium``
    (None when there is none)."""
    explicit = os.environ.get("CHACHAML_CHROMIUM")
    if explicit:
        return explicit if os.path.exists(explicit) else None
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A uvicorn server in a daemon thread; :meth:`stop` and :meth:`restart` (same port)."""

    def __init__(self, settings: Settings, port: int, store: Store | None = None) -> None:
        self.settings = settings
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._store = store
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app: Any = None

    @classmethod
    def start(
        cls, settings: Settings, *, port: int | None = None, store: Store | None = None
    ) -> LiveServer:
        live = cls(settings, port or free_port(), store)
        live.run()
        return live

    def run(self, timeout: float = 20.0) -> None:
        """Start serving; returns once the server accepts connections."""
        import uvicorn

        from chachaml.server.app import create_app

        self.app = create_app(self.settings, store=self._store)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="chachaml-live", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise StoreUnavailable(f"the server on port {self.port} failed to start")
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"the server on port {self.port} did not start in time")
            time.sleep(0.01)  # polling for readiness with a deadline

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=20)
        self._server = None
        self._thread = None

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
