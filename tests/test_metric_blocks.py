"""Min/max blocks of long series (``chachaml.store.sqlblocks``) on SQLite and PostgreSQL.

Every check compares against references written here from the raw points: the blocks a series
must have, and the downsampled history those blocks must give. The write paths (appends folded in
from the batch, a series turning long, re-logged and out-of-order steps recomputed in SQL, the
migration's backfill) must all end in the same blocks.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import backends
import chachaml as ml
from chachaml.store import sqlblocks
from chachaml.store.protocol import NewRun

KEY = "loss"
Points = dict[int, float]


@pytest.fixture(params=["sqlite", "postgres"])
def st(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ml.Store]:
    url = str(tmp_path / "m.db") if request.param == "sqlite" else backends.pg_url_for(tmp_path)
    store = ml.open_store(url, artifacts=str(tmp_path / "blobs"))
    with ml.store(store):
        yield store
    store.close()


def _new_run(st: ml.Store, run_id: str = "a" * 32) -> str:
    st.meta.create_run(NewRun(run_id, "blocks", None, 0, "test"))
    return run_id


def _log(st: ml.Store, run_id: str, points: Points, steps: list[int], key: str = KEY) -> None:
    st.meta.log_metrics([(run_id, key, s, points[s], 7) for s in steps])


def _series_id(st: ml.Store, run_id: str, key: str = KEY) -> int:
    with st.meta._read() as conn:  # type: ignore[attr-defined]
        row = conn.execute(
            "SELECT id FROM metric_series WHERE run_id = ? AND key = ?", (run_id, key)
        ).fetchone()
    return int(row[0])


def _stored_blocks(st: ml.Store, sid: int) -> dict[tuple[int, int], tuple[Any, ...]]:
    with st.meta._read() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            "SELECT level, block, count, first_step, min_step, min_value, max_step, max_value "
            "FROM metric_blocks WHERE series_id = ?",
            (sid,),
        ).fetchall()
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def _expected_blocks(points: Points) -> dict[tuple[int, int], tuple[Any, ...]]:
    """Per level and block: count, first step, lowest and highest finite point (lowest step on
    ties; None when the block holds only NaN)."""
    out: dict[tuple[int, int], tuple[Any, ...]] = {}
    for level, shift in enumerate(sqlblocks.SHIFTS, 1):
        groups: dict[int, list[int]] = {}
        for step in sorted(points):
            groups.setdefault(step // 2**shift, []).append(step)
        for block, steps in groups.items():
            finite = [s for s in steps if not math.isnan(points[s])]
            low = min(finite, key=lambda s: (points[s], s)) if finite else None
            high = min(finite, key=lambda s: (-points[s], s)) if finite else None
            out[level, block] = (
                len(steps),
                steps[0],
                low,
                None if low is None else points[low],
                high,
                None if high is None else points[high],
            )
    return out


def _expected_history(points: Points, max_points: int) -> list[int]:
    """The steps a downsampled history keeps: first and last point, and per bucket its lowest
    and highest finite point, or its first point when it holds only NaN. Buckets are equal step
    ranges from the first step; on a long series whose buckets span at least two level-1 blocks
    they are whole blocks of the coarsest level at most half the bucket width."""
    steps = sorted(points)
    lo, hi = steps[0], steps[-1]
    buckets = (max_points - 2) // 2
    width = -(-(hi - lo + 1) // buckets)
    origin = lo
    shifts = [s for s in sqlblocks.SHIFTS if 2 * 2**s <= width]
    if shifts and len(points) >= sqlblocks.ROLLUP_MIN:
        size = 2 ** max(shifts)
        width = -(-width // size) * size
        origin = lo // size * size
    keep = {lo, hi}
    groups: dict[int, list[int]] = {}
    for s in steps:
        groups.setdefault((s - origin) // width, []).append(s)
    for members in groups.values():
        finite = [s for s in members if not math.isnan(points[s])]
        if not finite:
            keep.add(members[0])
            continue
        keep.add(min(finite, key=lambda s: (points[s], s)))
        keep.add(min(finite, key=lambda s: (-points[s], s)))
    return sorted(keep)


def _wavy(steps: range, seed: int) -> Points:
    """Noise with repeated extremes (ties), a long NaN stretch and isolated spikes."""
    rnd = random.Random(seed)
    points = {s: float(rnd.randint(-1000, 1000)) for s in steps}
    first = steps[0]
    for s in range(first + 3000, first + 3300):  # whole level-1 blocks of NaN
        points[s] = math.nan
    points[first + 12345] = 1e9
    points[first + 20001] = -1e9
    points[first + 20002] = -1e9  # a tie: the lower step wins
    return points


def _assert_blocks(st: ml.Store, run_id: str, points: Points) -> None:
    assert _stored_blocks(st, _series_id(st, run_id)) == _expected_blocks(points)


def test_batches_of_appends_build_exact_blocks(st: ml.Store) -> None:
    run_id = _new_run(st)
    points = _wavy(range(-5000, 35000), seed=1)
    steps = sorted(points)
    for i in range(0, len(steps), 7000):  # the series turns long in the third batch
        _log(st, run_id, points, steps[i : i + 7000])
        if i + 7000 < sqlblocks.ROLLUP_MIN:
            assert _stored_blocks(st, _series_id(st, run_id)) == {}
    _assert_blocks(st, run_id, points)


def test_single_log_metric_calls_build_the_same_blocks(st: ml.Store) -> None:
    points = _wavy(range(20000), seed=2)
    with ml.run() as run:
        for step in sorted(points):
            ml.log_metric(KEY, points[step], step=step)
    _assert_blocks(st, run.id, points)


def test_relogged_and_out_of_order_steps_are_recomputed(st: ml.Store) -> None:
    run_id = _new_run(st)
    points = _wavy(range(40000), seed=3)
    evens = [s for s in sorted(points) if s % 2 == 0]
    odds = [s for s in sorted(points) if s % 2 == 1]
    _log(st, run_id, points, evens)
    _log(st, run_id, points, odds[::-1])  # out of order, filling every gap
    _assert_blocks(st, run_id, points)
    # Re-log: the old global extremes disappear, new ones appear, a finite block turns NaN.
    changes = {12345: 0.0, 20001: 5.0, 20002: 5.0, 777: -2e9, 39999: 3e9}
    changes.update(dict.fromkeys(range(64 * 10, 64 * 11), math.nan))
    points.update(changes)
    _log(st, run_id, points, sorted(changes))
    _assert_blocks(st, run_id, points)


def test_a_full_rebuild_in_sql_equals_the_folded_blocks(st: ml.Store) -> None:
    run_id = _new_run(st)
    points = _wavy(range(30000), seed=4)
    steps = sorted(points)
    for i in range(0, len(steps), 4096):
        _log(st, run_id, points, steps[i : i + 4096])
    sid = _series_id(st, run_id)
    folded = _stored_blocks(st, sid)
    with st.meta._write() as conn:  # type: ignore[attr-defined]
        conn.execute("DELETE FROM metric_blocks WHERE series_id = ?", (sid,))
    # Without blocks the history still answers, from the points (the exact range scan).
    steps = [p["step"] for p in ml.metric_history(run_id, KEY, max_points=200)]
    assert steps[0] == 0 and steps[-1] == 29999 and {12345, 20001}.issubset(steps)
    with st.meta._write() as conn:  # type: ignore[attr-defined]
        sqlblocks.refresh(conn, {sid: None})
    assert _stored_blocks(st, sid) == folded == _expected_blocks(points)


@pytest.mark.parametrize("stride", [1, 1000])
def test_downsampled_history_of_a_long_series(st: ml.Store, stride: int) -> None:
    run_id = _new_run(st)
    points = _wavy(range(0, 50000 * stride, stride), seed=5)
    if stride > 1:  # _wavy's specials sit at dense offsets; move the spikes onto real steps
        points[stride * 777] = 1e12
        points[stride * 40000] = -1e12
    steps = sorted(points)
    for i in range(0, len(steps), 20000):
        _log(st, run_id, points, steps[i : i + 20000])
    for max_points in (2000, 500, 51, 5):
        got = ml.metric_history(run_id, KEY, max_points=max_points)
        assert [p["step"] for p in got] == _expected_history(points, max_points)
        assert len(got) <= max_points
        for p in got:
            assert p["timestamp"] == 7
            v = points[p["step"]]
            assert (math.isnan(v) and math.isnan(p["value"])) or p["value"] == v
    everything = ml.metric_history(run_id, KEY, max_points=len(points))
    assert [p["step"] for p in everything] == steps


def test_dense_buckets_fall_back_to_scanning_points(st: ml.Store) -> None:
    """Buckets narrower than two level-1 blocks: the exact range scan answers instead."""
    run_id = _new_run(st)
    points = _wavy(range(20000), seed=6)
    _log(st, run_id, points, sorted(points))
    short_id = _new_run(st, "d" * 32)
    short = {s: points[s] for s in range(2000, 6000)}  # under ROLLUP_MIN, with a NaN stretch
    _log(st, short_id, short, sorted(short))
    got = ml.metric_history(short_id, KEY, max_points=100)
    assert [p["step"] for p in got] == _expected_history(short, 100)
    for max_points in (1000, 300):  # 41 and 134 steps per bucket
        got = ml.metric_history(run_id, KEY, max_points=max_points)
        assert [p["step"] for p in got] == _expected_history(points, max_points)


def test_deleting_a_run_removes_its_blocks(st: ml.Store) -> None:
    run_id = _new_run(st)
    keep = _new_run(st, "b" * 32)
    points = _wavy(range(20000), seed=7)
    _log(st, run_id, points, sorted(points))
    _log(st, keep, points, sorted(points))
    sid, kept = _series_id(st, run_id), _series_id(st, keep)
    st.meta.delete_run(run_id)
    assert _stored_blocks(st, sid) == {}
    assert _stored_blocks(st, kept) == _expected_blocks(points)


def test_migration_backfills_blocks_of_existing_long_series(st: ml.Store, tmp_path: Path) -> None:
    long_run, short_run = _new_run(st), _new_run(st, "c" * 32)
    points = _wavy(range(-100, 25000), seed=8)
    _log(st, long_run, points, sorted(points))
    _log(st, short_run, dict.fromkeys(range(100), 1.0), list(range(100)))
    url = st.meta.url
    with st.meta._write() as conn:  # type: ignore[attr-defined]
        # Back to the schema before migration 4, as a store written by an older version (the
        # later migrations' tables go too).
        for table in ("alert_events", "alerts", "pipeline_steps", "pipelines", "metric_blocks"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DROP INDEX runs_by_end")
        conn.execute("DELETE FROM schema_migrations WHERE version >= 4")
        if url.startswith("sqlite"):
            conn.execute("PRAGMA user_version = 3")
    st.close()
    reopened = ml.open_store(url, artifacts=str(tmp_path / "blobs"))
    try:
        assert _stored_blocks(reopened, _series_id(reopened, long_run)) == _expected_blocks(points)
        assert _stored_blocks(reopened, _series_id(reopened, short_run)) == {}
    finally:
        reopened.close()


@pytest.mark.parametrize("seed", [11, 12])
def test_random_sparse_steps_over_the_whole_int64_range(st: ml.Store, seed: int) -> None:
    """Huge, sparse, negative and extreme steps, written in shuffled batches with re-logs."""
    rnd = random.Random(seed)
    run_id = _new_run(st)
    lo, hi = -(2**63), 2**63 - 1
    steps = {lo, hi} | {rnd.randint(lo, hi) for _ in range(17_000)}
    steps |= {rnd.randint(-5000, 5000) for _ in range(2000)}  # a dense cluster near zero
    points = {s: rnd.choice([rnd.uniform(-1, 1), math.nan, 0.5]) for s in steps}
    order = sorted(points)
    batches = [order[i : i + 3000] for i in range(0, len(order), 3000)]
    rnd.shuffle(batches)
    for batch in batches:
        _log(st, run_id, points, batch)
    relog = rnd.sample(order, 500)
    for s in relog:
        points[s] = rnd.uniform(-2, 2)
    _log(st, run_id, points, sorted(relog))
    _assert_blocks(st, run_id, points)
    for max_points in (1000, 37):
        got = ml.metric_history(run_id, KEY, max_points=max_points)
        assert [p["step"] for p in got] == _expected_history(points, max_points)
