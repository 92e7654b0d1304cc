"""``chachaml migrate``: SQLite -> PostgreSQL -> SQLite is lossless, resumable and verified."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import backends
import chachaml as ml
from chachaml import registry
from chachaml.cli import cli
from chachaml.errors import InvalidInput
from chachaml.migrate import migrate


def _populate(st: ml.Store) -> list[str]:
    with ml.store(st):
        ml.create_experiment("exp", description="*desc*", owner="ann")
        with ml.run(experiment="exp", name="parent", tags={"team": "a"}) as parent:
            ml.log_params({"lr": 0.1, "text": "50% off?", "nested": {"a": [1, 2]}})
            for step in range(300):
                ml.log_metric("loss", 1 / (step + 1), step=step)
            ml.log_metric("odd", math.nan, step=0)
            ml.log_metric("odd", math.inf, step=1)
            ml.log_dataset(role="train", name="iris", n_rows=150, features=["a", "b"])
            ml.log_artifact("model", {"weights": list(range(100))})
            ml.log_artifact("notes", "hello", format="text")
            with ml.run(name="child") as child:
                ml.log_metric("acc", 0.9)
        ml.set_note(parent.id, "# note")
        ml.add_tag(child.id, "later", "yes")
        with ml.run(experiment="exp") as second:
            ml.log_artifact("model", [1, 2, 3])
        registry.register_model("clf", run_id=parent.id, description="first")
        registry.register_model("clf", run_id=second.id)
        registry.promote("clf", 1, "production")
        registry.promote("clf", 2, "production")
    return [parent.id, child.id, second.id]


def _tables(st: ml.Store) -> dict[str, list[Any]]:
    meta: Any = st.meta
    out: dict[str, list[Any]] = {}
    for table in meta.copy_tables():
        rows: list[Any] = []
        for columns, batch in meta.export_rows(table):
            rows.extend(json.dumps(dict(zip(columns, r, strict=True)), default=str) for r in batch)
        out[table] = sorted(rows)
    return out


def _hashes(st: ml.Store) -> dict[str, str]:
    out = {}
    for obj in st.artifacts.iter_keys():
        with st.artifacts.open(obj.key) as stream:
            out[obj.key] = hashlib.sha256(stream.read()).hexdigest()
    return out


def _views(st: ml.Store, run_ids: list[str]) -> Any:
    runs = [ml.get_run(r, store=st) for r in run_ids]
    for run in runs:
        assert run is not None
        run.pop("status")  # equal anyway; heartbeat-derived, so compare the stored row below
    return (
        json.dumps(runs, default=str, sort_keys=True),
        json.dumps(ml.export_runs(store=st), default=str, sort_keys=True),
        registry.model_versions("clf", store=st),
        registry.models(store=st),
        ml.experiments(store=st),
    )


def test_sqlite_to_postgres_to_sqlite_is_lossless(tmp_path: Path) -> None:
    pg_url = backends.pg_url_for(tmp_path)
    with (
        ml.open_store(str(tmp_path / "a.db"), artifacts=str(tmp_path / "a-art")) as a,
        ml.open_store(pg_url, artifacts=str(tmp_path / "pg-art")) as pg,
        ml.open_store(str(tmp_path / "b.db"), artifacts=str(tmp_path / "b-art")) as b,
    ):
        run_ids = _populate(a)
        seen: list[str] = []
        first = migrate(a, pg, progress=lambda stage, done, total: seen.append(stage))
        assert first["ok"], first["problems"]
        assert first["artifacts"] == {"total": 3, "copied": 3, "verified": 3}
        assert {"artifacts", "runs", "metrics", "verify"} <= set(seen)
        again = migrate(a, pg)  # idempotent: nothing new, still verified
        assert again["ok"] and again["artifacts"]["copied"] == 0
        back = migrate(pg, b)
        assert back["ok"], back["problems"]
        assert _tables(b) == _tables(a)
        assert _hashes(b) == _hashes(a) == _hashes(pg)
        assert _views(b, run_ids) == _views(a, run_ids) == _views(pg, run_ids)
        # Ids keep working after the import: new rows do not collide with copied ones.
        with ml.run(store=pg) as run:
            run.log_dataset(role="eval", name="new")
            run.log_artifact("m", 1)
        registry.register_model("clf", run_id=run.id, artifact="m", store=pg)


def test_an_interrupted_migration_resumes_and_counts_are_verified(tmp_path: Path) -> None:
    pg_url = backends.pg_url_for(tmp_path)
    with (
        ml.open_store(str(tmp_path / "a.db"), artifacts=str(tmp_path / "a-art")) as a,
        ml.open_store(pg_url, artifacts=backends.s3_location_for(tmp_path)) as pg,
    ):
        _populate(a)

        class Interrupted(Exception):
            pass

        def stop_in_metrics(stage: str, done: int, total: int) -> None:
            if stage == "metrics":
                raise Interrupted

        with pytest.raises(Interrupted):
            migrate(a, pg, progress=stop_in_metrics)
        assert pg.meta.count_rows("runs") == 3  # type: ignore[attr-defined]
        assert pg.meta.count_rows("metrics") == 0  # type: ignore[attr-defined]
        summary = migrate(a, pg)
        assert summary["ok"], summary["problems"]
        assert summary["tables"]["metrics"]["source"] == 303
        assert summary["tables"]["runs"] == {"source": 3, "destination": 3}
        with ml.run(store=a):  # a later source run is copied by the next migration
            pass
        assert migrate(a, pg)["ok"]
        with pg.meta._write() as conn:  # type: ignore[attr-defined]
            conn.execute("DELETE FROM tags WHERE key = 'later'")
        with ml.run(store=pg):  # a run only the destination has: a reported difference
            pass
        report = migrate(a, pg)
        assert pg.meta.count_rows("tags") == a.meta.count_rows("tags")  # type: ignore[attr-defined]
        assert not report["ok"]
        assert report["problems"] == ["table runs: 4 rows in the source, 5 in the destination"]


def test_same_store_is_refused(tmp_path: Path) -> None:
    with (
        ml.open_store(str(tmp_path / "a.db")) as a,
        ml.open_store(str(tmp_path / "a.db")) as b,
        pytest.raises(InvalidInput, match="same store"),
    ):
        migrate(a, b)


def test_the_cli_migrates_and_prints_a_summary(tmp_path: Path) -> None:
    src, dst = str(tmp_path / "src.db"), backends.pg_url_for(tmp_path)
    with ml.open_store(src, artifacts=str(tmp_path / "src-art")) as a:
        _populate(a)
    runner = CliRunner()
    args = [
        "migrate",
        src,
        dst,
        "--artifacts-src",
        str(tmp_path / "src-art"),
        "--artifacts-dst",
        str(tmp_path / "dst-art"),
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "migration verified" in result.output and "metrics" in result.output
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["ok"] and summary["artifacts"]["copied"] == 0
