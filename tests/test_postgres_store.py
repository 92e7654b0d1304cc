"""PostgreSQL store: concurrency (threads and processes), version numbering, production
exclusivity, migrations, and a server restart in the middle of a run.

Needs the PostgreSQL server of ``.ci/run``; the restart test starts a private cluster of its own
(``initdb``/``pg_ctl``) and restarts that one. Skipped without them (a failure with ``CI=true``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import psycopg
import pytest

import backends
import chachaml as ml
from chachaml import registry
from chachaml.store.postgres import PostgresStore, redact

WRITERS = 32
POINTS = 1500


@pytest.fixture
def pg_url(tmp_path: Path) -> str:
    return backends.pg_url_for(tmp_path)


@pytest.fixture
def pg_store(pg_url: str, tmp_path: Path) -> Iterator[ml.Store]:
    st = ml.open_store(pg_url, artifacts=str(tmp_path / "blobs"))
    with ml.store(st):
        yield st
    st.close()


def _log_points(url: str, artifacts: str, index: int) -> str:
    """One writer: its own store and run, POINTS points over two keys."""
    with ml.open_store(url, artifacts=artifacts) as st, ml.run(store=st, name=f"w{index}") as run:
        for step in range(POINTS // 2):
            run.log_metrics({"a": step * 0.5, "b": float(index)}, step=step)
    return run.id


def _assert_all_points(st: ml.Store, run_ids: list[str]) -> None:
    assert len(set(run_ids)) == WRITERS
    for run_id in run_ids:
        got = ml.get_run(run_id, store=st)
        assert got is not None and got["status"] == "completed"
        assert got["metric_stats"]["a"]["count"] == POINTS // 2
        assert got["metric_stats"]["b"]["count"] == POINTS // 2
        history = ml.metric_history(run_id, "a", store=st)
        assert [p["step"] for p in history] == list(range(POINTS // 2))


def test_32_threads_write_concurrently_without_errors_or_lost_points(
    pg_store: ml.Store, tmp_path: Path
) -> None:
    with ThreadPoolExecutor(WRITERS) as pool:
        futures = [
            pool.submit(_log_points, backends.pg_url_for(tmp_path), str(tmp_path / "b"), i)
            for i in range(WRITERS)
        ]
        run_ids = [f.result() for f in futures]
    _assert_all_points(pg_store, run_ids)


def test_32_processes_write_concurrently_without_errors_or_lost_points(
    pg_store: ml.Store, tmp_path: Path
) -> None:
    url = backends.pg_url_for(tmp_path)
    with ProcessPoolExecutor(WRITERS, mp_context=get_context("fork")) as pool:
        futures = [pool.submit(_log_points, url, str(tmp_path / "b"), i) for i in range(WRITERS)]
        run_ids = [f.result() for f in futures]
    _assert_all_points(pg_store, run_ids)


def _open_many(url: str, tmp_path: Path, n: int) -> list[ml.Store]:
    return [ml.open_store(url, artifacts=str(tmp_path / "blobs")) for _ in range(n)]


def test_16_concurrent_registrations_number_versions_1_to_16(
    pg_store: ml.Store, pg_url: str, tmp_path: Path
) -> None:
    with ml.run() as run:
        ml.log_artifact("model", {"w": 1})
    stores = _open_many(pg_url, tmp_path, 16)
    barrier = threading.Barrier(16)

    def register(st: ml.Store) -> int:
        barrier.wait()
        return int(registry.register_model("m", run_id=run.id, store=st)["version"])

    try:
        with ThreadPoolExecutor(16) as pool:
            versions = list(pool.map(register, stores))
    finally:
        for st in stores:
            st.close()
    assert sorted(versions) == list(range(1, 17))
    assert [v["version"] for v in registry.model_versions("m")] == list(range(1, 17))


def test_concurrent_promotions_leave_exactly_one_production(
    pg_store: ml.Store, pg_url: str, tmp_path: Path
) -> None:
    with ml.run() as run:
        ml.log_artifact("model", {"w": 1})
    for _ in range(8):
        registry.register_model("m", run_id=run.id)
    stores = _open_many(pg_url, tmp_path, 8)
    barrier = threading.Barrier(8)

    def promote(args: tuple[int, ml.Store]) -> str:
        version, st = args
        barrier.wait()
        return str(registry.promote("m", version, "production", store=st)["stage"])

    try:
        with ThreadPoolExecutor(8) as pool:
            stages = list(pool.map(promote, enumerate(stores, start=1)))
    finally:
        for st in stores:
            st.close()
    assert stages == ["production"] * 8  # every promotion succeeded in turn
    final = [v for v in registry.model_versions("m") if v["stage"] == "production"]
    assert len(final) == 1
    archived = {v["version"] for v in registry.model_versions("m") if v["stage"] == "archived"}
    assert archived == set(range(1, 9)) - {final[0]["version"]}


def test_concurrent_openers_of_a_fresh_schema_migrate_once(tmp_path: Path) -> None:
    url = backends.pg_url(backends.name_for(tmp_path, "m_"))
    stores = [PostgresStore(url) for _ in range(8)]
    barrier = threading.Barrier(8)

    def first_use(meta: PostgresStore) -> list[tuple[int, str]]:
        barrier.wait()
        return meta.applied_migrations()

    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(first_use, stores))
    finally:
        for meta in stores:
            meta.close()
    expected = [
        (1, "core_tracking"),
        (2, "artifacts_and_registry"),
        (3, "newest_first_indexes"),
        (4, "metric_blocks"),
        (5, "pipelines"),
        (6, "alerts"),
    ]
    assert all(r == expected for r in results)


def test_urls_hide_passwords_and_a_missing_server_is_store_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert redact("postgresql://u:pw@h:5/db?x=1") == "postgresql://u:***@h:5/db?x=1"
    assert redact("postgres://h/db") == "postgres://h/db"
    monkeypatch.setenv("CHACHAML_PG_TIMEOUT", "1")
    meta = PostgresStore("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(ml.StoreUnavailable, match="cannot open PostgreSQL store"):
        meta.applied_migrations()
    meta.close()


@pytest.fixture
def private_cluster() -> Iterator[backends.PrivateCluster]:
    """A PostgreSQL cluster of this test alone: restarting it disturbs no other user."""
    with backends.private_pg_cluster() as cluster:
        yield cluster


def test_a_server_restart_mid_run_loses_no_acknowledged_point(
    private_cluster: backends.PrivateCluster, tmp_path: Path
) -> None:
    halfway, restarted = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def restart() -> None:
        halfway.wait()
        try:
            private_cluster.restart()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            restarted.set()

    def started_at() -> object:
        with psycopg.connect(private_cluster.url) as conn:
            return conn.execute("SELECT pg_postmaster_start_time()").fetchone()

    before = started_at()
    restarter = threading.Thread(target=restart)
    restarter.start()
    logged = 0
    st = ml.open_store(private_cluster.url, artifacts=str(tmp_path / "blobs"))
    try:
        with ml.store(st), ml.run(name="survivor") as run:
            for _ in range(2000):
                ml.log_metric("x", float(logged), step=logged)
                logged += 1
            st.flush()  # the first half is committed before the restart
            halfway.set()
            # While the server restarts: keep logging; each flush waits for (or fails on) the
            # server, the writer keeps unwritten points and retries them.
            while not restarted.is_set():
                for _ in range(50):
                    ml.log_metric("x", float(logged), step=logged)
                    logged += 1
                with contextlib.suppress(Exception):
                    st.flush()
            for _ in range(2000):
                ml.log_metric("x", float(logged), step=logged)
                logged += 1
    finally:
        halfway.set()  # never leave the restarter waiting
        restarter.join()
        st.close()
    assert not errors, errors
    assert started_at() != before  # the server really restarted during the run
    with ml.open_store(private_cluster.url, artifacts=str(tmp_path / "blobs")) as fresh:
        got = ml.get_run(run.id, store=fresh)
        assert got is not None and got["status"] == "completed"
        history = ml.metric_history(run.id, "x", store=fresh)
    assert [p["step"] for p in history] == list(range(logged))
    assert [p["value"] for p in history] == [float(i) for i in range(logged)]
