"""SQLite metadata store: the zero-setup default.

Connections: one writer connection per process (guarded by a lock, every write is a
``BEGIN IMMEDIATE`` transaction so concurrent processes queue on ``busy_timeout`` instead of
failing) and one reader connection per thread (WAL: readers never block the writer). Every
connection gets ``busy_timeout``, ``foreign_keys`` and ``synchronous=NORMAL``.

Durability: with WAL and ``synchronous=NORMAL`` a committed transaction survives a crash of the
process (``kill -9``); set ``CHACHAML_SQLITE_SYNC=FULL`` to also survive power loss.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from chachaml import config
from chachaml.errors import InvalidInput, StoreUnavailable
from chachaml.store.migrations import SQLITE_MIGRATIONS, Migration, apply_pending
from chachaml.store.sqlbase import SQLStoreBase
from chachaml.store.sqlconn import Conn

STATS_MIN_RUNS = 1000  # smaller stores plan well without statistics
BUSY_TIMEOUT_MS = int(config.get("CHACHAML_SQLITE_BUSY_TIMEOUT_MS"))
# Page cache per connection, filled only as pages are read (SQLite's default is 2 MiB, which a
# store of 10,000 runs outgrows: queries then re-read pages from the OS on every call).
CACHE_KIB = 1024 * int(config.get("CHACHAML_SQLITE_CACHE_MB"))
# Connections inherited over fork() must never be used or closed by the child (SQLite forbids
# it); the child drops them here so they are not finalised either.
_ABANDONED: list[sqlite3.Connection] = []


class SQLiteStore(SQLStoreBase):
    """Metadata store in one SQLite file (or ``:memory:``); the SQL is in :class:`SQLStoreBase`."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path
        self.memory = path == ":memory:"
        self.url = "sqlite:///:memory:" if self.memory else f"sqlite:///{path}"
        self._lock = threading.RLock()
        self._writer: sqlite3.Connection | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._series: dict[tuple[str, str], int] = {}
        self._pid = os.getpid()
        self._closed = False
        self._memory_uri = f"file:chachaml-{os.urandom(16).hex()}?mode=memory&cache=shared"

    # -- connections ------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnavailable(f"store {self.url} is closed")
        try:
            if self.memory:
                conn = sqlite3.connect(
                    self._memory_uri, uri=True, isolation_level=None, check_same_thread=False
                )
            else:
                parent = os.path.dirname(os.path.abspath(self.path))
                os.makedirs(parent, exist_ok=True)
                conn = sqlite3.connect(
                    self.path,
                    isolation_level=None,
                    check_same_thread=False,
                    timeout=BUSY_TIMEOUT_MS / 1000,
                )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            conn.execute("PRAGMA foreign_keys = ON")
            sync = os.environ.get("CHACHAML_SQLITE_SYNC", "NORMAL").upper()
            if sync not in ("NORMAL", "FULL", "OFF", "EXTRA"):
                raise InvalidInput(f"CHACHAML_SQLITE_SYNC={sync!r}: use NORMAL or FULL")
            conn.execute(f"PRAGMA synchronous = {sync}")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite database {self.path!r}: {exc}") from exc
        except OSError as exc:  # e.g. the folder cannot be created
            reason = exc.strerror or type(exc).__name__
            raise StoreUnavailable(
                f"cannot open SQLite database {self.path!r}: {reason} ({exc.filename})"
            ) from exc
        return conn

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:
            # A forked child: abandon the parent's connections and start afresh.
            if self._writer is not None:
                _ABANDONED.append(self._writer)
            _ABANDONED.extend(self._readers)
            self._writer = None
            self._readers = []
            self._local = threading.local()
            self._series = {}
            self._pid = os.getpid()

    def _write_conn(self) -> sqlite3.Connection:
        self._check_fork()
        if self._writer is None:
            conn = self._connect()
            if not self.memory:
                self._enable_wal(conn)
            self._migrate(conn)
            self._refresh_stats(conn)
            self._writer = conn
        return self._writer

    def _read_conn(self) -> sqlite3.Connection:
        if self._closed:  # this thread's cached reader is closed too
            raise StoreUnavailable(f"store {self.url} is closed")
        self._check_fork()
        if self.memory:
            # One shared-cache memory database: a single connection avoids table-lock errors.
            with self._lock:
                return self._write_conn()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                self._write_conn()  # ensures the schema exists
                conn = self._connect()
                self._readers.append(conn)
            self._local.conn = conn
        return conn

    @staticmethod
    def _enable_wal(conn: sqlite3.Connection) -> None:
        """Switch a fresh file to WAL. Several processes opening the same new file race for
        that switch, and SQLite answers "database is locked" at once (not after the busy
        timeout) when waiting could deadlock, so this retries until the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        delay = 0.005
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)  # back off and retry: not synchronisation, just a retry
            delay = min(delay * 2, 0.2)

    @staticmethod
    def _refresh_stats(conn: sqlite3.Connection) -> None:
        """Give the query planner statistics once the store has grown (or shrunk) twofold since
        they were gathered: with them a selective filter is driven by its index (a threshold
        over 10,000 runs: ~3 ms instead of ~7 ms). ``analysis_limit`` samples each index, so
        this takes milliseconds at any size. Best effort: a busy or read-only file skips it."""
        (runs,) = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM runs").fetchone()
        if runs < STATS_MIN_RUNS:
            return
        analyzed = 0
        with contextlib.suppress(sqlite3.Error):  # no sqlite_stat1 before the first ANALYZE
            row = conn.execute(
                "SELECT stat FROM sqlite_stat1 WHERE idx = 'runs_by_start'"
            ).fetchone()
            analyzed = int(row[0].split()[0]) if row else 0
        if analyzed and analyzed / 2 <= runs <= analyzed * 2:
            return
        try:
            conn.execute("PRAGMA busy_timeout = 50")
            conn.execute("PRAGMA analysis_limit = 400")
            conn.execute("ANALYZE")
        except sqlite3.Error:
            pass
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    @staticmethod
    def _migrate(
        conn: sqlite3.Connection, migrations: Sequence[Migration] = SQLITE_MIGRATIONS
    ) -> None:
        latest = migrations[-1].version
        if conn.execute("PRAGMA user_version").fetchone()[0] >= latest:
            return  # fast path: nothing to apply, no write lock taken
        conn.execute("BEGIN IMMEDIATE")
        try:
            apply_pending(conn, migrations)
            conn.execute(f"PRAGMA user_version = {latest}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._write_conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot across several SELECTs."""
        conn = self._read_conn()
        if self.memory:
            with self._lock:
                yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._check_fork()
            # Planner statistics are kept by one rule, on open (_refresh_stats), not on close.
            for conn in [*self._readers, *([self._writer] if self._writer else [])]:
                conn.close()
            self._readers = []
            self._writer = None
            self._closed = True

    def applied_migrations(self) -> list[tuple[int, str]]:
        with self._read() as conn:
            return list(
                conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")
            )

    def _table_names(self, conn: Conn) -> list[str]:
        return [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]

    def integrity_check(self) -> str:
        with self._read() as conn:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
