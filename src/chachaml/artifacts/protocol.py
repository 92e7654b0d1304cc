"""The artifact store protocol: where artifact bytes live (a local directory or S3).

Bytes are addressed by a *key* (``<run_id>/<name>``, validated by :mod:`chachaml.artifacts.names`).
Writing is two-phase so that no existing artifact is ever overwritten and a failed write leaves
nothing behind:

1. :meth:`ArtifactStore.writer` returns a staging stream; callers ``write`` chunks into it (size
   and sha256 are computed while streaming, memory stays bounded);
2. :meth:`ArtifactWriter.commit` moves the staged bytes to their key *without overwriting*
   (``AlreadyExists`` if the key is taken), or :meth:`ArtifactWriter.discard` drops them.

The metadata row is written by the caller after ``commit`` (see :mod:`chachaml.artifact_api`).
An S3 implementation maps staging to a temporary object or multipart upload and ``commit`` to a
conditional (``If-None-Match: *``) write.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, NamedTuple, Protocol, runtime_checkable


class StoredObject(NamedTuple):
    """One object in an artifact store, as listed by :meth:`ArtifactStore.iter_keys`."""

    key: str
    size: int
    modified: float  # epoch seconds of the last write


@runtime_checkable
class ArtifactWriter(Protocol):
    """A staging stream. ``size`` and ``sha256`` describe everything written so far."""

    @property
    def size(self) -> int: ...

    @property
    def sha256(self) -> str:
        """Hex digest of the bytes written so far."""

    def write(self, data: bytes | bytearray | memoryview) -> int: ...

    def commit(self, key: str) -> None:
        """Make the staged bytes durable under ``key``; ``AlreadyExists`` if ``key`` exists
        (the existing bytes stay untouched). The writer is closed afterwards."""

    def discard(self) -> None:
        """Drop the staged bytes (idempotent; a no-op after ``commit``)."""


@runtime_checkable
class ArtifactStore(Protocol):
    """Where artifact bytes live. Keys are validated; nothing outside the store root is touched."""

    url: str

    def writer(self) -> ArtifactWriter:
        """A new staging stream (see the module docstring)."""

    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the bytes under ``key``; ``NotFound`` if missing."""

    def local_path(self, key: str) -> str:
        """A local file holding the bytes of ``key`` (remote stores download to a cache)."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int:
        """Size in bytes of ``key``; ``NotFound`` if missing."""

    def delete(self, key: str) -> int:
        """Remove ``key``; returns the bytes freed (0 when it did not exist)."""

    def iter_keys(self) -> Iterator[StoredObject]:
        """Every committed object (staging leftovers are not listed)."""

    def clean_staging(self, older_than: float) -> int:
        """Remove abandoned staging data last written before ``older_than`` (epoch seconds);
        returns the bytes freed."""

    def close(self) -> None: ...
