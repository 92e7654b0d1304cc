"""Artifacts on the default backends: memory use, lazy optional imports, format helpers,
artifact locations and the local directory layout."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import chachaml as ml
from chachaml.artifact_api import guess_content_type
from chachaml.artifacts import formats
from chachaml.errors import InvalidInput, StoreUnavailable

BENCH = Path(__file__).resolve().parent.parent / "bench" / "log_file_memory.py"


def test_log_file_of_a_large_file_keeps_peak_memory_flat() -> None:
    spec = importlib.util.spec_from_file_location("log_file_memory", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.run_in_subprocess(160 * 2**20)  # a fresh process: a clean peak-RSS baseline
    assert result["file_mib"] == 160
    assert result["peak_rss_delta_mib"] < 100


def test_import_chachaml_imports_no_optional_dependency() -> None:
    code = (
        "import sys, chachaml as ml; ml.registry; "
        "print([m for m in ('numpy', 'pandas', 'pyarrow', 'joblib') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_default_layout_is_db_artifacts_run_id_name(tmp_path: Path) -> None:
    with ml.store(str(tmp_path / "exp.db")):
        with ml.run() as run:
            meta = ml.log_artifact("plots/roc.png", b"png")
        path = ml.artifact_path(run.id, "plots/roc.png")
    assert Path(path) == (tmp_path / "exp-artifacts" / run.id / "plots" / "roc.png").resolve()
    assert meta["path"] == f"{run.id}/plots/roc.png"


def test_opening_a_store_creates_no_artifact_folder(tmp_path: Path) -> None:
    with ml.store(str(tmp_path / "lazy.db")), ml.run():
        ml.log_metric("x", 1.0)
    assert not (tmp_path / "lazy-artifacts").exists()


def test_artifact_locations(tmp_path: Path) -> None:
    with ml.open_store(str(tmp_path / "a.db"), artifacts=f"file://{tmp_path / 'here'}") as st:
        assert st.artifacts.url == f"file://{tmp_path / 'here'}"
    with pytest.raises(StoreUnavailable, match="not available yet"):
        ml.open_store(str(tmp_path / "b.db"), artifacts="gs://bucket/prefix")
    with ml.open_store(str(tmp_path / "b.db"), artifacts="s3://bucket/prefix") as st:
        assert st.artifacts.url == "s3://bucket/prefix"  # lazy: nothing contacted yet
    with pytest.raises(InvalidInput):
        ml.open_store(str(tmp_path / "c.db"), artifacts="ftp://host/x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"raw", "bytes"),
        (bytearray(b"raw"), "bytes"),
        ("text", "text"),
        ({"a": 1}, "pickle"),
        ([1, 2], "pickle"),
        (None, "pickle"),
    ],
)
def test_format_is_chosen_from_the_value(value: object, expected: str) -> None:
    assert formats.choose(value) == expected


def test_numpy_and_pandas_values_choose_their_formats() -> None:
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    assert formats.choose(np.zeros(3)) == "numpy"
    assert formats.choose(np.array([object()])) == "pickle"
    assert formats.choose(pd.DataFrame({"a": [1]})) == (
        "parquet" if formats.has_pyarrow() else "pickle"
    )


def test_table_cells_become_json_scalars() -> None:
    np = pytest.importorskip("numpy")
    table = formats.table_json(
        [{"n": np.int64(3), "x": float("nan"), "inf": float("inf"), "o": Path("p")}, {"extra": 1}]
    )
    assert table == {
        "headers": ["n", "x", "inf", "o", "extra"],
        "rows": [[3, None, None, "p", None], [None, None, None, None, 1]],
    }
    json.dumps(table, allow_nan=False)


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("a.png", b"", "image/png"),
        ("report.html", b"<html>", "text/html"),
        ("blob", b"\x89PNG\r\n\x1a\nrest", "image/png"),
        ("blob", b"%PDF-1.7", "application/pdf"),
        ("blob", "héllo wörld".encode(), "text/plain; charset=utf-8"),
        ("blob", b"\x00\xff\xfe\x80" * 10, "application/octet-stream"),
        ("blob", b"", "application/octet-stream"),
    ],
)
def test_content_type_is_guessed_from_name_then_content(
    name: str, head: bytes, expected: str
) -> None:
    assert guess_content_type(name, head) == expected


def test_a_failed_metadata_insert_removes_the_placed_bytes(tmp_path: Path) -> None:
    from chachaml import artifact_api as api

    blobs = tmp_path / "blobs"
    with ml.store(str(tmp_path / "m.db"), artifacts=str(blobs)) as st:
        ghost = "a" * 32  # a well-formed id of a run that does not exist
        with pytest.raises(ml.NotFound):
            api.log_artifact_to(st, ghost, "model", b"bytes")
        assert list(st.artifacts.iter_keys()) == []
    assert not (blobs / ghost).exists()


def test_load_model_security_note_is_in_the_docs() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs"
    text = (docs / "artifacts.md").read_text(encoding="utf-8")
    assert "untrusted" in text and "pickle" in text


def test_staging_file_is_removed_when_the_value_fails_midway(tmp_path: Path) -> None:
    class Exploding:
        def __reduce__(self) -> tuple[object, ...]:
            raise TypeError("cannot pickle this")

    blobs = tmp_path / "blobs"
    with (
        ml.store(str(tmp_path / "m.db"), artifacts=str(blobs)),
        ml.run() as run,
        pytest.raises(InvalidInput, match="cannot be pickled"),
    ):
        ml.log_artifact("bad", [b"x" * 100_000, Exploding()])
    assert os.listdir(blobs / ".staging") == []
    assert not (blobs / run.id).exists()


def test_log_artifact_given_a_path_to_a_file_points_to_log_file(
    store: ml.Store, tmp_path: Path
) -> None:
    plot = tmp_path / "plot.png"
    plot.write_bytes(b"\x89PNG\r\n\x1a\n")
    with ml.run() as run:
        for value in (str(plot), plot):
            with pytest.raises(ml.InvalidInput, match=r"use ml.log_file\('plot.png'"):
                ml.log_artifact("plot.png", value)
        assert ml.list_artifacts(run.id) == []  # nothing stored by the refused calls
        ml.log_artifact("where", str(plot), format="text")  # explicitly the text
        ml.log_artifact("note", "not a file path")  # ordinary text is still text
    assert ml.load_artifact(run.id, "where") == str(plot)
    assert ml.load_artifact(run.id, "note") == "not a file path"
