"""Artifact previews for the run page: size-capped reads through ``artifact_api.open_artifact``
(which never decodes anything), shown as an image, rendered markdown, an HTML table, pretty
JSON or text. HTML, SVG and every other type is a download link only.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import markupsafe

from chachaml import artifact_api
from chachaml.errors import ChachamlError
from chachaml.server.ui.markdown import render_markdown
from chachaml.store import Store

__all__ = ["IMAGE_TYPES", "MAX_PREVIEWS", "Preview", "artifact_url", "preview", "preview_kind"]

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
BINARY_FORMATS = frozenset({"pickle", "joblib", "numpy", "parquet", "bytes"})
TEXT_CAP = 64 * 1024  # bytes of text, markdown or JSON shown
TABLE_CAP = 2 * 1024 * 1024  # a table is parsed whole (JSON), so it may be larger
TABLE_ROWS = 100
MAX_PREVIEWS = 24  # artifacts previewed on one page; the rest are links


@dataclass
class Preview:
    """What the template shows for one artifact: ``kind`` is image, markdown, table, json, text
    or download; ``truncated`` when only the start is shown."""

    kind: str
    text: str = ""
    html: markupsafe.Markup = field(default_factory=markupsafe.Markup)
    headers: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    truncated: bool = False
    error: str | None = None


def artifact_url(run_id: str, name: str) -> str:
    """The download route of an artifact (each path segment quoted)."""
    return f"/api/runs/{run_id}/artifacts/{quote(name, safe='/')}"


def _base_type(row: dict[str, Any]) -> str:
    return str(row.get("content_type") or "").split(";", 1)[0].strip().lower()


def preview_kind(row: dict[str, Any]) -> str:
    """How an artifact row is previewed (without reading it)."""
    ctype, fmt = _base_type(row), row.get("format")
    name = str(row.get("name", "")).lower()
    if ctype in IMAGE_TYPES:
        return "image"
    if fmt in BINARY_FORMATS:
        return "download"
    if fmt == "table":
        return "table"
    if fmt == "markdown" or ctype == "text/markdown" or name.endswith((".md", ".markdown")):
        return "markdown"
    if ctype == "application/json" or fmt == "json" or name.endswith(".json"):
        return "json"
    if ctype == "text/csv" or name.endswith(".csv"):
        return "csv"
    if ctype == "text/plain" or fmt == "text":
        return "text"
    return "download"


def _read(store: Store, row: dict[str, Any], cap: int) -> tuple[bytes, bool]:
    _, stream = artifact_api.open_artifact(row["run_id"], row["name"], store=store)
    with stream:
        data = stream.read(cap + 1)
    return data[:cap], len(data) > cap


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def preview(store: Store, row: dict[str, Any]) -> Preview:
    """The preview of one artifact; a read or parse problem becomes ``error`` (with a download
    link still shown), never an exception."""
    kind = preview_kind(row)
    if kind in ("image", "download"):
        return Preview(kind)
    try:
        if kind == "table":
            if int(row.get("size") or 0) > TABLE_CAP:
                return Preview("download", error="table too large to preview")
            data, _ = _read(store, row, TABLE_CAP)
            table = json.loads(data)
            rows = table.get("rows", [])
            return Preview(
                "table",
                headers=[str(h) for h in table.get("headers", [])],
                rows=rows[:TABLE_ROWS],
                truncated=len(rows) > TABLE_ROWS,
            )
        data, cut = _read(store, row, TEXT_CAP)
        text = _decode(data)
        if kind == "markdown":
            return Preview("markdown", html=render_markdown(text), truncated=cut)
        if kind == "csv":
            lines = list(csv.reader(io.StringIO(text)))
            if cut and lines:
                lines.pop()  # the last line may be cut in the middle
            head, body = (lines[0], lines[1:]) if lines else ([], [])
            return Preview(
                "table",
                headers=head,
                rows=body[:TABLE_ROWS],
                truncated=cut or len(body) > TABLE_ROWS,
            )
        if kind == "json" and not cut:
            with contextlib.suppress(ValueError):
                text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
            return Preview("json", text=text)
        return Preview("text", text=text, truncated=cut)
    except (ChachamlError, OSError, ValueError, AttributeError, TypeError) as exc:
        return Preview("download", error=f"no preview: {type(exc).__name__}")
