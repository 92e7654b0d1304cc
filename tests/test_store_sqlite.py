"""The SQLite store and store selection: URLs, env vars, pragmas, migrations, metric cache."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import chachaml as ml
from chachaml import query, runs_api
from chachaml.store import sqlbase, sqlquery
from chachaml.store import sqlite as sqlite_store
from chachaml.store.migrations import SQLITE_MIGRATIONS, Migration
from chachaml.store.protocol import MetadataStore, NewRun


def new_run(st: ml.Store, **kw: object) -> str:
    run_id = runs_api.new_run_id()
    fields = {"experiment": "e", "name": None, "start_time": 1, "created_by": "u", **kw}
    st.meta.create_run(NewRun(id=run_id, **fields))  # type: ignore[arg-type]
    return run_id


# -- URLs and store selection -----------------------------------------------------------------


def test_a_sqlite_url_with_a_relative_path_opens_that_file_and_its_artifacts_dir(
    tmp_path: Path,
) -> None:
    with ml.open_store("sqlite:///rel.db") as st:
        assert st.url == "sqlite:///rel.db"
        assert st.artifacts_url == "rel-artifacts"
        new_run(st)
    assert (tmp_path / "rel.db").is_file()


def test_a_bare_path_and_an_absolute_url_open_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.db"
    with ml.open_store(str(path)) as a:
        run_id = new_run(a)
        assert a.artifacts_url == str(tmp_path / "sub" / "x-artifacts")
    with ml.open_store(f"sqlite:///{path}") as b:  # sqlite:////abs/path
        assert b.meta.get_run(run_id) is not None


def test_a_db_without_extension_pairs_with_name_artifacts(tmp_path: Path) -> None:
    with ml.open_store(str(tmp_path / "plain")) as st:
        assert st.artifacts_url == str(tmp_path / "plain-artifacts")


def test_an_explicit_artifacts_location_is_used_and_file_urls_are_unwrapped(
    tmp_path: Path,
) -> None:
    with ml.open_store(str(tmp_path / "a.db"), artifacts=str(tmp_path / "blobs")) as st:
        assert st.artifacts_url == str(tmp_path / "blobs")
        assert st.info() == {"url": st.url, "artifacts": str(tmp_path / "blobs")}
    with ml.open_store(str(tmp_path / "a.db"), artifacts=f"file://{tmp_path}/f") as st:
        assert st.artifacts_url == f"{tmp_path}/f"
        assert repr(st) == f"<chachaml.Store {st.url} artifacts={tmp_path}/f>"


def test_memory_stores_are_private_and_their_temp_artifacts_dir_is_removed() -> None:
    with ml.open_store("sqlite:///:memory:") as a, ml.open_store("sqlite:///:memory:") as b:
        assert a.url == "sqlite:///:memory:"
        run_id = new_run(a)
        assert a.meta.get_run(run_id) is not None
        assert b.meta.get_run(run_id) is None
        temp = a.artifacts_url
        assert os.path.isdir(temp)
    assert not os.path.exists(temp)


def test_bad_store_urls_give_clear_errors() -> None:
    with pytest.raises(ml.InvalidInput, match=r"malformed: use sqlite:///relative\.db"):
        ml.open_store("sqlite://host/x.db")
    with pytest.raises(ml.InvalidInput, match="has no database path"):
        ml.open_store("sqlite:///")
    with pytest.raises(ml.InvalidInput, match="unknown store URL scheme 'ftp'") as err:
        ml.open_store("ftp://example.org/x.db")
    for supported in ("sqlite:///path.db", "postgresql://", "http(s)://"):
        assert supported in str(err.value)
    with ml.open_store("postgresql://u:secret@localhost/db") as st:  # lazy: no connection yet
        assert st.url == "postgresql://u:***@localhost/db"
    with pytest.raises(ml.InvalidInput, match="store URL must be a string, got int"):
        ml.open_store(3)  # type: ignore[arg-type]
    with pytest.raises(ml.InvalidInput, match="use_store"):
        ml.use_store(3)  # type: ignore[arg-type]
    with pytest.raises(ml.InvalidInput, match=r"store\(\) takes"), ml.store(3):  # type: ignore[arg-type]
        pass


def test_an_unopenable_database_is_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with ml.open_store(str(tmp_path / "dir.db")) as st, pytest.raises(ml.StoreUnavailable):
        new_run(st)


def test_the_default_store_comes_from_chachaml_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHACHAML_STORE", f"sqlite:///{tmp_path}/env.db")
    monkeypatch.setenv("CHACHAML_ARTIFACTS", str(tmp_path / "env-blobs"))
    with ml.run() as run:
        pass
    st = ml.current_store()
    assert st.url == f"sqlite:///{tmp_path}/env.db"
    assert st.artifacts_url == str(tmp_path / "env-blobs")
    assert ml.current_store() is st  # opened once, lazily
    with ml.open_store(str(tmp_path / "env.db")) as check:
        assert check.meta.get_run(run.id) is not None


def test_without_env_vars_the_default_is_chachaml_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHACHAML_STORE")
    st = ml.current_store()
    assert st.url == "sqlite:///chachaml.db"
    assert st.artifacts_url == "chachaml-artifacts"
    with ml.run():
        pass
    assert (tmp_path / "chachaml.db").is_file()


def test_use_store_replaces_the_default_and_closes_the_old_one(tmp_path: Path) -> None:
    first = ml.use_store(str(tmp_path / "one.db"))
    assert ml.current_store() is first
    second = ml.use_store(f"sqlite:///{tmp_path}/two.db")
    assert ml.current_store() is second
    assert first.closed
    explicit = ml.open_store(str(tmp_path / "three.db"))
    assert ml.use_store(explicit) is explicit
    assert second.closed
    assert ml.use_store(explicit) is explicit
    assert not explicit.closed  # setting the same store again does not close it
    back = ml.use_store()  # back to CHACHAML_STORE
    assert back.url == f"sqlite:///{tmp_path}/default.db"
    assert explicit.closed


def test_a_closed_default_store_is_reopened_on_next_use(tmp_path: Path) -> None:
    st = ml.current_store()
    st.close()
    again = ml.current_store()
    assert again is not st
    assert not again.closed


def test_a_store_scope_overrides_and_restores_the_current_store(tmp_path: Path) -> None:
    default = ml.current_store()
    with ml.store(str(tmp_path / "scoped.db")) as scoped:
        assert ml.current_store() is scoped
        with ml.run() as run:
            pass
        with ml.open_store(str(tmp_path / "inner.db")) as inner:
            with ml.store(inner):
                assert ml.current_store() is inner
            assert not inner.closed  # a Store passed in is not closed by the scope
        assert ml.current_store() is scoped
    assert scoped.closed  # a store opened from a URL by the scope is closed
    assert ml.current_store() is default
    assert ml.search_runs(ids=[run.id], include_archived=True) == []
    with ml.open_store(str(tmp_path / "scoped.db")) as check:
        assert check.meta.get_run(run.id)["status"] == "completed"


def test_the_sqlite_store_satisfies_the_protocol(store: ml.Store) -> None:
    assert isinstance(store.meta, MetadataStore)


# -- pragmas and migrations (SPEC §14.15) -----------------------------------------------------


def test_busy_timeout_is_set_on_every_connection(store: ml.Store) -> None:
    meta = store.meta
    writer = meta._write_conn()
    readers = [meta._read_conn()]

    def read_in_thread() -> None:
        readers.append(meta._read_conn())

    t = threading.Thread(target=read_in_thread)
    t.start()
    t.join()
    assert len({id(c) for c in [writer, *readers]}) == 3
    for conn in (writer, *readers):
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == sqlite_store.BUSY_TIMEOUT_MS
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert sqlite_store.BUSY_TIMEOUT_MS >= 5000


def test_busy_timeout_is_set_on_memory_connections_too() -> None:
    with ml.open_store("sqlite:///:memory:") as st:
        conn = st.meta._read_conn()
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == sqlite_store.BUSY_TIMEOUT_MS


def test_sqlite_sync_mode_can_be_raised_and_a_bad_value_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHACHAML_SQLITE_SYNC", "full")
    with ml.open_store(str(tmp_path / "a.db")) as st:
        assert st.meta._write_conn().execute("PRAGMA synchronous").fetchone()[0] == 2
    monkeypatch.setenv("CHACHAML_SQLITE_SYNC", "sometimes")
    with (
        ml.open_store(str(tmp_path / "b.db")) as st,
        pytest.raises(ml.InvalidInput, match="CHACHAML_SQLITE_SYNC='SOMETIMES'"),
    ):
        new_run(st)


def _sqlite_settings(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter (the settings are read at import) that opens a store and prints its
    connection's cache size and busy timeout."""
    code = (
        "import chachaml as ml\n"
        "st = ml.open_store('s.db')\n"
        "c = st.meta._write_conn()\n"
        "print(c.execute('PRAGMA cache_size').fetchone()[0],"
        " c.execute('PRAGMA busy_timeout').fetchone()[0])\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cache_and_busy_settings_come_from_the_environment_and_bad_ones_are_refused(
    tmp_path: Path,
) -> None:
    default = _sqlite_settings({}, tmp_path)
    assert default.stdout.split() == [str(-64 * 1024), "60000"]
    tuned = _sqlite_settings(
        {"CHACHAML_SQLITE_CACHE_MB": "8", "CHACHAML_SQLITE_BUSY_TIMEOUT_MS": "1500"}, tmp_path
    )
    assert tuned.stdout.split() == [str(-8 * 1024), "1500"]
    bad = _sqlite_settings({"CHACHAML_SQLITE_CACHE_MB": "lots"}, tmp_path)
    assert bad.returncode != 0
    assert "CHACHAML_SQLITE_CACHE_MB='lots': expected a whole number >= 0" in bad.stderr
    assert "InvalidInput" in bad.stderr
    # Every numeric CHACHAML_* setting goes through the same check: import works, opening fails.
    late = _sqlite_settings(
        {"CHACHAML_FLUSH_INTERVAL": "soon", "CHACHAML_S3_PART_SIZE": "1"}, tmp_path
    )
    assert late.returncode != 0
    assert "CHACHAML_FLUSH_INTERVAL='soon': expected a number >= 0" in late.stderr
    assert "CHACHAML_S3_PART_SIZE='1': expected a whole number >= 5242880" in late.stderr


def test_a_fresh_database_records_its_migrations_in_order(store: ml.Store) -> None:
    applied = store.meta.applied_migrations()
    assert applied == [(m.version, m.name) for m in SQLITE_MIGRATIONS]
    assert [v for v, _ in applied] == sorted(v for v, _ in applied)
    assert applied[0] == (1, "core_tracking")
    conn = sqlite3.connect(str(store.meta.path))
    try:
        rows = conn.execute(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
        assert [(v, n) for v, n, _ in rows] == applied
        assert all(isinstance(ts, int) and ts > 0 for _, _, ts in rows)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SQLITE_MIGRATIONS[-1].version
    finally:
        conn.close()


def test_reopening_a_database_applies_no_migration_twice(db_path: Path) -> None:
    for _ in range(3):
        with ml.open_store(str(db_path)) as st:
            assert len(st.meta.applied_migrations()) == len(SQLITE_MIGRATIONS)


def test_a_new_migration_is_applied_on_open_of_an_old_database(tmp_path: Path) -> None:
    conn = sqlite3.connect(str(tmp_path / "m.db"), isolation_level=None)
    try:
        sqlite_store.SQLiteStore._migrate(conn, SQLITE_MIGRATIONS[:1])
        assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == 1
        extra = Migration(99, "add_thing", ("CREATE TABLE thing (x INTEGER)",))
        sqlite_store.SQLiteStore._migrate(conn, (*SQLITE_MIGRATIONS, extra))
        names = [n for (n,) in conn.execute("SELECT name FROM schema_migrations ORDER BY version")]
        assert names == [*(m.name for m in SQLITE_MIGRATIONS), "add_thing"]
    finally:
        conn.close()


def test_a_failing_migration_rolls_back_entirely_and_raises(tmp_path: Path) -> None:
    conn = sqlite3.connect(str(tmp_path / "m.db"), isolation_level=None)
    try:
        broken = Migration(1, "broken", ("CREATE TABLE ok (x)", "CREATE TABLE ok (y)"))
        with pytest.raises(sqlite3.OperationalError, match="already exists"):
            sqlite_store.SQLiteStore._migrate(conn, (broken,))
        tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master")}
        assert tables == set()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    finally:
        conn.close()


def test_integrity_check_is_ok_on_a_fresh_store(store: ml.Store) -> None:
    assert store.meta.integrity_check() == "ok"


# -- store-level behaviour --------------------------------------------------------------------


def test_metrics_for_an_unknown_run_are_not_found_and_leave_no_rows(store: ml.Store) -> None:
    ghost = "0" * 32
    with pytest.raises(ml.NotFound, match=r"run '0{32}' does not exist"):
        store.meta.log_metrics([(ghost, "m", 0, 1.0, 1)])
    conn = store.meta._read_conn()
    assert conn.execute("SELECT COUNT(*) FROM metric_series").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 0


def test_a_rejected_metric_batch_does_not_poison_later_writes(store: ml.Store) -> None:
    good = [new_run(store) for _ in range(20)]
    ghost = "0" * 32
    batch = [(r, "m", 0, 1.0, 1) for r in good] + [(ghost, "m", 0, 1.0, 1)]
    with pytest.raises(ml.NotFound):
        store.meta.log_metrics(batch)
    # The rolled-back batch created no series; the good runs can log normally afterwards.
    store.meta.log_metrics([(r, "m", 0, 2.0, 2) for r in good])
    for r in good:
        assert store.meta.metric_history(r, "m") == [(0, 2.0, 2)]
        assert store.meta.metric_summaries([r])[r]["m"]["count"] == 1


def test_runs_of_unknown_ids_are_not_found_at_the_store(store: ml.Store) -> None:
    ghost = "0" * 32
    for call in (
        lambda: store.meta.finish_run(ghost, "completed", 1, None),
        lambda: store.meta.rename_run(ghost, "x"),
        lambda: store.meta.log_params(ghost, {"a": "1"}),
        lambda: store.meta.set_tags(ghost, {"a": "1"}),
        lambda: store.meta.add_dataset(ghost, {"role": "train", "created_at": 1}),
        lambda: store.meta.metric_history(ghost, "m"),
        lambda: store.meta.delete_run(ghost),
    ):
        with pytest.raises(ml.NotFound):
            call()
    assert store.meta.get_run(ghost) is None
    assert store.meta.log_params(ghost, {}) is None  # nothing to do, nothing checked
    assert store.meta.log_metrics([]) is None


def test_the_database_check_constraint_refuses_unknown_statuses(store: ml.Store) -> None:
    run_id = new_run(store)
    with pytest.raises(sqlite3.IntegrityError):
        store.meta.finish_run(run_id, "exploded", 2, None)
    assert store.meta.get_run(run_id)["status"] == "running"


def test_count_runs_matches_list_runs(store: ml.Store) -> None:
    from chachaml.query import build_query

    for i in range(5):
        new_run(store, experiment="a" if i % 2 else "b")
    for q in (build_query(), build_query(experiment="a"), build_query(status="completed")):
        assert store.meta.count_runs(q) == len(store.meta.list_runs(q._replace(limit=None)))


def test_listing_many_runs_by_id_chunks_the_in_lists(store: ml.Store) -> None:
    ids = [new_run(store, start_time=i) for i in range(sqlbase._CHUNK + 20)]
    store.meta.set_tags(ids[0], {"t": "1"})
    store.meta.set_tags(ids[-1], {"t": "2"})
    from chachaml.query import build_query

    listed = store.meta.list_runs(build_query(limit=None))
    assert len(listed) == len(ids)
    by_id = {r["id"]: r for r in listed}
    assert by_id[ids[0]]["tags"] == {"t": "1"}
    assert by_id[ids[-1]]["tags"] == {"t": "2"}
    store.meta.heartbeat(ids, 12345)
    assert store.meta.get_run(ids[-1])["heartbeat"] == 12345
    assert set(store.meta.params_of(ids)) == set()


def test_a_delete_run_removes_everything_attached(store: ml.Store) -> None:
    with ml.run() as parent:
        ml.log_param("p", 1)
        ml.log_metric("m", 1.0)
        ml.log_tag("t", "x")
        ml.log_dataset(n_rows=3)
        with ml.run() as child:
            pass
    assert store.meta.delete_run(parent.id) == []
    assert ml.search_runs(ids=[parent.id], include_archived=True) == []
    assert ml.get_run(child.id)["parent_run_id"] is None
    conn = store.meta._read_conn()
    for table in ("params", "tags", "metric_series", "metrics", "datasets"):
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table


def test_readers_in_threads_get_their_own_connections_and_see_committed_data(
    store: ml.Store,
) -> None:
    with ml.run() as run:
        ml.log_metric("m", 1.0)
    seen: list[object] = []

    def read() -> None:
        seen.append(store.meta.get_run(run.id)["metrics"])

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [{"m": 1.0}] * 4
    assert len(store.meta._readers) >= 4


def test_a_long_read_does_not_block_a_writer(store: ml.Store, db_path: Path) -> None:
    with ml.run():
        ml.log_metric("m", 1.0)
    with store.meta._read() as conn:  # an open read transaction (snapshot)
        conn.execute("SELECT COUNT(*) FROM runs").fetchone()
        start = time.monotonic()
        with ml.run():
            ml.log_metric("m", 2.0)
        assert time.monotonic() - start < 2.0
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1  # still the snapshot
    assert len(ml.runs()) == 2


def test_an_unusable_artifact_location_fails_open_store_cleanly(tmp_path: Path) -> None:
    with pytest.raises(ml.StoreUnavailable, match="gs:// artifact store is not available"):
        ml.open_store(str(tmp_path / "a.db"), artifacts="gs://bucket/prefix")
    with pytest.raises(ml.InvalidInput, match="unknown artifact location scheme 'ftp'"):
        ml.open_store(str(tmp_path / "a.db"), artifacts="ftp://host/x")


def test_closing_a_store_twice_is_harmless(tmp_path: Path) -> None:
    st = ml.open_store(str(tmp_path / "a.db"))
    new_run(st)
    st.close()
    st.close()
    assert st.closed


def test_children_started_in_the_same_millisecond_are_listed_in_start_order(
    store: ml.Store,
) -> None:
    parent = new_run(store, start_time=7)
    kids = [new_run(store, start_time=9, parent_run_id=parent) for _ in range(20)]
    assert store.meta.get_run(parent)["children"] == kids


def test_an_empty_id_list_selects_no_runs(store: ml.Store) -> None:
    from chachaml.query import build_query

    a = new_run(store)
    new_run(store)
    assert store.meta.list_runs(build_query(ids=[])) == []
    assert [r["id"] for r in store.meta.list_runs(build_query(ids=[a]))] == [a]
    assert store.meta.count_runs(build_query(ids=[])) == 0


def test_a_second_store_object_appends_to_an_existing_series(db_path: Path) -> None:
    with ml.open_store(str(db_path)) as first:
        run_id = new_run(first)
        first.meta.log_metrics([(run_id, "m", 0, 1.0, 1), (run_id, "m", 1, 5.0, 2)])
    with ml.open_store(str(db_path)) as second:
        second.meta.log_metrics([(run_id, "m", 2, -1.0, 3)])
        stats = second.meta.metric_summaries([run_id])[run_id]["m"]
        assert (stats["count"], stats["min"], stats["max"], stats["last"]) == (3, -1.0, 5.0, -1.0)
        conn = second.meta._read_conn()
        assert conn.execute("SELECT COUNT(*) FROM metric_series").fetchone()[0] == 1


def test_an_older_database_is_upgraded_on_open_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(str(path), isolation_level=None)
    sqlite_store.SQLiteStore._migrate(
        conn, SQLITE_MIGRATIONS[:2]
    )  # a database written by 0.1 pre-releases
    conn.close()
    with ml.open_store(str(path)) as st:
        with ml.run(experiment="old", store=st) as run:
            ml.log_metric("m", 1.0)
        assert [v for v, _ in st.meta.applied_migrations()] == [
            m.version for m in SQLITE_MIGRATIONS
        ]
    with ml.open_store(str(path)) as st:
        assert [r["id"] for r in ml.runs(store=st)] == [run.id]


def test_newest_first_listing_needs_no_sort(store: ml.Store) -> None:
    sql, params = sqlquery.list_runs_sql(query.build_query(limit=None), dialect="sqlite")
    conn = sqlite3.connect(str(store.meta.path))
    try:
        with ml.run():
            pass
        plan = " ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
    finally:
        conn.close()
    assert "runs_by_start" in plan
    assert "TEMP B-TREE" not in plan


def _runs_stat(path: Path) -> int | None:
    conn = sqlite3.connect(str(path))
    try:
        row = conn.execute("SELECT stat FROM sqlite_stat1 WHERE idx = 'runs_by_start'").fetchone()
    except sqlite3.OperationalError:  # no sqlite_stat1 table: never analyzed
        return None
    finally:
        conn.close()
    return None if row is None else int(row[0].split()[0])


def _add_runs(path: Path, start: int, stop: int) -> None:
    with ml.open_store(str(path)) as st:
        for i in range(start, stop):
            st.meta.create_run(NewRun(f"{i:032x}", "e", None, i, "t"))


def test_planner_statistics_appear_once_the_store_is_big_and_follow_its_growth(
    tmp_path: Path,
) -> None:
    path = tmp_path / "stats.db"
    raw = sqlite3.connect(str(path), isolation_level=None)

    def refresh() -> int | None:
        sqlite_store.SQLiteStore._refresh_stats(raw)
        return _runs_stat(path)

    def forget() -> None:  # start each step without statistics
        raw.execute("DROP TABLE IF EXISTS sqlite_stat1")

    _add_runs(path, 0, sqlite_store.STATS_MIN_RUNS - 1)
    forget()
    assert refresh() is None  # small stores plan well without them
    _add_runs(path, sqlite_store.STATS_MIN_RUNS - 1, 1500)
    forget()
    first = refresh()
    assert first is not None and first >= sqlite_store.STATS_MIN_RUNS
    _add_runs(path, 1500, 2000)
    raw.execute("UPDATE sqlite_stat1 SET stat = ? WHERE idx = 'runs_by_start'", (f"{first} 1",))
    assert refresh() == first  # grown by a third: the statistics stay
    _add_runs(path, 2000, 3500)
    raw.execute("UPDATE sqlite_stat1 SET stat = ? WHERE idx = 'runs_by_start'", (f"{first} 1",))
    again = refresh()  # more than doubled: gathered again
    assert again is not None and again > 2 * first
    forget()
    raw.close()
    with ml.open_store(str(path)) as st:  # opening a store applies the same rule
        ml.runs(limit=1, store=st)
        assert _runs_stat(path) is not None


def test_a_selective_threshold_is_driven_by_its_index_once_analyzed(tmp_path: Path) -> None:
    path = tmp_path / "plan.db"
    with ml.open_store(str(path)) as st:
        for lo in range(0, 3000, 500):
            for i in range(lo, lo + 500):
                st.meta.create_run(NewRun(f"{i:032x}", "e", None, i, "t"))
            st.meta.log_metrics([(f"{i:032x}", "acc", 0, i / 3000, 0) for i in range(lo, lo + 500)])
    with ml.open_store(str(path)) as st:
        q = query.build_query(metric=("acc", ">", 0.99), limit=None)
        sql, params = sqlquery.list_runs_sql(q, dialect="sqlite")
        with st.meta._read() as conn:  # type: ignore[attr-defined]
            plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
        assert "metric_series_by_last" in plan[0] or "autoindex_runs" in plan[0], plan
        assert len(ml.search_runs(metric="acc", op=">", value=0.99, limit=None, store=st)) == 29


def test_switching_a_new_file_to_wal_retries_while_another_process_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite refuses the WAL switch at once (no busy wait) while another connection holds a
    write lock; opening the store must retry rather than fail."""
    path = tmp_path / "race.db"
    other = sqlite3.connect(str(path), isolation_level=None)  # a rollback-journal file
    other.execute("CREATE TABLE scratch (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO scratch VALUES (1)")
    waits: list[float] = []

    def release_then_wait(seconds: float) -> None:  # the other writer commits while we back off
        waits.append(seconds)
        if other.in_transaction:
            other.execute("COMMIT")

    monkeypatch.setattr(sqlite_store.time, "sleep", release_then_wait)
    with ml.open_store(str(path)) as st, ml.run(store=st) as run:
        ml.log_metric("m", 1.0)
    assert waits, "the first WAL switch should have been refused"
    other.close()
    fresh = sqlite3.connect(str(path))
    assert fresh.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    fresh.close()
    with ml.open_store(str(path)) as st:
        assert ml.get_run(run.id, store=st)["metrics"]["m"] == 1.0  # type: ignore[index]
