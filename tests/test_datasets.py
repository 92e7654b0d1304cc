"""``log_dataset``: metadata computed from DataFrames/arrays/lists, or given explicitly."""

from __future__ import annotations

import hashlib

import pytest

import chachaml as ml
from chachaml import datasets

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")


def logged(data: object = None, **kw: object) -> dict:
    with ml.run() as run:
        returned = ml.log_dataset(data, **kw)  # type: ignore[arg-type]
    (stored,) = ml.get_datasets(run.id)
    assert {k: stored[k] for k in returned} == returned
    return stored


def test_a_dataframe_gives_rows_columns_features_and_a_content_hash(store: ml.Store) -> None:
    df = pd.DataFrame({"sepal": [5.1, 4.9, 4.7], "species": ["a", "b", "a"]})
    ds = logged(df, role="train", name="iris", source="s3://bucket/iris.csv")
    assert (ds["role"], ds["name"], ds["source"]) == ("train", "iris", "s3://bucket/iris.csv")
    assert (ds["n_rows"], ds["n_cols"]) == (3, 2)
    assert ds["features"] == ["sepal", "species"]
    assert len(ds["hash"]) == 64
    assert isinstance(ds["created_at"], int)


def test_the_dataframe_hash_follows_the_content(store: ml.Store) -> None:
    df = pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 0.25, 0.125]})
    same = datasets.describe(df.copy())["hash"]
    assert datasets.describe(df)["hash"] == same
    changed = df.copy()
    changed.loc[1, "y"] = 0.3
    assert datasets.describe(changed)["hash"] != same
    assert datasets.describe(df.rename(columns={"y": "z"}))["hash"] != same
    assert datasets.describe(df.astype({"x": "float64"}))["hash"] != same
    assert datasets.describe(df.iloc[::-1])["hash"] != same  # row order matters


def test_a_numpy_array_gives_its_shape_and_a_content_hash(store: ml.Store) -> None:
    arr = np.arange(12, dtype=np.float64).reshape(4, 3)
    ds = logged(arr, role="test")
    assert (ds["n_rows"], ds["n_cols"], ds["features"]) == (4, 3, None)
    assert ds["hash"] == datasets.describe(arr.copy())["hash"]
    changed = arr.copy()
    changed[2, 1] = -1
    assert datasets.describe(changed)["hash"] != ds["hash"]
    assert datasets.describe(arr.reshape(3, 4))["hash"] != ds["hash"]
    assert datasets.describe(arr.astype(np.float32))["hash"] != ds["hash"]
    assert (
        datasets.describe(arr.T)["hash"] == datasets.describe(np.ascontiguousarray(arr.T))["hash"]
    )


def test_one_dimensional_scalar_and_object_arrays(store: ml.Store) -> None:
    assert datasets.describe(np.arange(5))[("n_rows")] == 5
    assert datasets.describe(np.arange(5))["n_cols"] == 1
    assert datasets.describe(np.float64(3.0).reshape(()))["n_rows"] == 1
    objs = np.array([{"a": 1}, None], dtype=object)
    assert (
        datasets.describe(objs)["hash"]
        != datasets.describe(np.array([{"a": 2}, None], dtype=object))["hash"]
    )


def test_a_series_and_a_list_can_be_described(store: ml.Store) -> None:
    s = pd.Series([1, 2, 3], name="target")
    ds = logged(s, role="labels")
    assert (ds["n_rows"], ds["n_cols"], ds["features"]) == (3, 1, ["target"])
    assert datasets.describe(pd.Series([1, 2]))["features"] is None
    rows = [{"b": 1, "a": 2}, {"b": 3, "a": 4}]
    d = datasets.describe(rows)
    assert (d["n_rows"], d["n_cols"], d["features"]) == (2, 2, ["a", "b"])
    assert d["hash"] == hashlib.sha256(b'[{"a": 2, "b": 1}, {"a": 4, "b": 3}]').hexdigest()
    assert datasets.describe([[1, 2, 3]])["n_cols"] == 3
    assert datasets.describe([1, 2])["n_cols"] == 1
    assert datasets.describe([])["n_rows"] == 0


def test_explicit_fields_override_what_is_computed(store: ml.Store) -> None:
    df = pd.DataFrame({"a": [1, 2]})
    ds = logged(df, n_rows=1000, n_cols=7, features=["f1", "f2"], hash="abc", role="validation")
    assert (ds["n_rows"], ds["n_cols"], ds["features"], ds["hash"]) == (
        1000,
        7,
        ["f1", "f2"],
        "abc",
    )


def test_metadata_only_datasets_are_recorded(store: ml.Store) -> None:
    ds = logged(role="test", name="holdout", n_rows=np.int64(50), source="warehouse.table")
    assert (ds["name"], ds["n_rows"], ds["n_cols"], ds["hash"]) == ("holdout", 50, None, None)


def test_several_datasets_per_run_in_logging_order(store: ml.Store) -> None:
    with ml.run() as run:
        for role in ("train", "validation", "test"):
            run.log_dataset(role=role, n_rows=1)
    assert [d["role"] for d in ml.get_datasets(run.id)] == ["train", "validation", "test"]
    assert [d["role"] for d in ml.get_run(run.id)["datasets"]] == ["train", "validation", "test"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": object()}, "cannot describe a object"),
        ({"data": "a string"}, "cannot describe a str"),
        ({"n_rows": -1}, "dataset n_rows must be a non-negative integer, got -1"),
        ({"n_cols": 1.5}, "dataset n_cols must be a non-negative integer"),
        ({"n_rows": True}, "dataset n_rows must be a non-negative integer"),
        ({"features": "abc"}, "dataset features must be a list of strings"),
        ({"features": ["a", 1]}, "dataset features must be a list of strings"),
        ({"hash": "x" * 300}, "dataset hash is 300 characters long; the limit is 256"),
        ({"source": 5}, "dataset source must be a string"),
        ({"role": ""}, "dataset role must not be empty"),
        ({"name": "n" * 251}, "dataset name is 251 characters long"),
    ],
)
def test_bad_dataset_arguments_are_refused_and_store_nothing(
    store: ml.Store, kwargs: dict, message: str
) -> None:
    with ml.run() as run:
        with pytest.raises(ml.InvalidInput) as info:
            ml.log_dataset(**kwargs)
        assert message in str(info.value)
    assert ml.get_datasets(run.id) == []


def test_log_dataset_outside_a_run_raises(store: ml.Store) -> None:
    with pytest.raises(ml.NoActiveRun, match=r"log_dataset\(\)"):
        ml.log_dataset(n_rows=1)
