"""Artifact bytes in S3-compatible object storage: ``s3://bucket/prefix`` (AWS S3, MinIO, …).

Endpoint, region and credentials come from the standard AWS chain (environment variables,
``~/.aws/config`` and ``credentials``, instance roles); ``CHACHAML_S3_ENDPOINT_URL`` points at a
MinIO-style endpoint. boto3 is imported on first use only.

Writing: bytes stream into a spooled temporary file (memory up to one part, then disk) while
sha256 and size are computed. ``commit`` uploads them with a conditional write
(``If-None-Match: *``), so an existing artifact is never overwritten, even by a concurrent
writer; files larger than one part go up as a multipart upload, part by part (bounded memory),
completed with the same condition. The sha256 travels as object metadata.

Reading: :meth:`S3ArtifactStore.local_path` downloads into a local cache (``CHACHAML_CACHE_DIR``,
default ``~/.cache/chachaml``), verifying the sha256 before the file appears under its final
name; keys are immutable, so a cached file stays valid.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Any, BinaryIO, cast

from chachaml import config
from chachaml.artifacts.hashing import HashingWriter
from chachaml.artifacts.names import MAX_KEY_BYTES, resolve_under, validate
from chachaml.artifacts.protocol import StoredObject
from chachaml.errors import AlreadyExists, InvalidInput, NotFound, StoreUnavailable

PART_SIZE = int(config.get("CHACHAML_S3_PART_SIZE"))
_CHUNK = 1024 * 1024


def cache_root() -> str:
    return os.environ.get("CHACHAML_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "chachaml"
    )


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _missing(exc: Exception) -> bool:
    return _code(exc) in ("404", "NoSuchKey", "NotFound")


class S3Writer(HashingWriter):
    """A spooled staging stream; see :class:`~chachaml.artifacts.protocol.ArtifactWriter`."""

    def __init__(self, store: S3ArtifactStore) -> None:
        super().__init__()
        self._store = store
        self._file = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=PART_SIZE, prefix="chachaml-s3-"
        )

    def commit(self, key: str) -> None:
        if self._done or self._file is None:
            raise ValueError("artifact writer already committed or discarded")
        try:
            file = self._file
            file.seek(0)
            self._store._upload(key, file, self._size, self.sha256)
        finally:
            self.discard()

    def discard(self) -> None:
        self._done = True
        if self._file is not None:
            file, self._file = self._file, None
            file.close()

    def __enter__(self) -> S3Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


class S3ArtifactStore:
    """Artifact bytes under ``s3://bucket/prefix`` (see the module docstring)."""

    def __init__(self, location: str) -> None:
        if not location.startswith("s3://"):
            raise InvalidInput(f"not an S3 location: {location!r}")
        bucket, _, prefix = location[len("s3://") :].partition("/")
        if not bucket:
            raise InvalidInput(f"artifact location {location!r} has no bucket: use s3://bucket/x")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            validate(self.prefix, "S3 prefix", MAX_KEY_BYTES)
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<S3ArtifactStore {self.url}>"

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        import boto3  # type: ignore[import-untyped]
                    except ImportError as exc:  # pragma: no cover - depends on installation
                        raise StoreUnavailable(
                            "the s3:// artifact store needs boto3: pip install 'chachaml[s3]'"
                        ) from exc
                    endpoint = os.environ.get("CHACHAML_S3_ENDPOINT_URL") or None
                    self._client = boto3.session.Session().client("s3", endpoint_url=endpoint)
        return self._client

    def object_key(self, key: str) -> str:
        validate(key, "artifact key", MAX_KEY_BYTES)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, what: str, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"S3 {what} failed for {self.url}: {exc}")

    def _upload(self, key: str, file: IO[bytes], size: int, sha256: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        obj = self.object_key(key)
        if self.exists(key):  # cheap early refusal; the conditional write below is the guarantee
            raise AlreadyExists(f"artifact {key!r} already exists in {self.url}")
        meta = {"sha256": sha256}
        try:
            if size <= PART_SIZE:
                self.client.put_object(
                    Bucket=self.bucket, Key=obj, Body=file.read(), IfNoneMatch="*", Metadata=meta
                )
            else:
                self._multipart(obj, file, meta)
        except ClientError as exc:
            if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise AlreadyExists(
                    f"artifact {key!r} already exists in {self.url}; existing bytes were left "
                    "untouched"
                ) from exc
            raise self._fail("upload", exc) from exc
        except BotoCoreError as exc:
            raise self._fail("upload", exc) from exc

    def _multipart(self, obj: str, file: IO[bytes], meta: dict[str, str]) -> None:
        client = self.client
        upload_id = client.create_multipart_upload(Bucket=self.bucket, Key=obj, Metadata=meta)[
            "UploadId"
        ]
        try:
            parts = []
            number = 1
            while chunk := file.read(PART_SIZE):
                etag = client.upload_part(
                    Bucket=self.bucket, Key=obj, UploadId=upload_id, PartNumber=number, Body=chunk
                )["ETag"]
                parts.append({"ETag": etag, "PartNumber": number})
                number += 1
            client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=obj,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except BaseException:
            client.abort_multipart_upload(Bucket=self.bucket, Key=obj, UploadId=upload_id)
            raise

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head: dict[str, Any] = self.client.head_object(
                Bucket=self.bucket, Key=self.object_key(key)
            )
        except ClientError as exc:
            if _missing(exc):
                return None
            raise self._fail("HEAD", exc) from exc
        except BotoCoreError as exc:
            raise self._fail("HEAD", exc) from exc
        return head

    # -- the ArtifactStore protocol -------------------------------------------------------------
    def writer(self) -> S3Writer:
        return S3Writer(self)

    def open(self, key: str) -> BinaryIO:
        """A seekable stream over the cached copy (decoders such as numpy need to seek)."""
        return open(self.local_path(key), "rb")

    def _stream(self, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise NotFound(f"artifact bytes {key!r} are missing from {self.url}") from exc
            raise self._fail("GET", exc) from exc
        return cast(BinaryIO, body)

    def cache_path(self, key: str) -> str:
        """Where :meth:`local_path` keeps ``key`` (validated to stay under the cache root)."""
        root = os.path.join(cache_root(), "s3", self.bucket, *self.prefix.split("/"))
        return resolve_under(root, key)

    def local_path(self, key: str) -> str:
        path = self.cache_path(key)
        if os.path.isfile(path):
            return path
        head = self._head(key)
        if head is None:
            raise NotFound(f"artifact bytes {key!r} are missing from {self.url}")
        expected = (head.get("Metadata") or {}).get("sha256")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".download-")
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, self._stream(key) as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if expected and digest.hexdigest() != expected:
                raise StoreUnavailable(
                    f"artifact {key!r} from {self.url} failed its sha256 check "
                    f"(expected {expected}, got {digest.hexdigest()})"
                )
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise NotFound(f"artifact bytes {key!r} are missing from {self.url}")
        return int(head["ContentLength"])

    def sha256_of(self, key: str) -> str | None:
        """The sha256 recorded with the object at upload (None for foreign objects)."""
        head = self._head(key)
        if head is None:
            raise NotFound(f"artifact bytes {key!r} are missing from {self.url}")
        value = (head.get("Metadata") or {}).get("sha256")
        return None if value is None else str(value)

    def delete(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            return 0
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        cached = self.cache_path(key)
        if os.path.isfile(cached):
            os.unlink(cached)
        return int(head["ContentLength"])

    def iter_keys(self) -> Iterator[StoredObject]:
        start = f"{self.prefix}/" if self.prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        )
        for page in pages:
            for obj in page.get("Contents", []):
                yield StoredObject(
                    obj["Key"][len(start) :], int(obj["Size"]), obj["LastModified"].timestamp()
                )

    def clean_staging(self, older_than: float) -> int:
        """Abort multipart uploads under the prefix started before ``older_than``."""
        start = f"{self.prefix}/" if self.prefix else ""
        response = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=start)
        for upload in response.get("Uploads", []):
            if upload["Initiated"].timestamp() < older_than:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
        return 0  # S3 does not report the size of abandoned parts

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def info(self) -> dict[str, Any]:
        return {"kind": "s3", "bucket": self.bucket, "prefix": self.prefix}
