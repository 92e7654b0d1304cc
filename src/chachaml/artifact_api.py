"""Logging and reading artifacts: ``log_artifact``, ``log_file``, ``log_table``,
``load_artifact``, ``artifact_path``, ``list_artifacts``.

>>> import chachaml as ml
>>> with ml.store("sqlite:///:memory:"):
...     with ml.run() as run:
...         _ = ml.log_artifact("config", {"lr": 0.1}, format="json")
...     ml.load_artifact(run.id, "config")
{'lr': 0.1}

Write order (never overwrites, never leaves a half-written artifact): validate the name, stream
the bytes into a staging file while hashing, fsync, check no artifact of that name exists,
move the bytes into place without overwriting, then insert the metadata row (if that fails, the
bytes are removed again).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from typing import Any, BinaryIO

from chachaml import context, query, validate
from chachaml.artifacts import formats, names
from chachaml.artifacts.protocol import ArtifactWriter
from chachaml.context import resolve
from chachaml.errors import AlreadyExists, InvalidInput, NotFound
from chachaml.store import Store
from chachaml.store.protocol import NewArtifact, RunQuery

CHUNK = 1024 * 1024
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(;[ -~]*)?$")
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"PAR1", "application/vnd.apache.parquet"),
    (b"\x93NUMPY", "application/x-npy"),
    (b"<svg", "image/svg+xml"),
)


def _now_ms() -> int:
    import time

    return time.time_ns() // 1_000_000


def check_content_type(value: object) -> str:
    if not isinstance(value, str) or len(value) > 255 or not _CONTENT_TYPE.match(value):
        raise InvalidInput(
            f"content_type {value!r} is not a MIME type such as 'image/png' or "
            "'text/csv; charset=utf-8'"
        )
    return value


def guess_content_type(name: str, head: bytes) -> str:
    """MIME type from the name's extension, else from the first bytes, else octet-stream."""
    import mimetypes

    guessed, _ = mimetypes.guess_type(name, strict=False)
    if guessed:
        return guessed
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 3 or not head:
            return "application/octet-stream"
    return "text/plain; charset=utf-8" if head else "application/octet-stream"


def _taken(run_id: str, name: str) -> AlreadyExists:
    return AlreadyExists(
        f"run {run_id} already has an artifact named {name!r}; artifacts are immutable, "
        "log the new value under another name"
    )


def begin_artifact(store: Store, run_id: str, name: str) -> ArtifactWriter:
    """The first half of :func:`write_artifact`, for callers that stream bytes themselves (the
    HTTP upload): checks, before a byte is written, that the run exists and the name is free,
    then returns a writer. Write into it, then call :func:`commit_artifact` (on any error,
    ``writer.discard()``)."""
    name = names.validate(name)
    run_id = validate.run_id(run_id)
    meta = store.meta
    if meta.count_runs(RunQuery(ids=[run_id], limit=None, include_archived=True)) == 0:
        raise NotFound(f"run {run_id!r} does not exist")
    if meta.get_artifact(run_id, name) is not None:
        raise _taken(run_id, name)
    return store.artifacts.writer()


def commit_artifact(
    store: Store, writer: ArtifactWriter, run_id: str, name: str, fmt: str, content_type: str
) -> dict[str, Any]:
    """The second half of :func:`write_artifact`: commit the written bytes under
    ``<run_id>/<name>`` (never over existing bytes), then add the metadata row; returns it.
    The writer is discarded on failure, and bytes committed here are removed if the row
    cannot be added."""
    name = names.validate(name)
    run_id = validate.run_id(run_id)
    key = f"{run_id}/{name}"
    meta = store.meta
    try:
        if meta.get_artifact(run_id, name) is not None:  # the authoritative check, after fsync
            raise _taken(run_id, name)
        try:
            writer.commit(key)  # fails, leaving the existing bytes alone, if the key exists
        except AlreadyExists as exc:
            if meta.get_artifact(run_id, name) is not None:
                raise _taken(run_id, name) from exc
            raise AlreadyExists(
                f"bytes for artifact {name!r} of run {run_id} exist without a metadata row "
                "(an interrupted write?); run `chachaml gc` to remove orphaned files"
            ) from exc
    finally:
        writer.discard()  # no-op after a successful commit
    record = NewArtifact(
        run_id=run_id,
        name=name,
        path=key,
        format=fmt,
        content_type=content_type,
        size=writer.size,
        sha256=writer.sha256,
        created_at=_now_ms(),
    )
    try:
        return meta.add_artifact(record)
    except BaseException:
        store.artifacts.delete(key)  # the bytes are ours: this writer created them a moment ago
        raise


def write_artifact(
    store: Store,
    run_id: str,
    name: str,
    fmt: str,
    content_type: str,
    fill: Callable[[ArtifactWriter], object],
) -> dict[str, Any]:
    """Store the bytes ``fill`` writes as artifact ``name`` of ``run_id``; returns its row.

    The building block of every ``log_*`` function (and of importers later).
    """
    writer = begin_artifact(store, run_id, name)
    try:
        fill(writer)
    except BaseException:
        writer.discard()
        raise
    return commit_artifact(store, writer, run_id, name, fmt, content_type)


# -- logging, bound to a run ------------------------------------------------------------------
def log_artifact_to(
    store: Store,
    run_id: str,
    name: str,
    value: Any,
    format: str | None = None,
    content_type: str | None = None,
) -> dict[str, Any]:
    if format is None:
        _refuse_a_path(name, value)
    fmt = formats.choose(value) if format is None else formats.check_format(format)
    ctype = formats.CONTENT_TYPES[fmt] if content_type is None else check_content_type(content_type)
    return write_artifact(
        store, run_id, name, fmt, ctype, lambda sink: formats.encode(value, fmt, sink)
    )


def _refuse_a_path(name: str, value: Any) -> None:
    """``log_artifact("plot.png", "/tmp/plot.png")`` almost always means the file, not the
    string: say so instead of storing 13 characters of text (or a pickled ``Path``)."""
    if isinstance(value, os.PathLike) or (
        isinstance(value, str)
        and 0 < len(value) < 4096
        and "\n" not in value
        and os.path.isfile(value)
    ):
        shown = os.fspath(value)
        raise InvalidInput(
            f"log_artifact({name!r}, {shown!r}): the value is a path to a file. To store the "
            f"file's bytes use ml.log_file({name!r}, {shown!r}); to store the text itself pass "
            "format='text'"
        )


def log_file_to(
    store: Store, run_id: str, name: str, path: str | os.PathLike[str]
) -> dict[str, Any]:
    names.validate(name)
    try:
        source = open(os.fspath(path), "rb")  # noqa: SIM115 - closed below
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise InvalidInput(f"log_file(): {os.fspath(path)!r} is not a readable file") from exc
    except TypeError as exc:
        raise InvalidInput(f"log_file() path must be a str or path, got {path!r}") from exc
    with source:
        head = source.read(512)
        ctype = guess_content_type(name, head)

        def copy(sink: ArtifactWriter) -> None:
            # A fixed buffer reused for every chunk: memory stays flat for any file size.
            sink.write(head)
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            while True:
                n = source.readinto(buf)
                if not n:
                    break
                sink.write(view[:n])

        return write_artifact(store, run_id, name, "file", ctype, copy)


def log_table_to(store: Store, run_id: str, name: str, table: Any) -> dict[str, Any]:
    import json

    data = formats.table_json(table)
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    blob = payload.encode("utf-8")
    return write_artifact(
        store, run_id, name, "table", formats.CONTENT_TYPES["table"], lambda s: s.write(blob)
    )


# -- module-level API (current run) ----------------------------------------------------------
def _current(what: str) -> tuple[Store, str]:
    handle = context.active_run(what)
    handle.check_open()
    return handle.store, handle.id


def log_artifact(
    name: str, value: Any, format: str | None = None, content_type: str | None = None
) -> dict[str, Any]:
    """Store ``value`` as artifact ``name`` of the current run; returns its metadata dict.

    The format is chosen from the value when not given (bytes→``bytes``, str→``text``,
    DataFrame→``parquet``, ndarray→``numpy``, anything else→``pickle``).

    >>> ml.log_artifact("model", clf)                           # doctest: +SKIP
    >>> ml.log_artifact("report", "# Results", format="markdown")  # doctest: +SKIP
    """
    store, run_id = _current("log_artifact()")
    return log_artifact_to(store, run_id, name, value, format, content_type)


def log_file(name: str, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Copy the file at ``path`` into the current run as artifact ``name``, streaming (memory
    stays flat for multi-GB files); the MIME type is guessed from the name and content.

    >>> ml.log_file("plots/loss.png", "/tmp/loss.png")  # doctest: +SKIP
    """
    store, run_id = _current("log_file()")
    return log_file_to(store, run_id, name, path)


def log_table(name: str, table: Any) -> dict[str, Any]:
    """Store a table (``{"headers", "rows"}``, a list of row dicts or a DataFrame) as stable
    JSON; ``load_artifact`` returns ``{"headers": [...], "rows": [[...]]}``.

    >>> table = {"headers": ["", "a", "b"], "rows": [["a", 5, 1]]}
    >>> ml.log_table("confusion", table)  # doctest: +SKIP
    """
    store, run_id = _current("log_table()")
    return log_table_to(store, run_id, name, table)


# -- reading (anywhere) --------------------------------------------------------------------------
def get_artifact(run_id: str, name: str, *, store: Store | None = None) -> dict[str, Any]:
    """The metadata dict of one artifact; ``NotFound`` if the run has no artifact ``name``."""
    st = resolve(store)
    row = st.meta.get_artifact(query.find_run_id(run_id, store=st), names.validate(name))
    if row is None:
        raise NotFound(f"run {run_id} has no artifact named {name!r} (see ml.list_artifacts)")
    return row


def load_artifact(
    run_id: str, name: str, *, trust: bool = False, store: Store | None = None
) -> Any:
    """Decode artifact ``name`` of ``run_id`` by its stored format.

    Pickle and joblib artifacts run code when loaded, so they load without asking only from
    your own local store (a SQLite file with a local artifact directory). From a shared store
    (remote server, PostgreSQL, S3) they raise ``UntrustedArtifact`` unless ``trust=True`` (or
    ``CHACHAML_TRUST_PICKLE=1``): pass it only if you trust everyone who can write there. Other
    formats (json, text, numpy, parquet, ...) load anywhere.

    >>> ml.load_artifact(run_id, "model")  # doctest: +SKIP
    >>> ml.load_artifact(run_id, "model", trust=True)  # a shared store you trust  # doctest: +SKIP
    """
    st = resolve(store)
    row = get_artifact(run_id, name, store=st)
    formats.check_trusted(row["format"], st, trust, f"artifact {row['name']!r} of run {run_id}")
    with st.artifacts.open(row["path"]) as stream:
        return formats.decode(row["format"], stream)


def artifact_path(run_id: str, name: str, *, store: Store | None = None) -> str:
    """A local file path holding the artifact's bytes (read it, do not modify it)."""
    st = resolve(store)
    return st.artifacts.local_path(get_artifact(run_id, name, store=st)["path"])


def open_artifact(
    run_id: str, name: str, *, store: Store | None = None
) -> tuple[dict[str, Any], BinaryIO]:
    """The artifact's metadata row and a binary stream of its bytes (close it when done);
    never decodes anything, so it is safe for any format."""
    st = resolve(store)
    row = get_artifact(run_id, name, store=st)
    return row, st.artifacts.open(row["path"])


def list_artifacts(run_id: str, *, store: Store | None = None) -> list[dict[str, Any]]:
    """Metadata dicts of the run's artifacts in logging order; ``NotFound`` for unknown runs."""
    st = resolve(store)
    return st.meta.list_artifacts(query.find_run_id(run_id, store=st))


# -- store-level operations (the remote store's server side) -----------------------------------
ROW_FORMATS = (*formats.FORMATS, "file", "table")


def artifact_key(run_id: str, name: str) -> str:
    """The artifact-store key of artifact ``name`` of ``run_id``, both validated."""
    return f"{validate.run_id(run_id)}/{names.validate(name)}"


def add_artifact_row(store: Store, record: NewArtifact) -> dict[str, Any]:
    """Insert the metadata row of bytes already committed under ``record.path`` (the second
    phase of :func:`write_artifact` when the bytes were uploaded separately: the remote store).

    Refused, storing nothing: an unknown run (``NotFound``), a key that is not the row's own
    ``<run_id>/<name>``, missing bytes (``NotFound``), and bytes whose size or sha256 differ
    from the row's (``InvalidInput``; the stored bytes are re-hashed, streaming)."""
    name = names.validate(record.name)  # NFC, like every stored name
    record = record._replace(name=name)
    key = artifact_key(record.run_id, name)
    if store.meta.count_runs(RunQuery(ids=[record.run_id], limit=None, include_archived=True)) == 0:
        raise NotFound(f"run {record.run_id!r} does not exist; nothing stored")
    if record.path != key:
        raise InvalidInput(f"artifact path {record.path!r} must be {key!r}")
    if record.format not in ROW_FORMATS:
        raise InvalidInput(f"format {record.format!r} is not one of: {', '.join(ROW_FORMATS)}")
    check_content_type(record.content_type)
    if not re.fullmatch(r"[0-9a-f]{64}", record.sha256):
        raise InvalidInput("sha256 must be 64 lowercase hex characters")
    if not store.artifacts.exists(key):
        raise NotFound(f"no bytes were uploaded for artifact {key!r}")
    _check_bytes(store, key, record.size, record.sha256)
    return store.meta.add_artifact(record)


def _check_bytes(store: Store, key: str, size: int, sha256: str) -> None:
    digest = hashlib.sha256()
    seen = 0
    with store.artifacts.open(key) as stream:
        while block := stream.read(1024 * 1024):
            digest.update(block)
            seen += len(block)
    if seen != size:
        raise InvalidInput(f"artifact {key!r} has {seen} bytes, not {size}; nothing stored")
    if digest.hexdigest() != sha256:
        raise InvalidInput(
            f"artifact {key!r}: the stored bytes have sha256 {digest.hexdigest()}, not "
            f"{sha256}; nothing stored"
        )


def blob_writer(store: Store) -> ArtifactWriter:
    """A writer for raw bytes to commit under a key with :func:`commit_blob` (the remote
    store's upload; the metadata row follows with :func:`add_artifact_row`)."""
    return store.artifacts.writer()


def commit_blob(writer: ArtifactWriter, run_id: str, name: str) -> dict[str, Any]:
    """Commit the written bytes under ``<run_id>/<name>`` (never over existing bytes:
    ``AlreadyExists``); returns ``{"key", "size", "sha256"}``."""
    key = artifact_key(run_id, name)
    writer.commit(key)
    return {"key": key, "size": writer.size, "sha256": writer.sha256}


def open_blob(store: Store, run_id: str, name: str) -> BinaryIO:
    """The raw bytes under ``<run_id>/<name>`` (``NotFound`` if there are none)."""
    return store.artifacts.open(artifact_key(run_id, name))


def blob_info(store: Store, run_id: str, name: str) -> dict[str, Any]:
    """``{"key", "size"}`` of the bytes under ``<run_id>/<name>``; ``NotFound`` if none."""
    key = artifact_key(run_id, name)
    if not store.artifacts.exists(key):
        raise NotFound(f"no bytes under {key!r}")
    return {"key": key, "size": store.artifacts.size(key)}


def delete_unreferenced_bytes(store: Store, key: str) -> int:
    """Delete the bytes under ``key`` unless a metadata row references them (``InUse``);
    returns the bytes freed."""
    from chachaml.errors import InUse

    run_id, _, name = key.partition("/")
    checked = artifact_key(run_id, name)
    if store.meta.get_artifact(run_id, name) is not None:
        raise InUse(f"artifact {checked!r} has a metadata row; delete its run instead")
    return store.artifacts.delete(checked)


def artifact_paths(*, store: Store | None = None) -> list[str]:
    """The artifact-store key of every artifact row (what garbage collection keeps)."""
    return resolve(store).meta.artifact_paths()


def stored_objects(*, store: Store | None = None) -> list[dict[str, Any]]:
    """Every committed object in the artifact store: ``key``, ``size``, ``modified``."""
    return [o._asdict() for o in resolve(store).artifacts.iter_keys()]
