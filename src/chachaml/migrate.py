"""Copy everything from one store to another, ids preserved: ``chachaml migrate SRC DST``.

>>> import chachaml as ml
>>> from chachaml.migrate import migrate
>>> with ml.open_store("sqlite:///:memory:") as src, ml.open_store("sqlite:///:memory:") as dst:
...     migrate(src, dst)["ok"]
True

Order: artifact bytes first (each streamed, its sha256 checked against the metadata row before it
is committed), then every table in foreign-key order (runs, params, metrics, tags, datasets,
experiments, artifacts, registry, and any later tables such as pipelines or alerts). Rows whose
key already exists in the destination are skipped, so an interrupted migration is resumed by
running it again, and a finished one is a no-op. At the end row counts and the sha256 of every
artifact in the destination are verified.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from chachaml.errors import InvalidInput
from chachaml.store import Store
from chachaml.store.protocol import TableCopy

Progress = Callable[[str, int, int], None]
_CHUNK = 1024 * 1024


def _noop(stage: str, done: int, total: int) -> None:
    """Default progress callback."""


def _table_copy(store: Store) -> TableCopy:
    meta = store.meta
    if not isinstance(meta, TableCopy):
        raise InvalidInput(
            f"store {store.url} cannot be migrated directly: migrate to or from the SQLite or "
            "PostgreSQL database behind it"
        )
    return meta


def _artifact_rows(meta: TableCopy) -> list[dict[str, Any]]:
    if "artifacts" not in meta.copy_tables():
        return []
    out: list[dict[str, Any]] = []
    for columns, rows in meta.export_rows("artifacts"):
        out.extend(dict(zip(columns, row, strict=True)) for row in rows)
    return out


def _sha256(store: Store, key: str) -> str:
    digest = hashlib.sha256()
    with store.artifacts.open(key) as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_bytes(src: Store, dst: Store, row: dict[str, Any]) -> bool:
    """Copy one artifact's bytes unless present; True if copied."""
    key = str(row["path"])
    if dst.artifacts.exists(key):
        return False
    writer = dst.artifacts.writer()
    try:
        with src.artifacts.open(key) as stream:
            while chunk := stream.read(_CHUNK):
                writer.write(chunk)
        if writer.sha256 != row["sha256"]:
            raise InvalidInput(
                f"artifact {key!r} in {src.artifacts_url} does not match its recorded sha256 "
                f"({writer.sha256} != {row['sha256']}); nothing was copied for it"
            )
        writer.commit(key)
    finally:
        writer.discard()
    return True


def migrate(src: Store, dst: Store, progress: Progress = _noop) -> dict[str, Any]:
    """Copy ``src`` into ``dst`` (resumable, idempotent) and verify; returns a summary:
    ``{"tables": {name: {"source", "destination"}}, "artifacts": {"total", "copied",
    "verified"}, "problems": [...], "ok": bool}``.
    """
    if src.url == dst.url:
        raise InvalidInput(f"source and destination are the same store ({src.url})")
    src.flush()
    smeta, dmeta = _table_copy(src), _table_copy(dst)
    summary: dict[str, Any] = {"tables": {}, "artifacts": {}, "problems": []}
    problems: list[str] = summary["problems"]

    artifacts = _artifact_rows(smeta)
    copied = 0
    for i, row in enumerate(artifacts):
        copied += _copy_bytes(src, dst, row)
        progress("artifacts", i + 1, len(artifacts))

    dst_tables = set(dmeta.copy_tables())
    tables = smeta.copy_tables()
    for table in tables:
        if table not in dst_tables:
            problems.append(f"destination has no table {table!r}; upgrade chachaml there first")
            continue
        total, done = smeta.count_rows(table), 0
        progress(table, 0, total)
        for columns, rows in smeta.export_rows(table):
            dmeta.import_rows(table, columns, rows)
            done += len(rows)
            progress(table, done, total)
    dmeta.finish_import()

    # -- verification -------------------------------------------------------------------------
    for table in tables:
        if table not in dst_tables:
            continue
        counts = {"source": smeta.count_rows(table), "destination": dmeta.count_rows(table)}
        summary["tables"][table] = counts
        if counts["source"] != counts["destination"]:
            problems.append(
                f"table {table}: {counts['source']} rows in the source, "
                f"{counts['destination']} in the destination"
            )
    verified = 0
    for i, row in enumerate(_artifact_rows(dmeta)):
        key = str(row["path"])
        if not dst.artifacts.exists(key):
            problems.append(f"artifact {key!r} is missing from {dst.artifacts_url}")
        elif _sha256(dst, key) != row["sha256"]:
            problems.append(f"artifact {key!r} in {dst.artifacts_url} fails its sha256 check")
        else:
            verified += 1
        progress("verify", i + 1, len(artifacts))
    summary["artifacts"] = {"total": len(artifacts), "copied": copied, "verified": verified}
    summary["ok"] = not problems
    return summary
