"""Dataset metadata: describe the data a run used, computed from a DataFrame or array when given.

Neither pandas nor numpy is imported here; objects are recognised by duck typing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from chachaml import validate
from chachaml.errors import InvalidInput

MAX_FEATURES = 10_000


def _is_dataframe(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")


def _is_ndarray(data: Any) -> bool:
    return type(data).__module__ == "numpy" and hasattr(data, "shape") and hasattr(data, "dtype")


def _frame_hash(df: Any) -> str:
    import hashlib

    import pandas as pd

    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in df.columns]).encode())
    digest.update(json.dumps([str(t) for t in df.dtypes]).encode())
    digest.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def _array_hash(arr: Any) -> str:
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    digest.update(f"{arr.dtype.str}{arr.shape}".encode())
    if arr.dtype.hasobject:
        digest.update(repr(arr.tolist()).encode())
    else:
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


def describe(data: Any) -> dict[str, Any]:
    """``n_rows``, ``n_cols``, ``features`` and a content ``hash`` of a DataFrame, array or list."""
    if _is_dataframe(data):
        return {
            "n_rows": len(data),
            "n_cols": len(data.columns),
            "features": [str(c) for c in data.columns][:MAX_FEATURES],
            "hash": _frame_hash(data),
        }
    if _is_ndarray(data):
        shape = tuple(int(n) for n in data.shape)
        return {
            "n_rows": shape[0] if shape else 1,
            "n_cols": shape[1] if len(shape) > 1 else 1,
            "features": None,
            "hash": _array_hash(data),
        }
    if type(data).__module__.startswith("pandas") and hasattr(data, "name"):  # a Series
        return {
            "n_rows": len(data),
            "n_cols": 1,
            "features": [str(data.name)] if data.name is not None else None,
            "hash": _frame_hash(data.to_frame()),
        }
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        import hashlib

        try:
            text = json.dumps(data, sort_keys=True, default=repr)
        except (TypeError, ValueError) as exc:  # pragma: no cover - default=repr covers most
            raise InvalidInput(
                f"cannot describe dataset of type {type(data).__name__}: {exc}"
            ) from exc
        first = data[0] if data else None
        n_cols = (
            len(first) if isinstance(first, (Sequence, dict)) and not isinstance(first, str) else 1
        )
        return {
            "n_rows": len(data),
            "n_cols": n_cols,
            "features": sorted(first) if isinstance(first, dict) else None,
            "hash": hashlib.sha256(text.encode()).hexdigest(),
        }
    raise InvalidInput(
        f"log_dataset() cannot describe a {type(data).__name__}; pass a pandas DataFrame/Series, "
        "a numpy array or a list, or give n_rows/n_cols/features/hash yourself"
    )


def _opt_count(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not hasattr(value, "__index__") or int(value) < 0:
        raise InvalidInput(f"{what} must be a non-negative integer, got {value!r}")
    return int(value)


def _opt_text(value: Any, what: str, limit: int = 4096) -> str | None:
    return validate.optional_text(value, what, limit=limit)


def build(
    data: Any,
    *,
    role: str,
    name: str | None,
    n_rows: int | None,
    n_cols: int | None,
    features: Sequence[str] | None,
    hash: str | None,
    source: str | None,
    now_ms: int,
) -> dict[str, Any]:
    """Validate arguments and merge them with what ``describe(data)`` computes (explicit wins)."""
    record: dict[str, Any] = {
        "role": validate.key(role, "dataset role"),
        "name": validate.optional_name(name, "dataset name"),
        "source": _opt_text(source, "dataset source"),
        "n_rows": None,
        "n_cols": None,
        "features": None,
        "hash": None,
        "created_at": now_ms,
    }
    if data is not None:
        record.update(describe(data))
    if features is not None:
        if isinstance(features, str) or not all(isinstance(f, str) for f in features):
            raise InvalidInput("dataset features must be a list of strings")
        record["features"] = [
            validate.text(f, "dataset feature name", limit=4096)
            for f in list(features)[:MAX_FEATURES]
        ]
    for field, value in (("n_rows", n_rows), ("n_cols", n_cols)):
        if value is not None:
            record[field] = _opt_count(value, f"dataset {field}")
    if hash is not None:
        record["hash"] = _opt_text(hash, "dataset hash", 256)
    return record
