"""Stores: a metadata store plus an artifact location, opened from URLs.

>>> import chachaml as ml
>>> with ml.open_store("sqlite:///:memory:") as store:
...     store.url
'sqlite:///:memory:'
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any

from chachaml import config
from chachaml.artifacts.protocol import ArtifactStore
from chachaml.errors import InvalidInput, StoreUnavailable
from chachaml.store.protocol import MetadataStore, NewRun, RunQuery
from chachaml.store.writer import MetricWriter

__all__ = [
    "MetadataStore",
    "NewRun",
    "RunQuery",
    "Store",
    "open_store",
    "resolve_urls",
    "sqlite_path",
]

DEFAULT_DB = "chachaml.db"


def sqlite_path(url: str) -> str | None:
    """The file path of a SQLite URL or bare path; None if ``url`` is another scheme."""
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://") :]
        if not rest.startswith("/"):
            raise InvalidInput(
                f"store URL {url!r} is malformed: use sqlite:///relative.db, "
                "sqlite:////absolute/path.db or sqlite:///:memory:"
            )
        path = rest[1:]
        if not path:
            raise InvalidInput(f"store URL {url!r} has no database path")
        return path
    if "://" in url:
        return None
    return url


def resolve_urls(url: str | None, artifacts: str | None) -> tuple[str, str | None]:
    """Apply env-var defaults: ``CHACHAML_STORE``/``CHACHAML_ARTIFACTS``, else ``./chachaml.db``."""
    if url is None:
        url = os.environ.get("CHACHAML_STORE") or DEFAULT_DB
    if artifacts is None:
        artifacts = os.environ.get("CHACHAML_ARTIFACTS") or None
    return url, artifacts


def default_artifacts_for(db_path: str) -> str:
    """``x.db`` pairs with ``x-artifacts/`` next to it."""
    head, name = os.path.split(db_path)
    stem, _ = os.path.splitext(name)
    return os.path.join(head, (stem or name) + "-artifacts")


class Store:
    """A metadata store, an artifact location and this process's metric writer.

    Use as a context manager (or call :meth:`close`) to flush buffered metrics and close
    connections.
    """

    def __init__(
        self, meta: MetadataStore, artifacts: str | ArtifactStore, *, temp_artifacts: bool = False
    ):
        from chachaml.artifacts import open_artifact_store

        self.meta = meta
        #: Where artifact bytes live (a local directory or S3-compatible storage).
        self.artifacts: ArtifactStore = (
            open_artifact_store(artifacts) if isinstance(artifacts, str) else artifacts
        )
        self.artifacts_url = artifacts if isinstance(artifacts, str) else artifacts.url
        self.writer = MetricWriter(meta)
        self._temp_artifacts = temp_artifacts
        self.closed = False
        self.crash_checked = False  # runs of dead local processes finalised once per store

    @property
    def url(self) -> str:
        return self.meta.url

    def flush(self) -> None:
        """Write every buffered metric point now."""
        self.writer.flush()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.writer.stop()
        finally:
            self.meta.close()
            self.artifacts.close()
            if self._temp_artifacts:
                import shutil

                shutil.rmtree(self.artifacts_url, ignore_errors=True)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<chachaml.Store {self.url} artifacts={self.artifacts_url}>"

    def _repr_html_(self) -> str:  # pragma: no cover - notebook nicety
        return f"<code>chachaml store {self.url}</code>"

    def info(self) -> dict[str, Any]:
        return {"url": self.url, "artifacts": self.artifacts_url}


def _open_remote(url: str) -> Store:
    """A chachaml server: metadata and artifact bytes both go through its HTTP API (an
    ``artifacts`` location given with it is ignored: the server owns its artifact store)."""
    try:
        from chachaml.store.remote import open_remote
    except ImportError as exc:  # pragma: no cover - httpx is in the server/dev extras
        raise StoreUnavailable(
            "the http(s):// store needs httpx: pip install 'chachaml[server]'"
        ) from exc
    meta, blobs = open_remote(url)
    return Store(meta, blobs)


def open_store(url: str | None = None, artifacts: str | None = None) -> Store:
    """Open a store from a URL (``sqlite:///path.db``, a bare path, ``sqlite:///:memory:``, or
    ``postgresql://user@host/db``, or a chachaml server ``http(s)://host:port``).

    Without arguments it uses ``CHACHAML_STORE``/``CHACHAML_ARTIFACTS`` or ``./chachaml.db``
    with ``./chachaml-artifacts/``. Nothing touches the disk until the store is first used.
    """
    config.check()  # a malformed CHACHAML_* number is reported here, not at import
    if url is not None and not isinstance(url, str):
        raise InvalidInput(f"store URL must be a string, got {type(url).__name__}")
    url, artifacts = resolve_urls(url, artifacts)
    path = sqlite_path(url)
    if path is None and url.startswith(("postgresql://", "postgres://")):
        return _open_postgres(url, artifacts)
    if path is None and url.startswith(("http://", "https://")):
        return _open_remote(url)
    if path is None:
        scheme = url.split("://", 1)[0]
        raise InvalidInput(
            f"unknown store URL scheme {scheme!r} in {url!r}: use a file path, sqlite:///path.db, "
            "sqlite:///:memory:, postgresql://user@host/db or a server's http(s)://host:port"
        )
    from chachaml.store.sqlite import SQLiteStore

    meta = SQLiteStore(path)
    temp = False
    if artifacts is None:
        if meta.memory:
            import tempfile

            artifacts = tempfile.mkdtemp(prefix="chachaml-artifacts-")
            temp = True
        else:
            artifacts = default_artifacts_for(path)
    elif artifacts.startswith("file://"):
        artifacts = artifacts[len("file://") :]
    try:
        return Store(meta, artifacts, temp_artifacts=temp)
    except BaseException:
        meta.close()
        raise


def _open_postgres(url: str, artifacts: str | None) -> Store:
    """A PostgreSQL metadata store; artifacts default to ``./chachaml-artifacts``."""
    from chachaml.store.postgres import PostgresStore

    meta = PostgresStore(url)
    if artifacts is None:
        artifacts = default_artifacts_for(DEFAULT_DB)
    elif artifacts.startswith("file://"):
        artifacts = artifacts[len("file://") :]
    try:
        return Store(meta, artifacts)
    except BaseException:
        meta.close()
        raise
