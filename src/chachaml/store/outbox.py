"""The remote store's outbox: metric batches the server could not take yet, kept in a local
SQLite file (``$CHACHAML_OUTBOX_DIR`` or ``~/.cache/chachaml``, one file per server URL) in
order, each with the idempotency key it was created with."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time

__all__ = ["Outbox", "outbox_path"]


def outbox_path(url: str) -> str:
    """The outbox file for a server URL."""
    root = os.environ.get("CHACHAML_OUTBOX_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "chachaml"
    )
    digest = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]
    return os.path.join(root, f"outbox-{digest}.db")


class Outbox:
    """Metric batches waiting for the server, in order, each with its idempotency key."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self, create: bool) -> sqlite3.Connection | None:
        if self._conn is None:
            if not create and not os.path.exists(self.path):
                return None
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                "idem TEXT NOT NULL, body BLOB NOT NULL, created REAL NOT NULL)"
            )
            conn.commit()
            self._conn = conn
        return self._conn

    def append(self, idem: str, body: bytes) -> None:
        with self._lock:
            conn = self._db(create=True)
            assert conn is not None
            with conn:
                conn.execute(
                    "INSERT INTO outbox (idem, body, created) VALUES (?, ?, ?)",
                    (idem, body, time.time()),
                )

    def first(self) -> tuple[int, str, bytes] | None:
        with self._lock:
            conn = self._db(create=False)
            if conn is None:
                return None
            row = conn.execute("SELECT seq, idem, body FROM outbox ORDER BY seq LIMIT 1").fetchone()
            return None if row is None else (int(row[0]), str(row[1]), bytes(row[2]))

    def remove(self, seq: int) -> None:
        with self._lock:
            conn = self._db(create=False)
            if conn is not None:
                with conn:
                    conn.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def count(self) -> int:
        with self._lock:
            conn = self._db(create=False)
            if conn is None:
                return 0
            return int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
