"""Long listings (thousands of runs) on SQLite and PostgreSQL: the tags of a listing covering
most of the store come from one scan of the tags table, shorter or narrower listings look them
up per run; both must give every run exactly its own tags."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import backends
import chachaml as ml
from chachaml.store import sqlbase
from chachaml.store.protocol import NewRun

N = sqlbase.BULK_LISTING + 500


@pytest.fixture(params=["sqlite", "postgres"])
def st(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ml.Store]:
    url = str(tmp_path / "l.db") if request.param == "sqlite" else backends.pg_url_for(tmp_path)
    store = ml.open_store(url, artifacts=str(tmp_path / "blobs"))
    yield store
    store.close()


def _tags(i: int) -> dict[str, str]:
    """Run i's tags: none for every seventh run, one or two otherwise."""
    if i % 7 == 0:
        return {}
    out = {"team": f"t{i % 3}"}
    if i % 2:
        out["seed"] = str(i)
    return out


def _populate(st: ml.Store, n: int, experiment: str = "big") -> dict[str, dict[str, str]]:
    expected = {}
    prefix = 0xB16 if experiment == "big" else 0xA11
    for i in range(n):
        run_id = f"{prefix:04x}{i:028x}"
        st.meta.create_run(NewRun(run_id, experiment, None, i, "t", tags=_tags(i)))
        expected[run_id] = _tags(i)
    return expected


def test_a_listing_of_most_runs_carries_each_runs_own_tags(st: ml.Store) -> None:
    expected = _populate(st, N)
    listed = ml.runs(limit=None, store=st)
    assert len(listed) == N
    assert {r["id"]: r["tags"] for r in listed} == expected
    assert [r["start_time"] for r in listed] == sorted(range(N), reverse=True)


def test_long_listings_of_a_minority_and_short_pages_agree(st: ml.Store) -> None:
    expected = _populate(st, N)
    expected_small = _populate(st, N + 1000, experiment="other")  # now `big` is a minority
    listed = ml.runs(experiment="big", limit=None, store=st)
    assert {r["id"]: r["tags"] for r in listed} == expected
    page = ml.runs(experiment="other", limit=50, offset=10, store=st)
    assert {r["id"]: r["tags"] for r in page} == {r["id"]: expected_small[r["id"]] for r in page}
    ml.add_tag(listed[0]["id"], "late", "yes", store=st)
    everything = ml.runs(limit=None, store=st)
    first = listed[0]["id"]
    want = {**expected, **expected_small, first: {**expected[first], "late": "yes"}}
    assert {r["id"]: r["tags"] for r in everything} == want
