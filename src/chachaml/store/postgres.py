"""PostgreSQL metadata store (``postgresql://…`` URLs): psycopg 3 with a ``psycopg_pool`` pool.

The SQL is shared with SQLite (:class:`~chachaml.store.sqlbase.SQLStoreBase`); this module is
connection handling and migrations only.

- The pool opens on first use and closes on :meth:`close`. Every write is one explicit
  transaction (autocommit off); a connection is checked before it is handed out, so after a
  server restart dead connections are replaced instead of failing the next write.
- A failed metric write keeps its points in the writer's buffer and is retried on the next
  flush; metric points are upserts on ``(series_id, step)``, so a retry never duplicates.
- Migrations (:data:`~chachaml.store.migrations.POSTGRES_MIGRATIONS`) run in one transaction
  under ``pg_advisory_xact_lock``, so processes opening a fresh schema at once do not race.
- Model version numbers: the model-row upsert locks the row until commit, so concurrent
  registrations of one model queue and each sees the previous ``MAX(version)``; the primary key
  is the last line of defence (a unique violation is retried).

The schema lives in the connection's ``search_path`` (e.g.
``postgresql://host/db?options=-csearch_path%3Dteam``), ``public`` by default.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from chachaml import config
from chachaml.errors import StoreUnavailable
from chachaml.store.migrations import POSTGRES_MIGRATIONS, Migration, apply_pending
from chachaml.store.protocol import RunDict
from chachaml.store.sqlbase import SQLStoreBase
from chachaml.store.sqlconn import Conn, IntegrityError, PgConnection

_REGISTER_ATTEMPTS = 5
PROBE_TIMEOUT = 5  # seconds to reach the server when a store is opened

# Pools inherited over fork() must not be used or closed by the child (closing would end the
# parent's sessions on the shared sockets); the child drops them here and opens its own.
_ABANDONED: list[Any] = []


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for display and ``Store.url``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresStore(SQLStoreBase):
    """Metadata store in a PostgreSQL database (one schema)."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self._conninfo = url
        self.url = redact(url)
        self.memory = False
        self._lock = threading.Lock()
        self._pool: Any = None
        self._series: dict[tuple[str, str], int] = {}
        self._pid = os.getpid()
        self._closed = False

    # -- connections ------------------------------------------------------------------------
    def _get_pool(self) -> Any:
        if self._closed:
            raise StoreUnavailable(f"store {self.url} is closed")
        if os.getpid() != self._pid:
            if self._pool is not None:
                _ABANDONED.append(self._pool)
            self._pool, self._series, self._pid = None, {}, os.getpid()
            self._lock = threading.Lock()
        pool = self._pool
        if pool is not None:
            return pool
        with self._lock:
            if self._pool is None:
                self._pool = self._open_pool()
            return self._pool

    def _open_pool(self) -> Any:
        try:
            from psycopg_pool import ConnectionPool
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise StoreUnavailable(
                "the PostgreSQL store needs psycopg: pip install 'chachaml[postgres]'"
            ) from exc
        import psycopg

        # How long to wait for a connection (also while the server restarts), and pool size.
        timeout = config.get("CHACHAML_PG_TIMEOUT")
        pool_max = int(config.get("CHACHAML_PG_POOL_MAX"))
        # One direct connection first: an unreachable server fails in seconds with one clear
        # line, instead of the pool retrying (and logging) until its timeout.
        try:
            with psycopg.connect(
                self._conninfo, connect_timeout=max(1, min(int(timeout), PROBE_TIMEOUT))
            ) as probe:
                self._migrate(probe)
        except (psycopg.Error, OSError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreUnavailable(f"cannot open PostgreSQL store {self.url}: {reason}") from exc
        pool = ConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=pool_max,
            open=False,
            timeout=timeout,
            check=ConnectionPool.check_connection,
            kwargs={"autocommit": False},
            name="chachaml",
        )
        try:
            pool.open(wait=True, timeout=timeout)
        except (psycopg.Error, OSError, Exception) as exc:
            pool.close()
            raise StoreUnavailable(f"cannot open PostgreSQL store {self.url}: {exc}") from exc
        return pool

    @staticmethod
    def _migrate(raw: Any, migrations: Sequence[Migration] = POSTGRES_MIGRATIONS) -> None:
        latest = migrations[-1].version
        with raw.transaction():
            row = raw.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
            done_version = 0
            if row[0]:
                (done_version,) = raw.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
                ).fetchone()
        if done_version >= latest:
            return  # fast path: no lock taken
        with raw.transaction():
            raw.execute(
                "SELECT pg_advisory_xact_lock(hashtext('chachaml.migrate.' || current_schema()))"
            )
            apply_pending(PgConnection(raw), migrations)

    @contextmanager
    def _write(self) -> Iterator[PgConnection]:
        with self._get_pool().connection() as raw, raw.transaction():
            yield PgConnection(raw)

    @contextmanager
    def _read(self) -> Iterator[PgConnection]:
        with self._get_pool().connection() as raw, raw.transaction():
            yield PgConnection(raw)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None and os.getpid() == self._pid:
            pool.close()

    def applied_migrations(self) -> list[tuple[int, str]]:
        with self._read() as conn:
            return [
                (int(v), str(n))
                for v, n in conn.execute(
                    "SELECT version, name FROM schema_migrations ORDER BY version"
                )
            ]

    def integrity_check(self) -> str:
        """PostgreSQL guards its own pages; this checks the schema is fully migrated."""
        applied = [v for v, _ in self.applied_migrations()]
        expected = [m.version for m in POSTGRES_MIGRATIONS]
        return "ok" if applied == expected else f"migrations applied {applied}, expected {expected}"

    # -- table copy ---------------------------------------------------------------------------
    def _table_names(self, conn: Conn) -> list[str]:
        return [
            str(name)
            for (name,) in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        ]

    def finish_import(self) -> None:
        """Move identity sequences past the imported ids."""
        with self._write() as conn:
            for (table,) in conn.execute(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = "
                "current_schema() AND column_name = 'id' AND is_identity = 'YES'"
            ).fetchall():
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                    f'COALESCE((SELECT MAX(id) FROM "{table}"), 0) + 1, false)'
                )

    # -- registry: retry the rare unique violation between concurrent registrations ------------
    def register_model_version(
        self,
        model: str,
        run_id: str,
        artifact: str,
        stage: str,
        description: str | None,
        now_ms: int,
    ) -> RunDict:
        for attempt in range(_REGISTER_ATTEMPTS):
            try:
                return super().register_model_version(
                    model, run_id, artifact, stage, description, now_ms
                )
            except IntegrityError:
                if attempt == _REGISTER_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))  # back off, then take a fresh MAX(version)
        raise AssertionError("unreachable")  # pragma: no cover
