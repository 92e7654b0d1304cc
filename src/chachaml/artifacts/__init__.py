"""Artifacts: named bytes attached to runs.

- :mod:`~chachaml.artifacts.names` — the one artifact-name validator;
- :mod:`~chachaml.artifacts.protocol` — the ``ArtifactStore`` protocol (local directory or
  S3-compatible storage);
- :mod:`~chachaml.artifacts.local` — the local directory store;
- :mod:`~chachaml.artifacts.s3` — the S3-compatible store (``s3://bucket/prefix``);
- :mod:`~chachaml.artifacts.formats` — encode/decode per format (optional deps load lazily);
- :mod:`~chachaml.artifact_api` — ``log_artifact``, ``log_file``, ``log_table``,
  ``load_artifact``, ``artifact_path``, ``list_artifacts``.
"""

from __future__ import annotations

from chachaml.artifacts.protocol import ArtifactStore, ArtifactWriter, StoredObject
from chachaml.errors import InvalidInput, StoreUnavailable

__all__ = ["ArtifactStore", "ArtifactWriter", "StoredObject", "open_artifact_store"]


def open_artifact_store(location: str) -> ArtifactStore:
    """An artifact store from a location: a directory path, ``file://path`` or
    ``s3://bucket/prefix`` (S3-compatible storage; boto3 loads on first use). Nothing touches
    the disk or the network until the first artifact is written or read.
    """
    if not isinstance(location, str) or not location:
        raise InvalidInput(f"artifact location must be a non-empty string, got {location!r}")
    from chachaml.artifacts.local import LocalArtifactStore

    if location.startswith("file://"):
        path = location[len("file://") :]
        if not path:
            raise InvalidInput(f"artifact location {location!r} has no path")
        return LocalArtifactStore(path)
    if location.startswith("s3://"):
        from chachaml.artifacts.s3 import S3ArtifactStore

        return S3ArtifactStore(location)
    if "://" in location:
        scheme = location.split("://", 1)[0]
        if scheme in ("gs", "http", "https"):
            raise StoreUnavailable(
                f"the {scheme}:// artifact store is not available yet in this version of "
                "chachaml; use a local directory (a path or file:///path)"
            )
        raise InvalidInput(
            f"unknown artifact location scheme {scheme!r} in {location!r}: use a directory "
            "path or file:///path"
        )
    return LocalArtifactStore(location)
