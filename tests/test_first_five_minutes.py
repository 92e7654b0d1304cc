"""What a newcomer meets first: `chachaml demo`, the commands it prints, short run ids, and
one-line errors for the usual mistakes (issue: first five minutes)."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import chachaml as ml
from chachaml.cli import cli

CHACHAML = str(Path(sys.executable).with_name("chachaml"))


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _demo(cwd: Path, *args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CHACHAML_STORE", "CHACHAML_ARTIFACTS")}
    proc = subprocess.run(
        [CHACHAML, "demo", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_every_command_the_demo_prints_runs_as_printed(tmp_path: Path) -> None:
    lines = _demo(tmp_path)
    printed = [line.strip() for line in lines[lines.index("Look at it:") + 1 :]]
    assert len(printed) >= 4
    env = {k: v for k, v in os.environ.items() if k not in ("CHACHAML_STORE", "CHACHAML_ARTIFACTS")}
    env["PATH"] = "/usr/bin:/bin"  # the virtualenv is not activated, as after `make demo`
    for command in printed:
        proc = subprocess.run(
            shlex.split(command), cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, (command, proc.stderr)
        assert proc.stdout.strip(), command


def test_a_second_demo_says_what_it_tracked_not_the_store_total(tmp_path: Path) -> None:
    first = next(line for line in _demo(tmp_path) if line.startswith("Tracked"))
    second = next(line for line in _demo(tmp_path) if line.startswith("Tracked"))
    assert first.startswith("Tracked 14 runs")
    assert second.startswith("Tracked 14 runs") and "(28 in the experiment now)" in second


def test_the_demo_winner_is_what_best_reports(tmp_path: Path) -> None:
    winner = next(line for line in _demo(tmp_path) if line.startswith("Winner:"))
    short = winner.split()[2]
    code, out, _ = invoke(
        "best", "val_accuracy", "--json", "--store", str(tmp_path / "chachaml.db")
    )
    assert code == 0
    best = json.loads(out)
    assert best["id"].startswith(short)
    assert best["tags"]["winner"] == "true"
    with ml.open_store(str(tmp_path / "chachaml.db")) as st:
        assert ml.best_run("val_accuracy", store=st)["id"] == best["id"]
        tagged = ml.runs(tags={"winner": "true"}, store=st)
        assert [r["id"] for r in tagged] == [best["id"]]


def test_demo_quiet_prints_only_the_summary(tmp_path: Path) -> None:
    lines = _demo(tmp_path, "--quiet")
    assert lines[0].startswith("Tracked 14 runs")
    assert not any("candidate" in line for line in lines)
    assert "Look at it:" in lines


def test_an_eight_character_id_from_runs_works_in_every_command(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    assert invoke("demo", "--quiet", "--store", db)[0] == 0
    code, out, _ = invoke("runs", "--json", "--store", db, "-t", "winner=true")
    full = json.loads(out)[0]["id"]
    short = full[:8]
    code, out, _ = invoke("run", short, "--json", "--store", db)
    assert code == 0 and json.loads(out)["id"] == full
    code, out, _ = invoke("compare", short, "--json", "--store", db)
    assert code == 0 and json.loads(out)["run_ids"] == [full]
    assert invoke("tag", short, "reviewed", "yes", "--store", db)[0] == 0
    assert invoke("note", short, "looks good", "--store", db)[0] == 0
    code, out, _ = invoke("artifacts", short, "--store", db)
    assert code == 0 and "model" in out
    code, out, _ = invoke(
        "promote", "flowers-softmax", "--run", short, "staging", "--json", "--store", db
    )
    assert code == 0 and json.loads(out)["run_id"] == full and json.loads(out)["stage"] == "staging"
    with ml.open_store(db) as st:
        run = ml.get_run(short, store=st)
        assert run["tags"]["reviewed"] == "yes" and run["note"] == "looks good"


def test_promote_needs_a_version_or_a_run(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    assert invoke("demo", "--quiet", "--store", db)[0] == 0
    code, _, err = invoke("promote", "flowers-softmax", "staging", "--store", db)
    assert code == 2 and "promote takes NAME VERSION STAGE (or --run)" in err
    code, _, err = invoke("promote", "flowers-softmax", "one", "staging", "--store", db)
    assert code == 2 and "VERSION must be a number" in err
    code, _, err = invoke("promote", "flowers-softmax", "1", "live", "--store", db)
    assert code == 2 and "stage 'live' is not one of" in err


# -- errors a newcomer makes --------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["runs"], ["run", "abcd1234"], ["best", "acc"], ["experiments"], ["models"], ["doctor"]],
)
def test_reading_a_store_that_does_not_exist_says_so_and_creates_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    typo = tmp_path / "typo.db"
    code, _, err = invoke(*args, "--store", str(typo))
    assert code == 4
    assert (
        err == f"error: no store at {typo}: nothing has been logged there (check --store or "
        "CHACHAML_STORE; `chachaml demo` creates an example store)\n"
    )
    assert not typo.exists() and list(tmp_path.iterdir()) == []


def test_a_store_path_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = invoke("demo", "--quiet", "--store", str(blocker / "sub" / "x.db"))
    assert code == 3
    assert err.count("\n") == 1 and err.startswith("error: cannot open SQLite database")
    assert "Traceback" not in err


def test_an_unreachable_postgresql_fails_within_seconds_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A loopback port that accepts TCP connections but never answers: the worst case, where
    # only a timeout can tell that nothing is there.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    monkeypatch.setenv("CHACHAML_PG_TIMEOUT", "2")
    try:
        start = time.monotonic()
        code, _, err = invoke("runs", "--store", f"postgresql://u@127.0.0.1:{port}/db")
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert code == 3
    assert err.count("\n") == 1 and err.startswith("error: cannot open PostgreSQL store")
    assert elapsed < 6


def test_a_refused_postgresql_connection_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    start = time.monotonic()
    code, _, err = invoke("runs", "--store", f"postgresql://u@127.0.0.1:{port}/db")
    assert code == 3 and err.count("\n") == 1 and "Connection refused" in err
    assert time.monotonic() - start < 3


def test_runs_json_includes_the_metric_columns_asked_for(tmp_path: Path) -> None:
    db = str(tmp_path / "m.db")
    with ml.store(db):
        with ml.run(experiment="m"):
            ml.log_metric("acc", 0.25)
            ml.log_metric("acc", 0.75)
        with ml.run(experiment="m"):
            pass
    code, out, _ = invoke("runs", "--json", "-m", "acc", "--store", db)
    assert code == 0
    assert [r["metrics"] for r in json.loads(out)] == [{"acc": None}, {"acc": 0.75}]


def test_a_quick_run_shows_milliseconds_not_zero_seconds(tmp_path: Path) -> None:
    db = str(tmp_path / "q.db")
    with ml.store(db) as st:
        with ml.run(experiment="q") as run:
            pass
        st.meta.finish_run(run.id, "completed", ml.get_run(run.id)["start_time"] + 13, None)
    code, out, _ = invoke("runs", "--store", db)
    assert code == 0 and "13ms" in out and "0.0s" not in out
