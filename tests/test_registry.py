"""Registry guarantees that need a real SQLite file: several processes, the database constraint."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import chachaml as ml
from chachaml import registry


def _run_with_model(db: str) -> str:
    with ml.store(db), ml.run() as run:
        ml.log_artifact("model", {"w": 1})
    return run.id


def test_processes_registering_at_once_get_unique_versions(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    run_id = _run_with_model(db)
    script = textwrap.dedent(
        f"""
        import chachaml as ml
        with ml.store({db!r}):
            for i in range(15):
                stage = "production" if i % 4 == 0 else "none"
                ml.registry.register_model("shared", run_id={run_id!r}, stage=stage)
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    with ml.store(db):
        versions = registry.model_versions("shared")
        assert [v["version"] for v in versions] == list(range(1, 61))
        assert sum(v["stage"] == "production" for v in versions) == 1
        assert registry.models()[0]["production_version"] is not None


def test_the_database_itself_refuses_a_second_production_version(tmp_path: Path) -> None:
    db = str(tmp_path / "c.db")
    run_id = _run_with_model(db)
    with ml.store(db):
        registry.register_model("m", run_id=run_id, stage="production")
        registry.register_model("m", run_id=run_id)
    conn = sqlite3.connect(db)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE model_versions SET stage = 'production' WHERE version = 2")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE model_versions SET stage = 'live' WHERE version = 2")
    finally:
        conn.close()


def test_migration_two_is_recorded(tmp_path: Path) -> None:
    with ml.open_store(str(tmp_path / "m.db")) as st:
        names = [name for _, name in st.meta.applied_migrations()]
    assert "artifacts_and_registry" in names


def test_registry_is_reachable_both_ways() -> None:
    from chachaml import registry as imported

    assert ml.registry is imported
    assert callable(imported.load_model)
