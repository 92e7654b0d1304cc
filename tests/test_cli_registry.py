"""CLI: ``models``, ``promote``, ``artifacts``, ``gc`` call the library and print its result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import chachaml as ml
from chachaml.cli import cli


@pytest.fixture
def db(tmp_path: Path) -> tuple[str, str]:
    path = str(tmp_path / "reg.db")
    with ml.store(path), ml.run(experiment="cli") as run:
        ml.log_artifact("model", {"w": [1, 2]})
        ml.log_table("confusion", {"headers": ["", "a"], "rows": [["a", 3]]})
        ml.registry.register_model("churn", stage="production")
        ml.registry.register_model("churn", description="second try\nmore")
    return path, run.id


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_models_lists_latest_and_production(db: tuple[str, str]) -> None:
    path, _ = db
    code, out, _ = invoke("models", "--store", path, "--json")
    assert code == 0
    (model,) = json.loads(out)
    assert (model["latest_version"], model["production_version"]) == (2, 1)
    code, out, _ = invoke("models", "--store", path)
    assert code == 0 and "churn" in out


def test_models_name_shows_its_versions(db: tuple[str, str]) -> None:
    path, run_id = db
    code, out, _ = invoke("models", "churn", "--store", path, "--json")
    assert code == 0
    assert [v["run_id"] for v in json.loads(out)["versions"]] == [run_id, run_id]
    code, out, _ = invoke("models", "churn", "--store", path)
    assert code == 0 and "second try" in out and "more" not in out


def test_promote_moves_a_version_and_archives_production(db: tuple[str, str]) -> None:
    path, _ = db
    code, out, _ = invoke("promote", "churn", "2", "production", "--store", path)
    assert code == 0 and "now production" in out
    with ml.store(path):
        stages = [v["stage"] for v in ml.registry.model_versions("churn")]
    assert stages == ["archived", "production"]


def test_promote_of_a_missing_version_fails_with_not_found(db: tuple[str, str]) -> None:
    path, _ = db
    code, _, err = invoke("promote", "churn", "9", "production", "--store", path)
    assert code == 4 and err.startswith("error:") and "no version 9" in err
    code, _, _ = invoke("promote", "churn", "two", "production", "--store", path)
    assert code == 2
    with ml.store(path):
        assert ml.registry.models()[0]["production_version"] == 1


def test_artifacts_lists_a_runs_artifacts(db: tuple[str, str]) -> None:
    path, run_id = db
    code, out, _ = invoke("artifacts", run_id, "--store", path, "--json")
    assert code == 0
    assert [a["name"] for a in json.loads(out)] == ["model", "confusion"]
    code, out, _ = invoke("artifacts", run_id, "--store", path)
    assert code == 0 and "confusion" in out and "table" in out


def test_gc_deletes_archived_runs_and_orphans(db: tuple[str, str], tmp_path: Path) -> None:
    path, run_id = db
    with ml.store(path):
        with ml.run(experiment="old") as old:
            ml.log_artifact("big", b"x" * 5000)
        ml.archive_runs(older_than_days=0)
    code, _, err = invoke("gc", "--store", path)
    assert code == 5 and "churn v1" in err  # the registered run blocks deletion
    orphan = tmp_path / "reg-artifacts" / "orphan.bin"
    orphan.write_bytes(b"y" * 1000)
    code, out, _ = invoke(
        "gc", "--store", path, "--keep-archived", "--grace-seconds", "0", "--json"
    )
    assert code == 0
    assert json.loads(out) == {
        "runs_deleted": 0,
        "files_deleted": 1,
        "bytes_freed": 1000,
        "skipped": [],
    }
    code, out, _ = invoke("gc", "--store", path, "--force", "--grace-seconds", "0")
    assert code == 0 and "deleted 2 archived runs" in out
    with ml.store(path):
        assert (
            ml.search_runs(ids=[old.id], include_archived=True) == []
            and ml.search_runs(ids=[run_id], include_archived=True) == []
        )
