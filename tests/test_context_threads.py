"""Ambient context across threads (``ml.bind``) and asyncio tasks."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import chachaml as ml


def log_fold(fold: int) -> str:
    ml.log_metric(f"fold_{fold}", float(fold))
    ml.log_metric("score", fold / 10, step=fold)
    return ml.current_run().id


def test_bind_carries_the_run_into_thread_pool_workers(store: ml.Store) -> None:
    with ml.run() as run, ThreadPoolExecutor(max_workers=4) as pool:
        seen = list(pool.map(ml.bind(log_fold), range(8)))
    assert seen == [run.id] * 8
    got = ml.get_run(run.id)
    assert got is not None
    assert {k for k in got["metrics"] if k.startswith("fold_")} == {f"fold_{i}" for i in range(8)}
    history = ml.metric_history(run.id, "score")
    assert [(p["step"], p["value"]) for p in history] == [(i, i / 10) for i in range(8)]


def test_without_bind_a_worker_thread_has_no_active_run(store: ml.Store) -> None:
    with ml.run() as run, ThreadPoolExecutor(max_workers=2) as pool:
        future = pool.submit(log_fold, 1)
        with pytest.raises(ml.NoActiveRun, match=r"ml\.bind\(fn\)"):
            future.result()
    assert ml.get_run(run.id)["metrics"] == {}


def test_bind_carries_the_store_scope(tmp_path: object, store: ml.Store) -> None:
    seen: list[ml.Store] = []
    with ml.open_store("sqlite:///:memory:") as other, ml.store(other):
        t = threading.Thread(target=ml.bind(lambda: seen.append(ml.current_store())))
        t.start()
        t.join()
    assert seen == [other]


def test_a_bound_function_can_run_in_several_threads_at_once(store: ml.Store) -> None:
    barrier = threading.Barrier(4)

    def work(i: int) -> None:
        barrier.wait(timeout=10)
        for step in range(100):
            ml.log_metric(f"w{i}", float(step))

    with ml.run() as run:
        bound = ml.bind(work)
        threads = [threading.Thread(target=bound, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for i in range(4):
        assert len(ml.metric_history(run.id, f"w{i}")) == 100


def test_asyncio_tasks_inherit_the_run(store: ml.Store) -> None:
    async def step(i: int) -> str:
        await asyncio.sleep(0)
        ml.log_metric("async_m", float(i), step=i)
        await asyncio.sleep(0)
        return ml.current_run().id

    async def main() -> tuple[str, list[str]]:
        with ml.run() as run:
            seen = await asyncio.gather(*(step(i) for i in range(5)))
        return run.id, list(seen)

    run_id, seen = asyncio.run(main())
    assert seen == [run_id] * 5
    history = ml.metric_history(run_id, "async_m")
    assert [p["step"] for p in history] == [0, 1, 2, 3, 4]


def test_runs_started_in_concurrent_tasks_do_not_leak_into_each_other(store: ml.Store) -> None:
    async def job(name: str, entered: asyncio.Event, gate: asyncio.Event) -> tuple[str, object]:
        with ml.run(name=name) as run:
            ml.log_metric("m", 1.0)
            entered.set()
            await gate.wait()  # both runs are open at the same time here
            assert ml.current_run() is run
            ml.log_metric("m", 2.0)
        return run.id, ml.get_run(run.id)["parent_run_id"]

    async def main() -> list[tuple[str, object]]:
        gate = asyncio.Event()
        entered = [asyncio.Event(), asyncio.Event()]
        tasks = [asyncio.create_task(job(n, e, gate)) for n, e in zip("ab", entered, strict=False)]
        for e in entered:
            await e.wait()
        gate.set()
        return list(await asyncio.gather(*tasks))

    results = asyncio.run(main())
    assert len({run_id for run_id, _ in results}) == 2
    for run_id, parent in results:
        assert parent is None
        assert [p["value"] for p in ml.metric_history(run_id, "m")] == [1.0, 2.0]
