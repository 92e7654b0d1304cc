"""Encoding and decoding of artifact values, one function pair per format.

Optional libraries (numpy, pandas, pyarrow, joblib) are imported inside the functions that need
them, so ``import chachaml`` never imports them. Encoders write into a binary stream (the
artifact store's staging writer), so large arrays and frames never need a second copy in memory.

| format | value | content type |
|---|---|---|
| ``pickle`` | any picklable object (default) | ``application/x-pickle`` |
| ``json`` | JSON-serialisable data | ``application/json`` |
| ``text`` / ``markdown`` | ``str`` | ``text/plain`` / ``text/markdown`` (UTF-8) |
| ``bytes`` | ``bytes``/``bytearray``/``memoryview`` | ``application/octet-stream`` |
| ``numpy`` | ``numpy.ndarray`` (no object dtype) | ``application/x-npy`` |
| ``parquet`` | ``pandas.DataFrame`` (needs pyarrow) | ``application/vnd.apache.parquet`` |
| ``joblib`` | any object joblib can dump | ``application/x-joblib`` |
| ``table`` | written by ``log_table``: ``{"headers", "rows"}`` JSON | ``application/json`` |
| ``file`` | written by ``log_file``: the file's bytes | guessed from name/content |

Decoding ``pickle`` and ``joblib`` runs code chosen by whoever wrote the bytes, so it is an
explicit trust decision (:func:`check_trusted`): allowed for a local SQLite file with a local
artifact directory (your own files), elsewhere only with ``trust=True`` or
``CHACHAML_TRUST_PICKLE=1``. Every other format decodes without running code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol

from chachaml.errors import InvalidInput, UntrustedArtifact

FORMATS = ("pickle", "json", "text", "markdown", "bytes", "numpy", "parquet", "joblib")
STORED_FORMATS = (*FORMATS, "table", "file")  # the last two are written by log_table/log_file

CONTENT_TYPES = {
    "pickle": "application/x-pickle",
    "json": "application/json",
    "text": "text/plain; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
    "bytes": "application/octet-stream",
    "numpy": "application/x-npy",
    "parquet": "application/vnd.apache.parquet",
    "joblib": "application/x-joblib",
    "table": "application/json",
}


class Sink(Protocol):
    def write(self, data: bytes | bytearray | memoryview) -> int: ...


def _is_instance(value: object, module: str, cls: str) -> bool:
    """isinstance against an optional library's class, without importing the library."""
    mod = sys.modules.get(module)
    typ = getattr(mod, cls, None) if mod is not None else None
    return isinstance(typ, type) and isinstance(value, typ)


def has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def choose(value: object) -> str:
    """The default format for ``value``: bytes→bytes, str→text, DataFrame→parquet (with
    pyarrow, else pickle), ndarray→numpy (pickle for object arrays), anything else→pickle."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, str):
        return "text"
    if _is_instance(value, "pandas", "DataFrame"):
        return "parquet" if has_pyarrow() else "pickle"
    if _is_instance(value, "numpy", "ndarray"):
        return "pickle" if value.dtype.hasobject else "numpy"  # type: ignore[attr-defined]
    return "pickle"


def check_format(fmt: object) -> str:
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r} is not one of: {', '.join(FORMATS)}")
    return str(fmt)


# -- encoders: (value, sink) -> None; raise InvalidInput for values the format cannot hold ----
def _need(value: object, ok: bool, fmt: str, accepted: str) -> None:
    if not ok:
        raise InvalidInput(
            f"format {fmt!r} needs {accepted}, got {type(value).__name__}; "
            "pass format='pickle' (or leave format unset) for arbitrary objects"
        )


def _enc_pickle(value: Any, sink: Sink) -> None:
    import pickle

    try:
        pickle.dump(value, sink, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise InvalidInput(
            f"value of type {type(value).__name__} cannot be pickled: {exc}"
        ) from exc


def _enc_json(value: Any, sink: Sink) -> None:
    import json

    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"value is not JSON-serialisable: {exc}") from exc
    sink.write(text.encode("utf-8"))


def _enc_text(value: Any, sink: Sink, fmt: str = "text") -> None:
    _need(value, isinstance(value, str), fmt, "a str")
    try:
        sink.write(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"{fmt} artifact is not valid Unicode: {exc}") from exc


def _enc_markdown(value: Any, sink: Sink) -> None:
    _enc_text(value, sink, "markdown")


def _enc_bytes(value: Any, sink: Sink) -> None:
    _need(value, isinstance(value, (bytes, bytearray, memoryview)), "bytes", "bytes-like data")
    sink.write(value)


def _enc_numpy(value: Any, sink: Sink) -> None:
    _need(value, _is_instance(value, "numpy", "ndarray"), "numpy", "a numpy.ndarray")
    if value.dtype.hasobject:
        raise InvalidInput("format 'numpy' cannot hold object arrays; use format='pickle'")
    import numpy as np

    np.save(sink, value, allow_pickle=False)


def _enc_parquet(value: Any, sink: Sink) -> None:
    _need(value, _is_instance(value, "pandas", "DataFrame"), "parquet", "a pandas.DataFrame")
    if not has_pyarrow():
        raise InvalidInput("format 'parquet' needs pyarrow: pip install 'chachaml[pandas]'")
    try:
        value.to_parquet(sink, engine="pyarrow")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"DataFrame cannot be written as parquet: {exc}") from exc


def _joblib() -> Any:
    import importlib

    try:
        return importlib.import_module("joblib")
    except ImportError as exc:
        raise InvalidInput("format 'joblib' needs joblib: pip install joblib") from exc


def _enc_joblib(value: Any, sink: Sink) -> None:
    _joblib().dump(value, sink)


ENCODERS: dict[str, Callable[[Any, Sink], None]] = {
    "pickle": _enc_pickle,
    "json": _enc_json,
    "text": _enc_text,
    "markdown": _enc_markdown,
    "bytes": _enc_bytes,
    "numpy": _enc_numpy,
    "parquet": _enc_parquet,
    "joblib": _enc_joblib,
}


def encode(value: Any, fmt: str, sink: Sink) -> None:
    """Write ``value`` in ``fmt`` into ``sink``."""
    ENCODERS[fmt](value, sink)


# -- trust -------------------------------------------------------------------------------------
#: Formats whose decoding can run arbitrary code (unpickling).
UNSAFE_FORMATS = frozenset({"pickle", "joblib"})
TRUST_ENV = "CHACHAML_TRUST_PICKLE"


def is_own_store(store: Any) -> bool:
    """True for a local SQLite file (or in-memory database) with a local artifact directory:
    files only you write. Remote servers, PostgreSQL and S3 are shared, so not."""
    from chachaml.artifacts.local import LocalArtifactStore
    from chachaml.store.sqlite import SQLiteStore

    return isinstance(getattr(store, "meta", None), SQLiteStore) and isinstance(
        getattr(store, "artifacts", None), LocalArtifactStore
    )


def check_trusted(fmt: str, store: Any, trust: bool, what: str) -> None:
    """Raise :class:`UntrustedArtifact` unless decoding ``fmt`` from ``store`` is allowed:
    safe formats always are; ``pickle``/``joblib`` with ``trust=True``,
    ``CHACHAML_TRUST_PICKLE=1``, or from your own local SQLite + directory store."""
    if fmt not in UNSAFE_FORMATS or trust is True or os.environ.get(TRUST_ENV) == "1":
        return
    if is_own_store(store):
        return
    raise UntrustedArtifact(
        f"{what} is a {fmt} artifact: loading it runs code chosen by whoever wrote it, and "
        "this store is not a local SQLite file with a local artifact directory (a remote "
        "server, PostgreSQL or S3 can be written by others). "
        "If you trust everyone who can write there, pass trust=True (or set "
        f"{TRUST_ENV}=1); otherwise log models and data in a safe format (json, numpy, "
        "parquet, text) instead"
    )


# -- decoders: (stream) -> value ---------------------------------------------------------------
def _dec_pickle(stream: BinaryIO) -> Any:
    import pickle

    return pickle.load(stream)


def _dec_json(stream: BinaryIO) -> Any:
    import json

    return json.loads(stream.read().decode("utf-8"))


def _dec_text(stream: BinaryIO) -> Any:
    return stream.read().decode("utf-8")


def _dec_bytes(stream: BinaryIO) -> Any:
    return stream.read()


def _dec_numpy(stream: BinaryIO) -> Any:
    import numpy as np

    return np.load(stream, allow_pickle=False)


def _dec_parquet(stream: BinaryIO) -> Any:
    import pandas as pd

    return pd.read_parquet(stream, engine="pyarrow")


def _dec_joblib(stream: BinaryIO) -> Any:
    return _joblib().load(stream)


DECODERS: dict[str, Callable[[BinaryIO], Any]] = {
    "pickle": _dec_pickle,
    "json": _dec_json,
    "text": _dec_text,
    "markdown": _dec_text,
    "bytes": _dec_bytes,
    "numpy": _dec_numpy,
    "parquet": _dec_parquet,
    "joblib": _dec_joblib,
    "table": _dec_json,
    "file": _dec_bytes,
}


def decode(fmt: str, stream: BinaryIO) -> Any:
    """Read a value of stored format ``fmt`` from ``stream``."""
    decoder = DECODERS.get(fmt)
    if decoder is None:
        raise InvalidInput(f"stored format {fmt!r} is unknown to this version of chachaml")
    return decoder(stream)


# -- tables ---------------------------------------------------------------------------------
def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        import math

        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and type(value).__module__.startswith("numpy"):
        return _cell(item())
    return str(value)


def table_json(table: Any) -> dict[str, Any]:
    """Normalise a table to ``{"headers": [str...], "rows": [[cell...]...]}``.

    Accepts that dict shape, a list of row dicts (headers in first-seen key order, missing cells
    ``None``) or a pandas DataFrame (a named or non-default index becomes columns). Cells become
    JSON scalars: numpy scalars are unwrapped, NaN/±inf become ``None``, other objects ``str()``.
    """
    if _is_instance(table, "pandas", "DataFrame"):
        import pandas as pd

        frame = table
        if not isinstance(frame.index, pd.RangeIndex) or any(
            n is not None for n in frame.index.names
        ):
            frame = frame.reset_index()
        headers = [str(c) for c in frame.columns]
        rows = [[_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    elif isinstance(table, dict):
        if set(table) != {"headers", "rows"}:
            raise InvalidInput('a table dict must have exactly the keys "headers" and "rows"')
        headers, rows_in = table["headers"], table["rows"]
        if not isinstance(headers, (list, tuple)) or not isinstance(rows_in, (list, tuple)):
            raise InvalidInput('table "headers" and "rows" must be lists')
        headers = [str(h) for h in headers]
        rows = []
        for i, row in enumerate(rows_in):
            if not isinstance(row, (list, tuple)) or len(row) != len(headers):
                raise InvalidInput(
                    f"table row {i} must be a list of {len(headers)} cells (one per header)"
                )
            rows.append([_cell(v) for v in row])
    elif isinstance(table, (list, tuple)) and all(isinstance(r, dict) for r in table):
        seen: dict[str, None] = {}
        for row in table:
            for k in row:
                seen.setdefault(str(k), None)
        headers = list(seen)
        rows = [
            [_cell({str(k): v for k, v in row.items()}.get(h)) for h in headers] for row in table
        ]
    else:
        raise InvalidInput(
            'a table must be {"headers": [...], "rows": [[...]]}, a list of row dicts or a '
            f"pandas DataFrame, got {type(table).__name__}"
        )
    return {"headers": headers, "rows": rows}
