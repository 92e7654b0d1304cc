"""Artifacts, backend-agnostic: every format round-trips bit-exactly, names are checked, and an
existing artifact is never overwritten."""

from __future__ import annotations

import hashlib
import math
import os
import time
from pathlib import Path

import pytest

import chachaml as ml
from chachaml.errors import AlreadyExists, InvalidInput, NoActiveRun, NotFound

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")


def _keys(st: ml.Store) -> list[str]:
    return sorted(o.key for o in st.artifacts.iter_keys())


def _nothing_staged(st: ml.Store) -> bool:
    return st.artifacts.clean_staging(time.time() + 3600) == 0


def _sha(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Point:
    def __init__(self, x: float, y: float) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    __hash__ = None  # type: ignore[assignment]


def _frame(n: int) -> object:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "i": np.arange(n, dtype=np.int64),
            "f": rng.standard_normal(n),
            "nan": np.where(np.arange(n) % 7 == 0, np.nan, 1.5),
            "s": [f"row-{i}-é" for i in range(n)],
            "b": np.arange(n) % 2 == 0,
            "t": pd.date_range("2024-01-01", periods=n, freq="s"),
        }
    )


ROUND_TRIPS = {
    "pickle": (Point(1.5, -2.0), None),
    "pickle-dict": ({"a": [1, 2.5, None], "nan": math.inf, "t": (1, "x")}, "pickle"),
    "json": ({"lr": 0.1, "layers": [64, 32], "name": "ünï", "ok": True, "none": None}, "json"),
    "text": ("line 1\nline 2 — ünïcode ✓\n", None),
    "markdown": ("# Title\n\n$x^2$ and **bold**", "markdown"),
    "bytes": (bytes(range(256)) * 1000, None),
}


@pytest.mark.parametrize("case", list(ROUND_TRIPS))
def test_plain_formats_round_trip(conformance_store: ml.Store, case: str) -> None:
    value, fmt = ROUND_TRIPS[case]
    with ml.run() as run:
        meta = ml.log_artifact("a", value, format=fmt)
    assert ml.load_artifact(run.id, "a") == value
    assert meta["format"] == (fmt or {"pickle": "pickle", "text": "text", "bytes": "bytes"}[case])
    assert ml.list_artifacts(run.id) == [meta]


def test_large_numpy_arrays_round_trip_bit_exact(conformance_store: ml.Store) -> None:
    rng = np.random.default_rng(0)
    big = rng.standard_normal((1024, 4096))  # 32 MiB
    big[0, :3] = [np.nan, np.inf, -0.0]
    payload_nan = np.frombuffer(
        np.array([0x7FF8DEADBEEF0001], dtype=np.uint64).tobytes(), np.float64
    )
    arrays = {
        "big": big,
        "ints": np.arange(-(10**6), 10**6, 7, dtype=np.int64).reshape(-1, 1),
        "fortran": np.asfortranarray(rng.integers(0, 255, (300, 200), dtype=np.uint8)),
        "nan-payload": payload_nan,
        "structured": np.array([(1, 2.5), (3, -1.0)], dtype=[("a", "<i4"), ("b", "<f8")]),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "half": np.linspace(0, 1, 1001, dtype=np.float16),
    }
    with ml.run() as run:
        for name, arr in arrays.items():
            assert ml.log_artifact(name, arr)["format"] == "numpy"
    for name, arr in arrays.items():
        back = ml.load_artifact(run.id, name)
        assert back.dtype == arr.dtype and back.shape == arr.shape
        assert back.tobytes(order="A") == arr.tobytes(order="A")


def test_dataframes_round_trip_bit_exact_as_parquet(conformance_store: ml.Store) -> None:
    pytest.importorskip("pyarrow")
    frame = _frame(200_000)
    indexed = _frame(50).set_index("s")
    with ml.run() as run:
        assert ml.log_artifact("df", frame)["format"] == "parquet"
        ml.log_artifact("indexed", indexed)
    pd.testing.assert_frame_equal(ml.load_artifact(run.id, "df"), frame, check_exact=True)
    pd.testing.assert_frame_equal(ml.load_artifact(run.id, "indexed"), indexed, check_exact=True)
    back = ml.load_artifact(run.id, "df")
    assert back["f"].to_numpy().tobytes() == frame["f"].to_numpy().tobytes()


def test_joblib_round_trip(conformance_store: ml.Store) -> None:
    pytest.importorskip("joblib")
    value = {"weights": np.arange(100_000, dtype=np.float64), "bias": 0.5}
    with ml.run() as run:
        assert ml.log_artifact("model", value, format="joblib")["format"] == "joblib"
    back = ml.load_artifact(run.id, "model")
    assert back["weights"].tobytes() == value["weights"].tobytes() and back["bias"] == 0.5


def test_metadata_records_size_sha256_and_content_type(conformance_store: ml.Store) -> None:
    data = os.urandom(300_000)
    with ml.run() as run:
        meta = ml.log_artifact("plots/raw.bin", data, content_type="image/png")
    assert meta["size"] == len(data)
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    assert meta["content_type"] == "image/png"
    path = ml.artifact_path(run.id, "plots/raw.bin")
    assert Path(path).read_bytes() == data and _sha(path) == meta["sha256"]
    assert ml.get_run(run.id)["artifacts"] == [meta]


def test_duplicate_name_is_rejected_and_existing_bytes_stay(conformance_store: ml.Store) -> None:
    st = conformance_store
    with ml.run() as run:
        first = ml.log_artifact("model", b"first version")
        with pytest.raises(AlreadyExists) as err:
            ml.log_artifact("model", b"second version that must not land")
        assert run.id in str(err.value) and "'model'" in str(err.value)
    assert ml.load_artifact(run.id, "model") == b"first version"
    assert ml.list_artifacts(run.id) == [first]
    assert _sha(ml.artifact_path(run.id, "model")) == first["sha256"]
    assert _keys(st) == [f"{run.id}/model"] and _nothing_staged(st)


def test_artifact_store_commit_never_overwrites_an_existing_key(
    conformance_store: ml.Store,
) -> None:
    st = conformance_store
    with ml.run() as run:
        ml.log_artifact("model", b"original")
    writer = st.artifacts.writer()
    writer.write(b"intruder")
    with pytest.raises(AlreadyExists):
        writer.commit(f"{run.id}/model")
    with st.artifacts.open(f"{run.id}/model") as f:
        assert f.read() == b"original"
    assert _nothing_staged(st)


def test_failed_encoding_stores_nothing(conformance_store: ml.Store) -> None:
    st = conformance_store
    with ml.run() as run:
        with pytest.raises(InvalidInput):
            ml.log_artifact("fn", lambda: 0)  # not picklable
        with pytest.raises(InvalidInput):
            ml.log_artifact("j", {1, 2}, format="json")
        with pytest.raises(InvalidInput):
            ml.log_artifact("t", b"bytes", format="text")
        with pytest.raises(InvalidInput):
            ml.log_artifact("o", np.array([object()]), format="numpy")
        with pytest.raises(InvalidInput):
            ml.log_artifact("x", 1, format="yaml")
        with pytest.raises(InvalidInput):
            ml.log_artifact("x", 1, content_type="not a type\n")
    assert ml.list_artifacts(run.id) == []
    assert _keys(st) == [] and _nothing_staged(st)


@pytest.mark.parametrize(
    "name", ["../escape", "a/../../x", "/etc/passwd", "..\\x", "%2e%2e/x", "a\x00b", "", "x" * 256]
)
def test_hostile_names_are_refused_everywhere_and_create_nothing(
    conformance_store: ml.Store, name: str, tmp_path: Path
) -> None:
    st = conformance_store
    src = tmp_path / "src.txt"
    src.write_text("data")
    with ml.run() as run:
        with pytest.raises(InvalidInput):
            ml.log_artifact(name, b"x")
        with pytest.raises(InvalidInput):
            ml.log_file(name, src)
        with pytest.raises(InvalidInput):
            ml.log_table(name, [{"a": 1}])
        with pytest.raises(InvalidInput):
            st.artifacts.exists(f"{run.id}/{name}")
    for read in (ml.load_artifact, ml.artifact_path):
        with pytest.raises(InvalidInput):
            read(run.id, name)
    assert _keys(st) == [] and _nothing_staged(st)


def test_log_file_streams_bytes_and_guesses_mime_type(
    conformance_store: ml.Store, tmp_path: Path
) -> None:
    data = os.urandom(5 * 1024 * 1024 + 17)
    (tmp_path / "weights.bin").write_bytes(data)
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(100)
    (tmp_path / "noext").write_bytes(png)
    (tmp_path / "notes.txt").write_text("héllo")
    with ml.run() as run:
        big = ml.log_file("weights.bin", tmp_path / "weights.bin")
        sniffed = ml.log_file("plots/figure", str(tmp_path / "noext"))
        named = ml.log_file("plots/loss.png", tmp_path / "noext")
        text = ml.log_file("notes", tmp_path / "notes.txt")
        with pytest.raises(InvalidInput):
            ml.log_file("missing", tmp_path / "does-not-exist")
    assert big["size"] == len(data) and big["sha256"] == hashlib.sha256(data).hexdigest()
    assert ml.load_artifact(run.id, "weights.bin") == data
    assert sniffed["content_type"] == "image/png" and named["content_type"] == "image/png"
    assert text["content_type"].startswith("text/plain")
    assert big["format"] == "file"


def test_tables_are_stored_as_stable_json(conformance_store: ml.Store) -> None:
    expected = {"headers": ["label", "a", "b"], "rows": [["a", 5, 1], ["b", 2, None]]}
    frame = pd.DataFrame({"label": ["a", "b"], "a": [5, 2], "b": [1.0, np.nan]})
    with ml.run() as run:
        m1 = ml.log_table(
            "t1", {"headers": ["label", "a", "b"], "rows": [["a", 5, 1], ["b", 2, None]]}
        )
        m2 = ml.log_table("t2", [{"label": "a", "a": 5, "b": 1}, {"label": "b", "a": 2}])
        ml.log_table("t3", frame)
        run.log_table("t4", [{"label": "a", "a": 5, "b": 1}, {"label": "b", "a": 2}])
        with pytest.raises(InvalidInput):
            ml.log_table("bad", {"headers": ["a"], "rows": [[1, 2]]})
        with pytest.raises(InvalidInput):
            ml.log_table("bad", 42)
    assert ml.load_artifact(run.id, "t1") == expected
    assert ml.load_artifact(run.id, "t2") == expected
    t3 = ml.load_artifact(run.id, "t3")
    assert t3["headers"] == ["label", "a", "b"] and t3["rows"][1][2] is None
    assert m1["sha256"] == m2["sha256"] == ml.get_run(run.id)["artifacts"][3]["sha256"]
    assert m1["format"] == "table" and m1["content_type"] == "application/json"


def test_run_handle_methods_log_to_their_own_run(
    conformance_store: ml.Store, tmp_path: Path
) -> None:
    (tmp_path / "f.csv").write_text("a,b\n1,2\n")
    with ml.run() as outer, ml.run() as inner:
        outer.log_artifact("cfg", {"k": 1}, format="json")
        inner.log_file("data.csv", tmp_path / "f.csv")
    assert [a["name"] for a in ml.list_artifacts(outer.id)] == ["cfg"]
    (csv,) = ml.list_artifacts(inner.id)
    assert csv["content_type"].startswith("text/csv")
    with pytest.raises(InvalidInput):
        outer.log_artifact("late", b"x")  # the run has ended


def test_logging_outside_a_run_raises_no_active_run(conformance_store: ml.Store) -> None:
    for call in (
        lambda: ml.log_artifact("a", 1),
        lambda: ml.log_table("t", [{"a": 1}]),
        lambda: ml.log_file("f", "x"),
    ):
        with pytest.raises(NoActiveRun):
            call()


def test_reading_unknown_runs_and_names_raises_not_found(conformance_store: ml.Store) -> None:
    with ml.run() as run:
        pass
    unknown = "0" * 32
    with pytest.raises(NotFound):
        ml.load_artifact(run.id, "nope")
    with pytest.raises(NotFound):
        ml.artifact_path(run.id, "nope")
    with pytest.raises(NotFound):
        ml.list_artifacts(unknown)
    with pytest.raises(InvalidInput):
        ml.list_artifacts("not-a-run-id")


def test_artifact_store_protocol_basics(conformance_store: ml.Store) -> None:
    blobs = conformance_store.artifacts
    key = "0" * 32 + "/dir/obj"
    assert not blobs.exists(key)
    writer = blobs.writer()
    writer.write(b"abc")
    writer.write(memoryview(b"def"))
    assert writer.size == 6 and writer.sha256 == hashlib.sha256(b"abcdef").hexdigest()
    writer.commit(key)
    assert blobs.exists(key) and blobs.size(key) == 6
    with blobs.open(key) as f:
        assert f.read() == b"abcdef"
    assert Path(blobs.local_path(key)).read_bytes() == b"abcdef"
    assert [o.key for o in blobs.iter_keys()] == [key]
    assert blobs.delete(key) == 6 and blobs.delete(key) == 0
    assert list(blobs.iter_keys()) == []
    with pytest.raises(NotFound):
        blobs.open(key)
    discarded = blobs.writer()
    discarded.write(b"zzz")
    discarded.discard()
    assert list(blobs.iter_keys()) == [] and _nothing_staged(conformance_store)
