"""Artifact bytes through a chachaml server's blob routes (the artifact half of the remote
store; ``ml.use_store("http://...")`` opens it with :mod:`chachaml.store.remote`)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from typing import Any, BinaryIO, Protocol

from chachaml.artifacts.hashing import HashingWriter
from chachaml.artifacts.protocol import StoredObject
from chachaml.errors import AlreadyExists, InvalidInput, NotFound
from chachaml.httpclient import LOST, Http, Unreachable, error_from, quote_name, quote_part

__all__ = ["RemoteArtifactStore"]


class _Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class _HashSink:
    """A write-only sink that only hashes and counts."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


class _StagedWriter(HashingWriter):
    """Stages artifact bytes in a local temp file while hashing; ``commit`` uploads them to the
    server's artifact store, which refuses to overwrite an existing key."""

    def __init__(self, store: RemoteArtifactStore, staging: str) -> None:
        super().__init__()
        self._store = store
        fd, self._path = tempfile.mkstemp(prefix="stage-", dir=staging)
        self._file = os.fdopen(fd, "wb")

    def commit(self, key: str) -> None:
        if self._file is None:
            raise ValueError("commit of a closed artifact writer")
        self._file.close()
        self._file = None
        try:
            self._store._upload(key, self._path, self._size, self.sha256)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self._path)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        with contextlib.suppress(OSError):
            os.unlink(self._path)


class RemoteArtifactStore:
    """:class:`~chachaml.artifacts.protocol.ArtifactStore` over the server's blob routes
    (``/api/store/blobs/<run_id>/<name>``). Writes stage locally, then upload on ``commit``;
    ``local_path`` downloads into a per-store cache directory removed on close."""

    def __init__(self, url: str, http: Http) -> None:
        self.url = url
        self._http = http
        self._dir: str | None = None

    def _local(self) -> str:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="chachaml-remote-")
            # Removed on close, and at the latest when the process exits (the default store of
            # a script or notebook is never closed explicitly).
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)
        return self._dir

    @staticmethod
    def _path(key: str) -> str:
        run_id, sep, name = key.partition("/")
        if not sep or not name:
            raise InvalidInput(f"artifact key {key!r} must look like <run_id>/<name>")
        return f"{quote_part(run_id)}/{quote_name(name)}"

    def writer(self) -> _StagedWriter:
        return _StagedWriter(self, self._local())

    def _upload(self, key: str, path: str, size: int, sha256: str) -> None:
        """PUT the staged bytes. If the answer to an attempt was lost and the retry finds bytes
        under the key (409), they are ours when they hash the same: the lost attempt stored
        them. Anything else stays ``AlreadyExists``."""
        with open(path, "rb") as f:
            answer = self._http.send(
                "PUT",
                f"/api/store/blobs/{self._path(key)}",
                content=f,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                lost_ok=(AlreadyExists,),
            )
        if answer is LOST and self._sha256_of(key) != (size, sha256):
            raise AlreadyExists(f"other bytes already exist under artifact key {key!r}")

    def _sha256_of(self, key: str) -> tuple[int, str]:
        """Size and sha256 of the bytes stored under ``key`` (streamed, never held whole)."""
        sink = _HashSink()
        self._download(key, sink)
        return sink.size, sink.digest.hexdigest()

    def _download(self, key: str, target: _Sink) -> None:
        path = f"/api/store/blobs/{self._path(key)}"
        import httpx

        try:
            with self._http.client.stream("GET", path) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise error_from(resp.status_code, resp.content)
                for block in resp.iter_bytes(1024 * 1024):
                    target.write(block)
        except httpx.TransportError as exc:
            raise Unreachable(
                f"chachaml server {self._http.base_url} is unreachable: {exc}"
            ) from exc

    def open(self, key: str) -> BinaryIO:
        spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
        try:
            self._download(key, spool)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return spool  # type: ignore[return-value]

    def local_path(self, key: str) -> str:
        target = os.path.join(self._local(), "cache", hashlib.sha256(key.encode()).hexdigest())
        if not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target))
            try:
                with os.fdopen(fd, "wb") as f:
                    self._download(key, f)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        return target

    def _info(self, key: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._http.get_or_none(
            f"/api/store/blob-info/{self._path(key)}"
        )
        return found

    def exists(self, key: str) -> bool:
        return self._info(key) is not None

    def size(self, key: str) -> int:
        info = self._info(key)
        if info is None:
            raise NotFound(f"artifact {key!r} does not exist")
        return int(info["size"])

    def delete(self, key: str) -> int:
        """Remove bytes no metadata row references (the server refuses others)."""
        answer = self._http.send(
            "DELETE", f"/api/store/blobs/{self._path(key)}", lost_ok=(NotFound,)
        )
        return 0 if answer is LOST else int(answer["freed"])

    def iter_keys(self) -> Iterator[StoredObject]:
        for o in self._http.send("GET", "/api/store/artifact-objects"):
            yield StoredObject(str(o["key"]), int(o["size"]), float(o["modified"]))

    def clean_staging(self, older_than: float) -> int:
        if self._dir is None:
            return 0
        freed = 0
        for entry in os.scandir(self._dir):
            if entry.name.startswith("stage-"):
                st = entry.stat()
                if st.st_mtime < older_than:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                        freed += st.st_size
        return freed

    def close(self) -> None:
        if self._dir is not None:
            self._cleanup()
            self._dir = None
