"""A real webhook receiver for the alert tests and docs: ``http.server`` on 127.0.0.1 in a thread.

>>> with Receiver() as hook:            # doctest: +SKIP
...     hook.script(500, 200)           # first answer 500, then 200 (then 200 forever)
...     ml.set_alert("a", "loss", ">", 1, webhook_url=hook.url)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Records every POST (path, JSON body, arrival time); answers from a script of
    ``status`` or ``(status, headers, delay_s)`` items, then 200."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._script: list[tuple[int, dict[str, str], float]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(
                        {
                            "path": self.path,
                            "body": json.loads(raw or b"null"),
                            "at": time.monotonic(),
                        }
                    )
                    status, headers, delay = (
                        receiver._script.pop(0) if receiver._script else (200, {}, 0.0)
                    )
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/T000/SECRET-TOKEN"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def script(self, *answers: int | tuple[int, dict[str, str], float]) -> None:
        with self._lock:
            for a in answers:
                self._script.append((a, {}, 0.0) if isinstance(a, int) else a)

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r["body"] for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def receivers() -> Iterator[Receiver]:  # pragma: no cover - convenience for fixtures
    with Receiver() as r:
        yield r
