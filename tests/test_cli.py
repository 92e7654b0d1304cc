"""The CLI is a thin shell: each command prints what the library returns, errors are one line."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import chachaml as ml
from chachaml.cli import cli, main


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "cli.db")
    with ml.store(path):
        for i, lr in enumerate((0.1, 0.01, 0.001)):
            with ml.run(experiment="cli", name=f"r{i}", tags={"lr_kind": "small"}):
                ml.log_params({"lr": lr, "model": "rf"})
                ml.log_metric("acc", 0.5 + i / 10)
                ml.log_metric("loss", 1.0 - i / 10)
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_runs_json_lists_runs_newest_first(db: str) -> None:
    code, out, _ = invoke("runs", "--store", db, "--json")
    assert code == 0
    names = [r["name"] for r in json.loads(out)]
    assert names == ["r2", "r1", "r0"]


def test_runs_table_shows_metric_columns(db: str) -> None:
    code, out, _ = invoke("runs", "--store", db, "-m", "acc", "-e", "cli")
    assert code == 0
    assert "acc" in out and "0.7" in out


def test_runs_filters_by_tag_and_rejects_malformed_tag(db: str) -> None:
    code, out, _ = invoke("runs", "--store", db, "--json", "-t", "lr_kind=small")
    assert code == 0 and len(json.loads(out)) == 3
    code, _, err = invoke("runs", "--store", db, "-t", "nokey")
    assert code == 2
    assert "key=value" in err


def test_best_prints_the_best_run(db: str) -> None:
    code, out, _ = invoke("best", "acc", "--store", db, "--json")
    assert code == 0
    best = json.loads(out)
    assert best["name"] == "r2" and best["metric_value"] == pytest.approx(0.7)
    code, out, _ = invoke("best", "loss", "--min", "--store", db)
    assert code == 0 and "loss = 0.8" in out


def test_best_of_unknown_metric_is_not_found(db: str) -> None:
    code, _, err = invoke("best", "nope", "--store", db)
    assert code == 4
    assert err.startswith("error:") and "nope" in err


def test_run_shows_one_run_and_unknown_id_fails_cleanly(db: str) -> None:
    with ml.open_store(db) as st:
        run_id = ml.runs(store=st)[0]["id"]
    code, out, _ = invoke("run", run_id, "--store", db)
    assert code == 0 and "r2" in out and "lr" in out
    code, _, err = invoke("run", "0" * 32, "--store", db)
    assert code == 4 and "does not exist" in err
    code, _, err = invoke("run", "../etc", "--store", db)
    assert code == 2 and "malformed" in err


def test_compare_json_reports_differing_params(db: str) -> None:
    with ml.open_store(db) as st:
        ids = [r["id"] for r in ml.runs(store=st)]
    code, out, _ = invoke("compare", *ids, "--store", db, "--json")
    assert code == 0
    result = json.loads(out)
    assert set(result["params"]["differ"]) == {"lr"}
    assert result["params"]["same"] == {"model": dict.fromkeys(ids, "rf")}
    code, out, _ = invoke("compare", *ids[:2], "--store", db)
    assert code == 0 and "differ" in out


def test_export_csv_and_json(db: str, tmp_path: Path) -> None:
    code, out, _ = invoke("export", "--store", db, "-e", "cli")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(float(r["metrics.acc"]) for r in rows) == pytest.approx([0.5, 0.6, 0.7])
    target = tmp_path / "out.json"
    code, _, err = invoke("export", "--store", db, "--json", "-o", str(target))
    assert code == 0 and "wrote 3 runs" in err
    assert {r["name"] for r in json.loads(target.read_text())} == {"r0", "r1", "r2"}


def test_tag_note_and_experiments(db: str, tmp_path: Path) -> None:
    with ml.open_store(db) as st:
        run_id = ml.runs(store=st)[0]["id"]
    assert invoke("tag", run_id, "reviewed", "true", "--store", db)[0] == 0
    code, out, _ = invoke("tag", run_id, "reviewed", "--remove", "--store", db)
    assert code == 0 and "removed" in out
    assert invoke("tag", run_id, "reviewed", "--store", db)[0] == 2
    note = tmp_path / "note.md"
    note.write_text("# Results\n$x^2$")
    assert invoke("note", run_id, "--file", str(note), "--store", db)[0] == 0
    assert invoke("note", run_id, "--store", db)[0] == 2
    with ml.open_store(db) as st:
        got = ml.get_run(run_id, store=st)
    assert got is not None
    assert got["note"] == "# Results\n$x^2$" and "reviewed" not in got["tags"]
    code, out, _ = invoke("experiments", "--store", db, "--json")
    assert code == 0 and json.loads(out)[0]["run_count"] == 3
    code, out, _ = invoke("experiments", "--store", db)
    assert code == 0 and "cli" in out


def test_archive_and_doctor(db: str) -> None:
    code, out, _ = invoke("archive", "--older-than-days", "0", "--delete", "--store", db)
    assert code == 0
    assert "archived 3 runs" in out and "deleted 3 archived runs" in out
    code, out, _ = invoke("doctor", "--store", db)
    assert code == 0 and "[ok ] integrity: ok" in out
    code, out, _ = invoke("doctor", "--store", db, "--json")
    assert json.loads(out)["ok"] is True


def test_demo_tracks_runs_into_the_given_store(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    code, out, _ = invoke("demo", "--store", db)
    assert code == 0
    assert "Tracked" in out and "chachaml best" in out
    with ml.open_store(db) as st:
        runs = ml.runs(experiment="flowers-logreg", limit=None, store=st)
        winner = ml.runs(tags={"winner": "true"}, store=st)
        assert len(runs) >= 10
        assert len(winner) == 1
        full = ml.get_run(winner[0]["id"], store=st)
        assert full is not None and "$$" in full["note"]
        assert ml.experiment("flowers-logreg", store=st)["explicit"] is True


def test_bad_store_url_is_a_one_line_error() -> None:
    code, _, err = invoke("runs", "--store", "mongodb://x")
    assert code == 2
    assert err.count("\n") == 1 and "unknown store URL scheme" in err


def test_console_script_runs_in_a_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "chachaml", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and ml.__version__ in proc.stdout


def test_main_entry_point_exits_with_click_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "chachaml: local-first experiment tracking" in capsys.readouterr().out
