"""Artifact bytes in a local directory: ``<root>/<run_id>/<name>``.

Writes stream into ``<root>/.staging/`` (same file system, so the final step is a rename),
hashing as they go; ``commit`` fsyncs, then hard-links the staged file to its final path, which
fails if the path exists, so an existing artifact is never overwritten, even by a concurrent
writer in another process. The directory is created on the first write, never on open.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from types import TracebackType
from typing import Any, BinaryIO

from chachaml.artifacts.hashing import HashingWriter
from chachaml.artifacts.names import resolve_under
from chachaml.artifacts.protocol import StoredObject
from chachaml.errors import AlreadyExists, NotFound, StoreUnavailable

STAGING = ".staging"
_BUFFER = 1024 * 1024


def _fsync_dir(path: str) -> None:
    """Make a rename/link in ``path`` durable (not supported on every platform)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


class LocalWriter(HashingWriter):
    """A staging file under ``<root>/.staging``; see :class:`ArtifactWriter`."""

    def __init__(self, store: LocalArtifactStore) -> None:
        import tempfile

        self._store = store
        staging = os.path.join(store.root, STAGING)
        try:
            os.makedirs(staging, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(dir=staging, prefix="put-")
        except OSError as exc:
            raise StoreUnavailable(f"cannot write to artifact store {store.root}: {exc}") from exc
        super().__init__()
        self._file = os.fdopen(fd, "wb", buffering=_BUFFER)

    # -- two-phase completion -----------------------------------------------------------------
    def _close_file(self, sync: bool) -> None:
        if self._file is None:
            return
        file, self._file = self._file, None
        try:
            if sync:
                file.flush()
                os.fsync(file.fileno())
        finally:
            file.close()

    def commit(self, key: str) -> None:
        if self._done:
            raise ValueError("artifact writer already committed or discarded")
        try:
            self._close_file(sync=True)
            final = self._store.path_of(key)
            parent = os.path.dirname(final)
            os.makedirs(parent, exist_ok=True)
            self._store.path_of(key)  # re-check: no symlink planted while creating folders
            self._place(final, key)
            _fsync_dir(parent)
        finally:
            self.discard()

    def _place(self, final: str, key: str) -> None:
        try:
            os.link(self._tmp, final)  # atomic, and fails if `final` exists: no overwrite
            return
        except FileExistsError as exc:
            raise AlreadyExists(
                f"artifact {key!r} already exists in {self._store.root}; existing bytes were "
                "left untouched"
            ) from exc
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                raise
        # No hard links on this file system: claim the name exclusively, then rename over our
        # own empty placeholder.
        try:
            os.close(os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError as exc:
            raise AlreadyExists(f"artifact {key!r} already exists in {self._store.root}") from exc
        os.replace(self._tmp, final)

    def discard(self) -> None:
        self._done = True
        self._close_file(sync=False)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)

    def __enter__(self) -> LocalWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


class LocalArtifactStore:
    """Artifact bytes under one directory (created lazily)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.url = "file://" + self.root

    def __repr__(self) -> str:
        return f"<LocalArtifactStore {self.root}>"

    def path_of(self, key: str) -> str:
        """Absolute path of ``key``; ``InvalidInput`` for unsafe keys or paths leaving the root."""
        return resolve_under(self.root, key)

    def writer(self) -> LocalWriter:
        return LocalWriter(self)

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self.path_of(key), "rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise NotFound(f"artifact bytes {key!r} are missing from {self.root}") from exc

    def local_path(self, key: str) -> str:
        path = self.path_of(key)
        if not os.path.isfile(path):
            raise NotFound(f"artifact bytes {key!r} are missing from {self.root}")
        return path

    def exists(self, key: str) -> bool:
        return os.path.isfile(self.path_of(key))

    def size(self, key: str) -> int:
        try:
            return os.stat(self.path_of(key)).st_size
        except FileNotFoundError as exc:
            raise NotFound(f"artifact bytes {key!r} are missing from {self.root}") from exc

    def delete(self, key: str) -> int:
        path = self.path_of(key)
        try:
            freed = os.stat(path).st_size
            os.unlink(path)
        except FileNotFoundError:
            return 0
        # Remove folders the artifact left empty (sub-folders, then the run's folder).
        parent = os.path.dirname(path)
        while parent != self.root and parent.startswith(self.root + os.sep):
            try:
                os.rmdir(parent)
            except OSError:
                break
            parent = os.path.dirname(parent)
        return freed

    def iter_keys(self) -> Iterator[StoredObject]:
        if not os.path.isdir(self.root):
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root)
            if rel == ".":
                dirnames[:] = [d for d in dirnames if d != STAGING]
                prefix = ""
            else:
                prefix = rel.replace(os.sep, "/") + "/"
            dirnames.sort()
            for filename in sorted(filenames):
                full = os.path.join(dirpath, filename)
                try:
                    st = os.lstat(full)
                except FileNotFoundError:
                    continue
                if os.path.islink(full):
                    continue
                yield StoredObject(prefix + filename, st.st_size, st.st_mtime)

    def clean_staging(self, older_than: float) -> int:
        staging = os.path.join(self.root, STAGING)
        freed = 0
        try:
            entries = list(os.scandir(staging))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
                if st.st_mtime < older_than:
                    os.unlink(entry.path)
                    freed += st.st_size
            except OSError:
                continue
        return freed

    def close(self) -> None:
        """Nothing to release: files are opened per call."""

    def info(self) -> dict[str, Any]:
        return {"kind": "local", "root": self.root}
