"""Run lifecycle: statuses, nesting, explicit style, @tracked, crash detection, durability."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import chachaml as ml
from chachaml import context, liveness, runs_api
from chachaml.store.protocol import NewRun


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def fetch(run_id: str) -> dict:
    got = ml.get_run(run_id)
    assert got is not None
    return got


# -- statuses of the context manager --------------------------------------------------------


def test_a_run_that_exits_normally_is_completed_with_an_end_time(store: ml.Store) -> None:
    before = now_ms()
    with ml.run(experiment="iris", name="first") as run:
        assert ml.current_run() is run
    after = now_ms()
    got = fetch(run.id)
    assert got["status"] == "completed"
    assert got["experiment"] == "iris"
    assert got["name"] == "first"
    assert got["error"] is None
    assert before <= got["start_time"] <= got["end_time"] <= after
    assert got["duration_ms"] == got["end_time"] - got["start_time"]


def test_a_run_whose_block_raises_is_failed_with_the_error_text_and_the_error_propagates(
    store: ml.Store,
) -> None:
    started: list[str] = []

    def divide() -> None:
        with ml.run(experiment="e") as run:
            started.append(run.id)
            ml.log_metric("loss", 0.5)
            _ = 1 / 0

    with pytest.raises(ZeroDivisionError):
        divide()
    got = fetch(started[0])
    assert got["status"] == "failed"
    assert got["error"].startswith("ZeroDivisionError: division by zero")
    assert "Traceback" in got["error"]
    assert got["metrics"] == {"loss": 0.5}  # points logged before the error are kept


def test_keyboard_interrupt_marks_the_run_killed_and_still_propagates(store: ml.Store) -> None:
    with pytest.raises(KeyboardInterrupt), ml.run() as run:
        raise KeyboardInterrupt
    got = fetch(run.id)
    assert got["status"] == "killed"
    assert got["error"] == "KeyboardInterrupt"


def test_very_long_error_text_is_truncated(store: ml.Store) -> None:
    with pytest.raises(ValueError), ml.run() as run:
        raise ValueError("x" * 50_000)
    assert len(fetch(run.id)["error"]) == runs_api.MAX_ERROR_CHARS


def test_no_run_is_current_after_the_block(store: ml.Store) -> None:
    with ml.run():
        pass
    with pytest.raises(ml.NoActiveRun, match=r"current_run\(\) needs an active run"):
        ml.current_run()
    with pytest.raises(ml.NoActiveRun, match=r"log_metric\(\).*ml\.bind"):
        ml.log_metric("x", 1.0)


def test_run_without_experiment_goes_to_default_and_records_the_user(
    store: ml.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHACHA_USER", "ada")
    with ml.run() as run:
        pass
    got = fetch(run.id)
    assert got["experiment"] == "default"
    assert got["created_by"] == "ada"
    with ml.run(created_by="grace") as other:
        pass
    assert fetch(other.id)["created_by"] == "grace"


def test_run_ids_are_uuid4_hex_and_unique(store: ml.Store) -> None:
    ids = set()
    for _ in range(50):
        rid = runs_api.new_run_id()
        assert len(rid) == 32
        assert int(rid, 16) >= 0
        assert rid[12] == "4"  # version nibble
        assert rid[16] in "89ab"  # variant bits
        ids.add(rid)
    assert len(ids) == 50


# -- nesting ----------------------------------------------------------------------------------


def test_a_run_opened_inside_another_is_its_child_and_inherits_the_experiment(
    store: ml.Store,
) -> None:
    with ml.run(experiment="sweep") as outer:
        with ml.run(name="fold-1") as a:
            assert ml.current_run() is a
        with ml.run(name="fold-2") as b:
            pass
        assert ml.current_run() is outer
    assert fetch(a.id)["parent_run_id"] == outer.id
    assert fetch(a.id)["experiment"] == "sweep"
    assert fetch(outer.id)["children"] == [a.id, b.id]
    assert fetch(outer.id)["parent_run_id"] is None
    assert {r["id"] for r in ml.runs(parent_run_id=outer.id)} == {a.id, b.id}


def test_nested_false_starts_an_independent_run(store: ml.Store) -> None:
    with ml.run(experiment="a") as outer, ml.run(nested=False) as inner:
        pass
    assert fetch(inner.id)["parent_run_id"] is None
    assert fetch(inner.id)["experiment"] == "default"
    assert fetch(outer.id)["children"] == []


def test_parent_can_be_given_as_an_id_or_a_handle(store: ml.Store) -> None:
    with ml.run(experiment="p") as parent:
        pass
    with ml.run(parent=parent.id) as by_id:
        pass
    assert fetch(by_id.id)["parent_run_id"] == parent.id
    handle = ml.start_run(experiment="q")
    with ml.run(parent=handle, nested=False) as by_handle:
        pass
    ml.end_run(handle)
    assert fetch(by_handle.id)["parent_run_id"] == handle.id
    assert fetch(by_handle.id)["experiment"] == "q"


def test_an_unknown_parent_id_is_not_found_and_creates_nothing(store: ml.Store) -> None:
    with pytest.raises(ml.NotFound, match=r"0{32}"), ml.run(parent="0" * 32):
        pass
    assert ml.runs() == []
    with pytest.raises(ml.InvalidInput, match="malformed"), ml.run(parent="not-an-id"):
        pass


def test_a_child_failure_does_not_fail_the_parent(store: ml.Store) -> None:
    with ml.run() as outer:
        with pytest.raises(RuntimeError), ml.run() as child:
            raise RuntimeError("fold broke")
        ml.log_metric("after", 1.0)
    assert fetch(child.id)["status"] == "failed"
    assert fetch(outer.id)["status"] == "completed"
    assert fetch(outer.id)["metrics"] == {"after": 1.0}


def test_a_run_in_another_store_does_not_become_the_parent(tmp_path: Path) -> None:
    with ml.open_store(str(tmp_path / "a.db")) as a, ml.open_store(str(tmp_path / "b.db")) as b:
        with ml.store(a), ml.run() as outer, ml.store(b), ml.run() as inner:
            pass
        assert ml.get_run(inner.id, store=b)["parent_run_id"] is None
        assert ml.get_run(outer.id, store=a)["children"] == []


# -- explicit style ---------------------------------------------------------------------------


def test_start_run_and_end_run_in_explicit_style(store: ml.Store) -> None:
    handle = ml.start_run(experiment="nb", name="cell")
    ml.log_param("lr", 0.1)
    ml.log_metric("acc", 0.5)
    assert fetch(handle.id)["status"] == "running"
    ml.end_run()
    got = fetch(handle.id)
    assert got["status"] == "completed"
    assert got["params"] == {"lr": 0.1}
    assert got["metrics"] == {"acc": 0.5}
    with pytest.raises(ml.NoActiveRun):
        ml.log_metric("acc", 0.6)


def test_end_run_accepts_a_final_status_and_error(store: ml.Store) -> None:
    handle = ml.start_run()
    ml.end_run(status="failed", error="diverged")
    got = fetch(handle.id)
    assert (got["status"], got["error"]) == ("failed", "diverged")


def test_end_run_refuses_a_bad_status_and_keeps_the_run_open(store: ml.Store) -> None:
    handle = ml.start_run()
    with pytest.raises(ml.InvalidInput, match="status 'done' is not one of"):
        ml.end_run(status="done")
    with pytest.raises(ml.InvalidInput, match="status 'running' is not one of"):
        ml.end_run(status="running")
    with pytest.raises(ml.InvalidInput, match="error must be a string"):
        ml.end_run(error=42)  # type: ignore[arg-type]
    assert fetch(handle.id)["status"] == "running"
    ml.log_metric("still", 1.0)  # the run is still open
    ml.end_run()
    assert fetch(handle.id)["metrics"] == {"still": 1.0}


def test_end_run_twice_is_a_no_op(store: ml.Store) -> None:
    handle = ml.start_run()
    handle.end("killed", "stopped")
    handle.end("completed")
    assert fetch(handle.id)["status"] == "killed"


def test_end_run_without_any_run_raises_no_active_run(store: ml.Store) -> None:
    with pytest.raises(ml.NoActiveRun):
        ml.end_run()


def test_explicit_runs_nest_and_end_innermost_first(store: ml.Store) -> None:
    outer = ml.start_run(experiment="x")
    inner = ml.start_run(nested=True)
    assert fetch(inner.id)["parent_run_id"] == outer.id
    ml.end_run()
    assert ml.current_run() is outer
    assert fetch(inner.id)["status"] == "completed"
    assert fetch(outer.id)["status"] == "running"
    ml.end_run()
    assert fetch(outer.id)["status"] == "completed"


def test_the_handle_start_run_returns_is_a_context_manager(store: ml.Store) -> None:
    handle = ml.start_run(experiment="h")

    def fail() -> None:
        with handle:
            handle.log_metric("m", 2.0)
            raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        fail()
    assert fetch(handle.id)["status"] == "failed"
    assert fetch(handle.id)["metrics"] == {"m": 2.0}
    with pytest.raises(ml.NoActiveRun):
        ml.current_run()


def test_an_explicit_run_is_visible_from_another_context(store: ml.Store) -> None:
    import contextvars

    handle = ml.start_run()
    # A fresh context (like a later notebook cell that does not share this one) still sees it.
    seen = contextvars.Context().run(ml.current_run)
    assert seen is handle
    contextvars.Context().run(ml.log_param, "from_elsewhere", 1)
    assert fetch(handle.id)["params"] == {"from_elsewhere": 1}
    contextvars.Context().run(ml.end_run)
    assert fetch(handle.id)["status"] == "completed"
    with pytest.raises(ml.NoActiveRun):
        ml.current_run()


def test_logging_through_an_ended_handle_is_refused(store: ml.Store) -> None:
    with ml.run() as run:
        run.log_metric("a", 1.0)
    with pytest.raises(ml.InvalidInput, match="has ended"):
        run.log_metric("a", 2.0)
    with pytest.raises(ml.InvalidInput, match="has ended"):
        run.log_metric("new", 2.0)
    with pytest.raises(ml.InvalidInput, match="has ended"):
        run.log_params({"p": 1})
    with pytest.raises(ml.InvalidInput, match="has ended"):
        run.log_dataset(n_rows=3)
    assert fetch(run.id)["metrics"] == {"a": 1.0}
    assert fetch(run.id)["params"] == {}


# -- the run handle ---------------------------------------------------------------------------


def test_the_handle_is_a_mapping_of_the_run_dict(store: ml.Store) -> None:
    with ml.run(experiment="m", name="n") as run:
        run.log_metric("acc", 0.25)
        info = run.info
        assert info["metrics"] == {"acc": 0.25}  # .info flushes buffered points first
        assert dict(run)["status"] == "running"
        assert run["experiment"] == "m"
        assert "params" in run
        assert len(run) == len(info)
        assert set(iter(run)) == set(info)
        assert repr(run) == f"<chachaml run {run.id} experiment='m' running>"
    assert "ended" in repr(run)
    assert run.info["status"] == "completed"
    assert run["status"] == "completed"  # __getitem__ reads the refreshed snapshot


def test_handles_compare_by_identity(store: ml.Store) -> None:
    with ml.run() as a, ml.run() as b:
        assert a != b
        assert a == a
        assert len({a, b}) == 2


def test_set_name_renames_the_current_run(store: ml.Store) -> None:
    with ml.run(name="before") as run:
        ml.set_name("after")
    assert fetch(run.id)["name"] == "after"
    with pytest.raises(ml.NoActiveRun, match="set_name"):
        ml.set_name("x")
    with ml.run() as run2:
        with pytest.raises(ml.InvalidInput, match="run name must not be empty"):
            ml.set_name("")
        run2.set_note("# note")
    assert fetch(run2.id)["name"] is None
    assert fetch(run2.id)["note"] == "# note"


# -- @tracked ---------------------------------------------------------------------------------


@ml.tracked
def train(x: int) -> int:
    ml.log_metric("x", float(x))
    return x * 2


@ml.tracked(experiment="exp", name="custom", tags={"kind": "fit"})
def train_named() -> str:
    return ml.current_run().id


@ml.tracked
def explode() -> None:
    raise RuntimeError("kaboom")


@ml.tracked(experiment="async")
async def train_async(x: float) -> str:
    await asyncio.sleep(0)
    ml.log_metric("y", x)
    return ml.current_run().id


def test_tracked_function_call_is_its_own_run_named_after_the_function(store: ml.Store) -> None:
    assert train(3) == 6
    assert train(4) == 8
    found = ml.runs(name="train")
    assert len(found) == 2
    assert all(r["status"] == "completed" for r in found)
    assert found[0]["tags"] == {"tracked_fn": f"{__name__}.train"}
    assert {fetch(r["id"])["metrics"]["x"] for r in found} == {3.0, 4.0}
    assert train.__name__ == "train"  # functools.wraps


def test_tracked_with_arguments_sets_experiment_name_and_tags(store: ml.Store) -> None:
    run_id = train_named()
    got = fetch(run_id)
    assert got["experiment"] == "exp"
    assert got["name"] == "custom"
    assert got["tags"] == {"kind": "fit", "tracked_fn": f"{__name__}.train_named"}


def test_tracked_function_failure_marks_the_run_failed_and_reraises(store: ml.Store) -> None:
    with pytest.raises(RuntimeError, match="kaboom"):
        explode()
    (run,) = ml.runs(name="explode")
    assert run["status"] == "failed"
    assert "kaboom" in run["error"]


def test_tracked_async_functions_run_as_separate_runs_concurrently(store: ml.Store) -> None:
    async def main() -> list[str]:
        return await asyncio.gather(train_async(1.0), train_async(2.0), train_async(3.0))

    ids = asyncio.run(main())
    assert len(set(ids)) == 3
    values = sorted(fetch(i)["metrics"]["y"] for i in ids)
    assert values == [1.0, 2.0, 3.0]
    assert all(fetch(i)["experiment"] == "async" for i in ids)
    assert all(fetch(i)["status"] == "completed" for i in ids)
    assert all(fetch(i)["parent_run_id"] is None for i in ids)


def test_tracked_refuses_generator_functions() -> None:
    def gen() -> object:
        yield 1

    async def agen() -> object:
        yield 1

    with pytest.raises(ml.InvalidInput, match="cannot wrap generator"):
        ml.tracked(gen)
    with pytest.raises(ml.InvalidInput, match="cannot wrap generator"):
        ml.tracked(name="g")(agen)


def test_tracked_inside_a_run_becomes_a_child(store: ml.Store) -> None:
    with ml.run() as outer:
        train(1)
    (child,) = ml.runs(name="train")
    assert child["parent_run_id"] == outer.id


# -- durability -------------------------------------------------------------------------------


def test_end_run_makes_every_point_durable_for_another_store_object(db_path: Path) -> None:
    writer = ml.open_store(str(db_path))
    try:
        handle = ml.start_run(store=writer)
        for step in range(5000):
            handle.log_metric("loss", step / 10, step=step)
        handle.log_metric("acc", 1.0)
        ml.end_run(handle)
        with ml.open_store(str(db_path)) as reader:
            history = ml.metric_history(handle.id, "loss", store=reader)
            assert len(history) == 5000
            assert history[-1] == {
                "step": 4999,
                "value": 499.9,
                "timestamp": history[-1]["timestamp"],
            }
            got = ml.get_run(handle.id, store=reader)
            assert got["status"] == "completed"
            assert got["metrics"] == {"acc": 1.0, "loss": 499.9}
    finally:
        writer.close()


def test_buffered_points_reach_disk_within_a_second_without_end_run(db_path: Path) -> None:
    with ml.open_store(str(db_path)) as writer, ml.open_store(str(db_path)) as reader:
        handle = ml.start_run(store=writer)
        handle.log_metric("m", 1.0)
        deadline = time.monotonic() + 5
        while not reader.meta.metric_history(handle.id, "m"):
            assert time.monotonic() < deadline, "the background writer never flushed"
            time.sleep(0.02)
        handle.end()


def test_store_close_flushes_buffered_points(db_path: Path) -> None:
    import contextvars

    def body() -> str:  # in its own context: the run is left open on purpose
        st = ml.open_store(str(db_path))
        handle = ml.start_run(store=st)
        context.pop_explicit(handle)
        for i in range(10):
            handle.log_metric("m", float(i))
        st.close()
        return handle.id

    run_id = contextvars.copy_context().run(body)
    with ml.open_store(str(db_path)) as again:
        assert len(again.meta.metric_history(run_id, "m")) == 10
        assert again.meta.get_run(run_id)["status"] == "running"


# -- crashed runs -----------------------------------------------------------------------------


def test_a_running_run_without_a_recent_heartbeat_reads_as_crashed(store: ml.Store) -> None:
    handle = ml.start_run()
    store.meta.heartbeat([handle.id], now_ms() - 10 * 60_000)
    assert fetch(handle.id)["status"] == "crashed"
    assert [r["id"] for r in ml.runs(status="crashed")] == [handle.id]
    assert ml.runs(status="running") == []
    store.meta.heartbeat([handle.id], now_ms())
    assert fetch(handle.id)["status"] == "running"
    assert ml.runs(status="crashed") == []
    ml.end_run()
    # A finished run is never reported crashed, however old its heartbeat.
    store.meta.heartbeat([handle.id], 0)
    assert fetch(handle.id)["status"] == "completed"


def test_heartbeat_timeout_is_configurable(
    store: ml.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = ml.start_run()
    store.meta.heartbeat([handle.id], now_ms() - 5_000)
    assert fetch(handle.id)["status"] == "running"
    monkeypatch.setattr(liveness, "HEARTBEAT_TIMEOUT_MS", 1_000)
    assert fetch(handle.id)["status"] == "crashed"
    ml.end_run()


def test_the_writer_thread_refreshes_heartbeats(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chachaml.store import writer

    monkeypatch.setattr(writer, "HEARTBEAT_INTERVAL", 0.0)
    with ml.open_store(str(db_path)) as st:
        handle = ml.start_run(store=st)
        st.meta.heartbeat([handle.id], 1)
        deadline = time.monotonic() + 5
        while st.meta.get_run(handle.id)["heartbeat"] == 1:
            assert time.monotonic() < deadline, "heartbeat never refreshed"
            time.sleep(0.02)
        handle.end()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _insert_running(store: ml.Store, *, pid: int | None, host: str | None = None) -> str:
    from chachaml import envinfo

    run_id = runs_api.new_run_id()
    store.meta.create_run(
        NewRun(
            id=run_id,
            experiment="e",
            name=None,
            start_time=now_ms() - 1000,
            created_by="u",
            host=envinfo.hostname() if host is None else host,
            pid=pid,
        )
    )
    return run_id


def test_finalize_crashed_marks_runs_of_dead_local_processes(db_path: Path) -> None:
    with ml.open_store(str(db_path)) as st:
        dead = _insert_running(st, pid=_dead_pid())
        mine = _insert_running(st, pid=os.getpid())
        unknown_pid = _insert_running(st, pid=None)
        elsewhere = _insert_running(st, pid=_dead_pid(), host="another-host")
        start = st.meta.get_run(dead)["heartbeat"]
        assert liveness.finalize_crashed(st) == [dead]
        got = st.meta.get_run(dead)
        assert got["status"] == "crashed"
        assert got["end_time"] == start  # the last sign of life, not "now"
        assert "died" in got["error"]
        for other in (mine, unknown_pid, elsewhere):
            assert st.meta.get_run(other)["status"] == "running"
        assert liveness.finalize_crashed(st) == []


def test_opening_a_store_and_reading_finalizes_dead_runs_once(db_path: Path) -> None:
    with ml.open_store(str(db_path)) as st:
        dead = _insert_running(st, pid=_dead_pid())
    with ml.open_store(str(db_path)) as fresh:
        assert ml.get_run(dead, store=fresh)["status"] == "crashed"
        assert ml.runs(status="crashed", store=fresh)[0]["id"] == dead


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_can_log_its_own_run_and_the_parent_keeps_its_points(
    db_path: Path,
) -> None:
    import warnings

    with ml.open_store(str(db_path)) as st, ml.store(st):
        with ml.run() as parent_run:
            for i in range(100):
                ml.log_metric("p", float(i))
            st.flush()
            ml.log_metric("p", 100.0)  # still buffered at fork time
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
                pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                code = 1
                try:
                    with ml.run(nested=False, name="child") as child:
                        for i in range(50):
                            child.log_metric("c", float(i))
                    code = 0
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
        (child,) = ml.runs(name="child")
        assert child["status"] == "completed"
        assert len(ml.metric_history(child["id"], "c")) == 50
        assert len(ml.metric_history(parent_run.id, "p")) == 101
        assert st.meta.integrity_check() == "ok"


def test_when_ending_a_nested_run_fails_the_outer_run_is_current_again(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from chachaml.store import sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "BUSY_TIMEOUT_MS", 50)
    with ml.open_store(str(db_path)) as st, ml.store(st), ml.run() as outer:
        blocker = sqlite3.connect(str(db_path), isolation_level=None)
        try:
            with ml.run() as inner:
                blocker.execute("BEGIN IMMEDIATE")  # the inner run cannot record its end
            pytest.fail("ending the inner run should have failed")
        except sqlite3.OperationalError:
            pass
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert ml.current_run() is outer
        ml.log_metric("after", 1.0)
    with ml.open_store(str(db_path)) as again:
        assert ml.get_run(outer.id, store=again)["metrics"] == {"after": 1.0}
        assert ml.get_run(outer.id, store=again)["status"] == "completed"
        assert ml.get_run(inner.id, store=again)["status"] == "running"


def test_reading_a_closed_store_is_store_unavailable(db_path: Path) -> None:
    st = ml.open_store(str(db_path))
    with ml.run(store=st) as run:
        pass
    assert ml.get_run(run.id, store=st) is not None  # opens this thread's reader
    st.close()
    with pytest.raises(ml.StoreUnavailable, match="closed"):
        ml.get_run(run.id, store=st)
    with pytest.raises(ml.StoreUnavailable, match="closed"):
        ml.runs(store=st)


# -- the explicit style: a forgotten end_run, and end_run's arguments ---------------------------


def test_a_forgotten_end_run_makes_the_next_start_run_refuse_instead_of_nesting(
    store: ml.Store,
) -> None:
    first = ml.start_run(experiment="nb")
    with pytest.raises(ml.InvalidInput, match=rf"run {first.id} .* has not ended") as info:
        ml.start_run(experiment="nb")
    assert "nested=True" in str(info.value) and "nested=False" in str(info.value)
    assert [r["id"] for r in ml.runs()] == [first.id]  # nothing was created
    child = ml.start_run(nested=True)
    assert fetch(child.id)["parent_run_id"] == first.id
    ml.end_run(child)
    separate = ml.start_run(nested=False)
    assert fetch(separate.id)["parent_run_id"] is None
    ml.end_run(separate)
    ml.end_run(first)
    after = ml.start_run()  # every explicit run has ended: no question to ask
    assert fetch(after.id)["parent_run_id"] is None
    ml.end_run()


def test_with_blocks_inside_an_explicit_run_still_nest(store: ml.Store) -> None:
    outer = ml.start_run()
    with ml.run() as inner:
        pass
    assert fetch(inner.id)["parent_run_id"] == outer.id
    ml.end_run()


def test_end_run_takes_a_handle_or_an_id(store: ml.Store) -> None:
    a = ml.start_run()
    b = ml.start_run(nested=False)
    ml.end_run(a.id, status="failed", error="diverged")
    assert fetch(a.id)["status"] == "failed" and fetch(a.id)["error"] == "diverged"
    assert ml.current_run() is b
    ml.end_run(b)
    assert fetch(b.id)["status"] == "completed"
    with pytest.raises(ml.NoActiveRun):
        ml.current_run()


def test_end_run_by_id_ends_a_run_of_another_process(store: ml.Store) -> None:
    from chachaml import runs_api

    foreign = runs_api.create_run(experiment="elsewhere", pid=1)["id"]
    ml.end_run(foreign, status="killed")
    assert fetch(foreign)["status"] == "killed"


def test_end_run_with_a_status_in_the_run_slot_says_to_pass_it_by_keyword(
    store: ml.Store,
) -> None:
    run = ml.start_run()
    with pytest.raises(
        ml.InvalidInput, match=r"pass the status by keyword: ml.end_run\(status='failed'\)"
    ):
        ml.end_run("failed")
    with pytest.raises(ml.InvalidInput, match="takes a run handle or a run id, got int"):
        ml.end_run(3)  # type: ignore[arg-type]
    with pytest.raises(ml.NotFound, match="does not exist"):
        ml.end_run("f" * 32)
    assert fetch(run.id)["status"] == "running"  # none of the bad calls touched it
    ml.end_run()
