"""Metric logging: steps, re-logging, summaries, NaN/inf, batching, the background writer."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

import chachaml as ml
from chachaml import tracking
from chachaml.store import sqlite as sqlite_store
from chachaml.store import writer

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def fetch(run_id: str) -> dict:
    got = ml.get_run(run_id)
    assert got is not None
    return got


def steps_values(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(p["step"], p["value"]) for p in ml.metric_history(run_id, key)]


# -- steps ------------------------------------------------------------------------------------


def test_steps_auto_increment_per_key_from_zero(store: ml.Store) -> None:
    with ml.run() as run:
        for v in (0.5, 0.4, 0.3):
            ml.log_metric("loss", v)
        ml.log_metric("acc", 0.9)
        ml.log_metric("acc", 0.95)
    assert steps_values(run.id, "loss") == [(0, 0.5), (1, 0.4), (2, 0.3)]
    assert steps_values(run.id, "acc") == [(0, 0.9), (1, 0.95)]


def test_auto_steps_continue_after_the_highest_explicit_step(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_metric("m", 1.0, step=10)
        ml.log_metric("m", 2.0)
        ml.log_metric("m", 3.0, step=5)
        ml.log_metric("m", 4.0)
    assert steps_values(run.id, "m") == [(5, 3.0), (10, 1.0), (11, 2.0), (12, 4.0)]


def test_auto_steps_are_per_run(store: ml.Store) -> None:
    with ml.run() as outer:
        ml.log_metric("m", 1.0)
        with ml.run() as inner:
            ml.log_metric("m", 2.0)
        ml.log_metric("m", 3.0)
    assert steps_values(outer.id, "m") == [(0, 1.0), (1, 3.0)]
    assert steps_values(inner.id, "m") == [(0, 2.0)]


def test_int64_extreme_and_negative_steps_round_trip(store: ml.Store) -> None:
    with ml.run() as run:
        for step in (INT64_MIN, -1, 0, INT64_MAX):
            ml.log_metric("m", float(step % 7), step=step)
    assert [s for s, _ in steps_values(run.id, "m")] == [INT64_MIN, -1, 0, INT64_MAX]


def test_an_auto_step_past_the_int64_range_is_refused_and_the_run_stays_healthy(
    store: ml.Store,
) -> None:
    with ml.run() as run:
        ml.log_metric("m", 1.0, step=INT64_MAX)
        with pytest.raises(ml.InvalidInput, match="int64"):
            ml.log_metric("m", 2.0)
        ml.log_metric("other", 3.0)
    assert steps_values(run.id, "m") == [(INT64_MAX, 1.0)]
    assert fetch(run.id)["metrics"] == {"m": 1.0, "other": 3.0}
    assert fetch(run.id)["status"] == "completed"


def test_numpy_scalars_are_accepted_as_values_and_steps(store: ml.Store) -> None:
    np = pytest.importorskip("numpy")
    with ml.run() as run:
        ml.log_metric("m", np.float32(0.5), step=np.int64(3))
        ml.log_metric("m", np.int32(2))
        ml.log_metric("d", np.array(1.25))
    assert steps_values(run.id, "m") == [(3, 0.5), (4, 2.0)]
    assert fetch(run.id)["metrics"]["d"] == 1.25


def test_int_values_are_stored_as_floats(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_metric("m", 3)
    (point,) = ml.metric_history(run.id, "m")
    assert point["value"] == 3.0
    assert isinstance(point["value"], float)


# -- re-logging and summaries -----------------------------------------------------------------


def test_relogging_a_step_replaces_the_point_and_the_summary_follows(store: ml.Store) -> None:
    with ml.run() as run:
        for step, v in enumerate((5.0, 1.0, 9.0)):
            ml.log_metric("m", v, step=step)
        store.flush()
        ml.log_metric("m", 3.0, step=1)  # replaces the minimum
        store.flush()
        ml.log_metric("m", 4.0, step=2)  # replaces the maximum and the last value
    assert steps_values(run.id, "m") == [(0, 5.0), (1, 3.0), (2, 4.0)]
    stats = fetch(run.id)["metric_stats"]["m"]
    assert stats["count"] == 3
    assert stats["min"] == 3.0
    assert stats["max"] == 5.0
    assert stats["last"] == 4.0
    assert stats["last_step"] == 2
    assert stats["first"] == 5.0


def test_relogging_a_step_inside_one_flush_keeps_the_later_value(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_metric("m", 1.0, step=0)
        ml.log_metric("m", 2.0, step=1)
        ml.log_metric("m", -7.0, step=1)
        ml.log_metric("m", 0.5, step=0)
    assert steps_values(run.id, "m") == [(0, 0.5), (1, -7.0)]
    stats = fetch(run.id)["metric_stats"]["m"]
    assert (stats["count"], stats["min"], stats["max"], stats["last"]) == (2, -7.0, 0.5, -7.0)


def test_out_of_order_steps_give_the_right_summary(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_metric("m", 1.0, step=10)
        store.flush()
        ml.log_metric("m", 100.0, step=3)
        ml.log_metric("m", -100.0, step=4)
    stats = fetch(run.id)["metric_stats"]["m"]
    assert stats["count"] == 3
    assert (stats["first"], stats["last"], stats["last_step"]) == (100.0, 1.0, 10)
    assert (stats["min"], stats["max"]) == (-100.0, 100.0)


def test_summaries_merge_across_many_flushes(store: ml.Store) -> None:
    values = [3.0, 8.0, -2.0, 5.0, 11.0, 0.0, 4.0]
    with ml.run() as run:
        for v in values:
            ml.log_metric("m", v)
            store.flush()
    stats = fetch(run.id)["metric_stats"]["m"]
    assert stats == {
        "last": 4.0,
        "last_step": 6,
        "timestamp": stats["timestamp"],
        "min": -2.0,
        "max": 11.0,
        "first": 3.0,
        "count": 7,
    }
    assert isinstance(stats["timestamp"], int)


def test_get_run_metrics_are_the_latest_value_not_the_best(store: ml.Store) -> None:
    with ml.run() as run:
        for v in (0.1, 0.9, 0.5):
            ml.log_metric("acc", v)
    assert fetch(run.id)["metrics"] == {"acc": 0.5}


# -- NaN and infinities (SPEC §14.18) ---------------------------------------------------------


def test_nan_metrics_store_and_round_trip_as_nan(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_metric("loss", 1.0)
        ml.log_metric("loss", math.nan)
        ml.log_metric("loss", 0.5)
        ml.log_metric("only_nan", float("nan"))
    history = steps_values(run.id, "loss")
    assert history[0] == (0, 1.0)
    assert history[1][0] == 1
    assert math.isnan(history[1][1])
    assert history[2] == (2, 0.5)
    got = fetch(run.id)
    assert math.isnan(got["metrics"]["only_nan"])
    stats = got["metric_stats"]
    assert (stats["loss"]["min"], stats["loss"]["max"], stats["loss"]["count"]) == (0.5, 1.0, 3)
    assert stats["only_nan"]["min"] is None
    assert stats["only_nan"]["count"] == 1


def test_a_nan_latest_value_reads_as_nan(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_metric("loss", 1.0)
        ml.log_metric("loss", math.nan)
    got = fetch(run.id)
    assert math.isnan(got["metrics"]["loss"])
    assert got["metric_stats"]["loss"]["last_step"] == 1


def test_infinities_round_trip(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_metric("m", math.inf)
        ml.log_metric("m", -math.inf)
        ml.log_metric("m", 1e308)
        ml.log_metric("m", 5e-324)
    assert [v for _, v in steps_values(run.id, "m")] == [math.inf, -math.inf, 1e308, 5e-324]
    stats = fetch(run.id)["metric_stats"]["m"]
    assert (stats["min"], stats["max"]) == (-math.inf, math.inf)


# -- log_metrics ------------------------------------------------------------------------------


def test_log_metrics_logs_each_key_at_the_given_or_its_own_next_step(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_metric("a", 0.0)
        ml.log_metrics({"a": 1.0, "b": 2.0})
        ml.log_metrics({"a": 3.0, "b": 4.0}, step=10)
        run.log_metrics({"c": 5})
    assert steps_values(run.id, "a") == [(0, 0.0), (1, 1.0), (10, 3.0)]
    assert steps_values(run.id, "b") == [(0, 2.0), (10, 4.0)]
    assert steps_values(run.id, "c") == [(0, 5.0)]


def test_log_metrics_with_one_bad_entry_logs_nothing(store: ml.Store) -> None:
    with ml.run() as run:
        with pytest.raises(ml.InvalidInput, match="metric 'b' value must be a number, got str"):
            ml.log_metrics({"a": 1.0, "b": "high"})
        with pytest.raises(ml.InvalidInput, match="metric key must not be empty"):
            ml.log_metrics({"a": 1.0, "": 2.0})
        with pytest.raises(ml.InvalidInput, match="step must be an integer, got float"):
            ml.log_metrics({"a": 1.0}, step=1.5)  # type: ignore[arg-type]
        with pytest.raises(ml.InvalidInput, match="metrics must be a dict"):
            ml.log_metrics([1.0])  # type: ignore[arg-type]
    assert fetch(run.id)["metrics"] == {}


def test_log_metrics_outside_a_run_raises(store: ml.Store) -> None:
    with pytest.raises(ml.NoActiveRun, match=r"log_metrics\(\)"):
        ml.log_metrics({"a": 1.0})


# -- batched_metrics (SPEC §14.7) -------------------------------------------------------------


def test_batched_metrics_of_a_nested_run_stay_in_the_nested_run(store: ml.Store) -> None:
    with ml.run() as outer, ml.batched_metrics():
        ml.log_metric("outer_m", 1.0)
        with ml.run() as inner:
            ml.log_metric("inner_m", 2.0)
            ml.log_metric("inner_m", 3.0)
        ml.log_metric("outer_m", 4.0)
    assert steps_values(outer.id, "outer_m") == [(0, 1.0), (1, 4.0)]
    assert steps_values(inner.id, "inner_m") == [(0, 2.0), (1, 3.0)]
    assert "inner_m" not in fetch(outer.id)["metrics"]
    assert "outer_m" not in fetch(inner.id)["metrics"]


def test_a_batch_spanning_runs_keeps_each_point_in_its_run(store: ml.Store) -> None:
    ids = []
    with ml.batched_metrics():
        for i in range(3):
            with ml.run() as r:
                ml.log_metric("m", float(i))
            ids.append(r.id)
    assert [fetch(i)["metrics"] for i in ids] == [{"m": 0.0}, {"m": 1.0}, {"m": 2.0}]


def test_batched_points_are_written_at_block_exit(store: ml.Store, db_path: Path) -> None:
    with ml.run() as run, ml.open_store(str(db_path)) as other:
        with ml.batched_metrics():
            for i in range(100):
                ml.log_metric("m", float(i))
            store.flush()
            assert other.meta.metric_history(run.id, "m") == []
        assert len(other.meta.metric_history(run.id, "m")) == 100


def test_batched_points_are_written_when_the_block_raises(store: ml.Store) -> None:
    def log_then_fail() -> None:
        with ml.batched_metrics():
            ml.log_metric("m", 1.0)
            ml.log_metric("m", 2.0)
            raise RuntimeError("stop")

    with ml.run() as run:
        with pytest.raises(RuntimeError):
            log_then_fail()
        assert steps_values(run.id, "m") == [(0, 1.0), (1, 2.0)]


def test_a_batch_comes_after_earlier_unbatched_points_of_the_same_step(store: ml.Store) -> None:
    with ml.run() as run:
        ml.log_metric("m", 1.0, step=0)  # buffered in the background writer
        with ml.batched_metrics():
            ml.log_metric("m", 2.0, step=0)
    assert steps_values(run.id, "m") == [(0, 2.0)]


def test_a_batch_routes_points_to_the_store_of_their_run(tmp_path: Path) -> None:
    with ml.open_store(str(tmp_path / "a.db")) as a, ml.open_store(str(tmp_path / "b.db")) as b:
        ra = ml.start_run(store=a)
        rb = ml.start_run(store=b, nested=False)
        with ml.batched_metrics():
            ra.log_metric("m", 1.0)
            rb.log_metric("m", 2.0)
        ml.end_run(rb)
        ml.end_run(ra)
        assert ml.get_run(ra.id, store=a)["metrics"] == {"m": 1.0}
        assert ml.get_run(rb.id, store=b)["metrics"] == {"m": 2.0}
        assert ml.search_runs(ids=[rb.id], include_archived=True, store=a) == []


# -- the background writer --------------------------------------------------------------------


def test_the_buffer_stays_bounded_when_the_writer_falls_behind(
    store: ml.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracking, "HIGH_WATER", 5)
    monkeypatch.setattr(writer, "MAX_BUFFER", 10)
    with ml.run() as run:
        biggest = 0
        for i in range(1000):
            ml.log_metric("m", float(i))
            biggest = max(biggest, len(store.writer.buffer))
    assert biggest <= 10
    assert len(ml.metric_history(run.id, "m")) == 1000


def test_a_failed_write_keeps_the_points_and_a_later_flush_writes_them(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_MS", 50)
    with ml.open_store(str(db_path)) as st:
        handle = ml.start_run(store=st)
        blocker = sqlite3.connect(str(db_path), isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")  # hold the write lock
            for i in range(10):
                handle.log_metric("m", float(i))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                st.flush()
            with st.writer._flush_lock:  # the background thread may be retrying too
                assert len(st.writer.buffer) == 10
            blocker.execute("ROLLBACK")
        finally:
            blocker.close()
        st.flush()
        handle.end()
        assert [v for _, v, _ in st.meta.metric_history(handle.id, "m")] == [
            float(i) for i in range(10)
        ]


def test_logging_to_a_closed_store_fails_at_end_run_without_losing_the_buffer(
    db_path: Path,
) -> None:
    st = ml.open_store(str(db_path))
    handle = ml.start_run(store=st)
    st.meta.close()
    handle.log_metric("m", 1.0)
    with pytest.raises(ml.StoreUnavailable, match="closed"):
        st.flush()
    with st.writer._flush_lock:  # the background thread may be retrying too
        assert len(st.writer.buffer) == 1
        st.writer.buffer.clear()
    with pytest.raises(ml.StoreUnavailable):
        handle.end()
    st.close()


def test_flush_all_at_exit_writes_every_live_writer(tmp_path: Path) -> None:
    with ml.open_store(str(tmp_path / "a.db")) as a, ml.open_store(str(tmp_path / "b.db")) as b:
        ra, rb = ml.start_run(store=a), ml.start_run(store=b, nested=False)
        ra.log_metric("m", 1.0)
        rb.log_metric("m", 2.0)
        writer.flush_all()
        assert a.meta.metric_history(ra.id, "m")[0][1] == 1.0
        assert b.meta.metric_history(rb.id, "m")[0][1] == 2.0
        ml.end_run(rb)
        ml.end_run(ra)


def test_flush_all_reports_a_write_failure_instead_of_raising(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    st = ml.open_store(str(db_path))
    handle = ml.start_run(store=st)
    st.meta.close()
    handle.log_metric("m", 1.0)
    with caplog.at_level("ERROR", logger="chachaml"):
        writer.flush_all()
    assert "could not write buffered metrics at exit" in caplog.text
    with st.writer._flush_lock:
        st.writer.buffer.clear()
    with pytest.raises(ml.StoreUnavailable):
        handle.end()
    st.close()
