"""The connection shape the shared SQL modules need, and the adapter that gives psycopg that shape.

``sqlquery``, ``sqlmetrics``, ``sqlregistry`` and ``sqlbase`` write SQL once, with ``?``
placeholders, against a DB-API-like connection (:class:`Conn`): ``sqlite3.Connection`` fits as
is. :class:`PgConnection` wraps a psycopg 3 connection so the same SQL runs on PostgreSQL:

- ``?`` becomes ``%s`` and a literal ``%`` becomes ``%%`` (the shared SQL and the filter compiler
  never emit a literal ``?``; the rewrite is cached per statement);
- a float NaN parameter is bound as NULL, the NULL-means-NaN convention SQLite imposes, so every
  query path returns the same answers on both backends;
- metric points go in through ``COPY`` into a temporary table and one upsert
  (:meth:`PgConnection.upsert_points`), several times faster than ``executemany``;
- integrity errors surface as :class:`IntegrityError` (``sqlite3.IntegrityError``), the one
  exception type the shared code catches.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any, Protocol

IntegrityError = sqlite3.IntegrityError


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """What the shared SQL functions call: ``sqlite3.Connection`` or :class:`PgConnection`."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Any: ...


def dialect_of(conn: Conn) -> str:
    """``"postgresql"`` for a :class:`PgConnection`, else ``"sqlite"``."""
    return getattr(conn, "dialect", "sqlite")


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """``?`` placeholders -> psycopg's ``%s`` (escaping literal ``%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _nan_to_null(params: Iterable[Any]) -> list[Any]:
    # `v != v` is True only for NaN; cheaper than isinstance + math.isnan on the hot path.
    return [None if v != v else v for v in params]


class PgConnection:
    """A psycopg 3 connection speaking the ``?`` dialect of the shared SQL modules."""

    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self.raw = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        import psycopg

        try:
            return self.raw.execute(to_pyformat(sql), _nan_to_null(parameters))
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc

    def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]], /) -> Any:
        import psycopg

        rows = [_nan_to_null(p) for p in seq_of_parameters]
        if not rows:
            return None
        cur = self.raw.cursor()
        try:
            cur.executemany(to_pyformat(sql), rows)
        except psycopg.errors.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        finally:
            cur.close()
        return None

    def upsert_points(self, rows: Sequence[tuple[int, int, float, int]]) -> None:
        """Insert-or-replace ``(series_id, step, value, timestamp)`` rows in bulk.

        Same result as ``executemany`` of the shared ``INSERT … ON CONFLICT DO UPDATE``: when a
        batch holds one step twice, the later point wins.
        """
        import psycopg

        latest = {(r[0], r[1]): r for r in rows}
        if len(latest) < len(rows):
            rows = list(latest.values())
        raw = self.raw
        if raw not in _HAS_STAGING:
            raw.execute(
                "CREATE TEMP TABLE IF NOT EXISTS chachaml_points (series_id BIGINT, step BIGINT, "
                "value DOUBLE PRECISION, timestamp BIGINT) ON COMMIT DELETE ROWS"
            )
            _HAS_STAGING.add(raw)
        with raw.cursor() as cur:
            with cur.copy(
                "COPY chachaml_points (series_id, step, value, timestamp) FROM STDIN "
                "(FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "int8", "float8", "int8"])
                write = copy.write_row
                for sid, step, value, ts in rows:
                    write((sid, step, None if value != value else value, ts))
            try:
                cur.execute(
                    "INSERT INTO metrics (series_id, step, value, timestamp) "
                    "SELECT series_id, step, value, timestamp FROM chachaml_points "
                    "ON CONFLICT (series_id, step) DO UPDATE SET value = excluded.value, "
                    "timestamp = excluded.timestamp"
                )
            except psycopg.errors.IntegrityError as exc:
                raise IntegrityError(str(exc)) from exc
            cur.execute("TRUNCATE chachaml_points")


# Connections that already have the session's temporary staging table.
_HAS_STAGING: weakref.WeakSet[Any] = weakref.WeakSet()
