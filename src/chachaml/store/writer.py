"""The background metric writer: why ``log_metric`` costs microseconds.

``log_metric`` appends a point tuple to an in-memory deque (thread-safe, no lock) and returns.
A daemon thread per store drains the deque into the metadata store in one transaction

- every ``FLUSH_INTERVAL`` seconds (0.5 s) while points are waiting,
- as soon as ``HIGH_WATER`` points are waiting,
- on ``end_run`` (which returns only after the run's points are committed),
- on ``Store.close()`` and at interpreter exit (``atexit``).

Durability contract: a point is on disk at most ~1 s after ``log_metric`` returned, so a
``kill -9`` loses at most the last second of points; anything before ``end_run`` returned is
durable. If ``MAX_BUFFER`` points are waiting (the store is slower than the training loop),
``log_metric`` writes synchronously: memory stays bounded and nothing is dropped.

The same thread refreshes the heartbeat of this process's running runs, which is how readers tell
a live run from one whose process died (``crashed``).
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections import deque
from typing import Any

from chachaml import config
from chachaml.errors import NotFound
from chachaml.store.protocol import MetadataStore, MetricPoint


def _log() -> Any:
    import logging

    return logging.getLogger("chachaml")


FLUSH_INTERVAL = config.get("CHACHAML_FLUSH_INTERVAL")
HEARTBEAT_INTERVAL = config.get("CHACHAML_HEARTBEAT_INTERVAL")
HIGH_WATER = 50_000
MAX_BUFFER = 1_000_000

_WRITERS: weakref.WeakSet[MetricWriter] = weakref.WeakSet()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class MetricWriter:
    """Buffers metric points for one metadata store and writes them from a daemon thread."""

    def __init__(self, meta: MetadataStore) -> None:
        self.meta = meta
        self.buffer: deque[MetricPoint] = deque()
        self.active_runs: set[str] = set()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._error: BaseException | None = None
        self._last_beat = 0.0
        _WRITERS.add(self)

    # The hot path calls this after each append; keep it tiny.
    def pressure(self) -> None:
        """Called when the buffer is large: wake the thread, or write here if it is full."""
        if len(self.buffer) >= MAX_BUFFER:
            self.flush()
        elif not self._wake.is_set():  # setting an Event takes a lock: only once per wake-up
            self._wake.set()

    def start(self) -> None:
        if os.getpid() != self._pid:
            self._after_fork()
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = threading.Thread(
                target=self._loop, name="chachaml-metric-writer", daemon=True
            )
            self._thread.start()

    def _after_fork(self) -> None:
        # The parent owns (and will flush) the points it buffered; the child starts empty.
        self.buffer.clear()
        self.active_runs.clear()
        self._thread = None
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = os.getpid()

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            try:
                self.flush()
                self._beat_if_due()
            except Exception as exc:  # keep the thread alive; end_run reports the error
                _log().warning("chachaml: background metric write failed (will retry): %s", exc)

    def _beat_if_due(self) -> None:
        now = time.monotonic()
        if self.active_runs and now - self._last_beat >= HEARTBEAT_INTERVAL:
            self._last_beat = now
            self.meta.heartbeat(sorted(self.active_runs), _now_ms())

    def flush(self) -> None:
        """Write every buffered point now; raise the last write error if points are still held."""
        if os.getpid() != self._pid:
            self._after_fork()
            return
        with self._flush_lock:
            buf = self.buffer
            n = len(buf)
            if n == 0:
                return
            popleft = buf.popleft
            points = [popleft() for _ in range(n)]
            try:
                self._write(points)
            except BaseException as exc:
                # Put the points back in front, in order, so nothing is lost; retry later.
                buf.extendleft(reversed(points))
                self._error = exc
                raise
            self._error = None

    def _write(self, points: list[MetricPoint]) -> None:
        try:
            self.meta.log_metrics(points)
        except NotFound:
            # A run was deleted while it still had buffered points: write the other runs' points
            # and drop that run's (they can never be stored), instead of blocking every later flush.
            by_run: dict[str, list[MetricPoint]] = {}
            for point in points:
                by_run.setdefault(point[0], []).append(point)
            for run_id, run_points in by_run.items():
                try:
                    self.meta.log_metrics(run_points)
                except NotFound:
                    self.active_runs.discard(run_id)
                    _log().warning(
                        "chachaml: dropped %d metric points of run %s, which no longer exists",
                        len(run_points),
                        run_id,
                    )

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self._thread = None
        self.flush()


def flush_all() -> None:
    """Flush every live writer (registered with ``atexit``)."""
    for writer in list(_WRITERS):
        try:
            writer.stop()
        except Exception as exc:
            _log().error("chachaml: could not write buffered metrics at exit: %s", exc)


atexit.register(flush_all)
