"""Pipelines through the Python API: bookkeeping of success, failure, Ctrl-C and crashes, resume,
validation, reading, display and the CLI (the backend-agnostic core is in
tests/conformance/test_pipelines_conformance.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

import chachaml as ml
from chachaml import display, pipeline_api
from chachaml.cli import cli
from chachaml.errors import InvalidInput, NotFound


@pytest.fixture
def st(tmp_path: Path) -> Iterator[ml.Store]:
    store = ml.open_store(str(tmp_path / "p.db"), artifacts=str(tmp_path / "blobs"))
    with ml.store(store):
        yield store
    store.close()


def _statuses(out: dict[str, Any]) -> list[str]:
    return [s["status"] for s in out["steps"]]


def test_success_records_a_parent_run_and_one_child_run_per_step(st: ml.Store) -> None:
    seen: list[tuple[Any, dict[str, Any], str, int]] = []

    def load(ctx: pipeline_api.StepContext) -> list[int]:
        ml.log_param("rows", 3)
        return [3, 1, 2]

    def sort(ctx: Any) -> list[int]:
        seen.append((ctx.prev_result, dict(ctx.results), ctx.step_name, ctx.step_index))
        assert ctx.run is not None and ml.current_run().id == ctx.run.id
        ml.log_metric("n", len(ctx.prev_result))
        return sorted(ctx.prev_result)

    out = ml.run_pipeline("etl", [("load", load), ml.Step("sort", sort)], "sorts", "exp")
    assert out["status"] == "completed" and out["result"] == [1, 2, 3]
    assert seen == [([3, 1, 2], {"load": [3, 1, 2]}, "sort", 1)]
    assert _statuses(out) == ["completed", "completed"]
    parent = ml.get_run(out["pipeline_id"])
    assert parent["name"] == "etl" and parent["experiment"] == "exp"
    assert parent["status"] == "completed" and parent["tags"] == {"pipeline": "etl"}
    step_ids = [s["run_id"] for s in out["steps"]]
    assert parent["children"] == step_ids
    load_run, sort_run = (ml.get_run(i) for i in step_ids)
    assert load_run["params"] == {"rows": 3} and sort_run["metrics"] == {"n": 3.0}
    assert sort_run["tags"] == {"pipeline_step": "sort"} and sort_run["experiment"] == "exp"
    for s in out["steps"]:
        assert s["duration_ms"] == s["finished_at"] - s["started_at"] >= 0
        assert s["error"] is None
    p = ml.pipeline(out["pipeline_id"])
    assert p["description"] == "sorts" and p["steps"] == out["steps"]
    assert p["finished_at"] is not None and p["step_count"] == p["steps_done"] == 2


def _boom(ctx: Any) -> None:
    raise ValueError("bad input\nsecond line")


@pytest.mark.parametrize("where", [0, 1, 2])
def test_a_failing_step_fails_fast_and_the_exception_is_reraised_unchanged(
    st: ml.Store, where: int
) -> None:
    calls: list[str] = []
    error = ValueError("bad input")

    def fail(ctx: Any) -> None:
        calls.append(ctx.step_name)
        raise error

    def ok(ctx: Any) -> str:
        calls.append(ctx.step_name)
        return ctx.step_name

    steps = [(f"s{i}", fail if i == where else ok) for i in range(3)]
    with pytest.raises(ValueError) as caught:
        ml.run_pipeline("p", steps)
    assert caught.value is error
    assert calls == [f"s{i}" for i in range(where + 1)]
    (listed,) = ml.pipelines()
    assert listed["status"] == "failed" and listed["finished_at"] is not None
    p = ml.pipeline(listed["id"])
    expected = ["completed"] * where + ["failed"] + ["skipped"] * (2 - where)
    assert _statuses(p) == expected
    failed = p["steps"][where]
    assert failed["error"] == "ValueError: bad input"
    assert failed["run_id"] is not None and failed["duration_ms"] is not None
    assert ml.get_run(failed["run_id"])["status"] == "failed"
    assert ml.get_run(p["id"])["status"] == "failed"
    for skipped in p["steps"][where + 1 :]:
        assert skipped["run_id"] is None and skipped["started_at"] is None
    assert len(ml.get_run(p["id"])["children"]) == where + 1


def test_keyboard_interrupt_marks_the_step_and_the_pipeline_killed(st: ml.Store) -> None:
    def interrupted(ctx: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ml.run_pipeline("p", [("a", lambda ctx: 1), ("b", interrupted), ("c", lambda ctx: 3)])
    (p,) = ml.pipelines()
    assert p["status"] == "killed"
    p = ml.pipeline(p["id"])
    assert _statuses(p) == ["completed", "killed", "skipped"]
    assert ml.get_run(p["steps"][1]["run_id"])["status"] == "killed"


CRASHING = textwrap.dedent(
    """
    import sys, time
    import chachaml as ml

    def hang(ctx):
        print(ctx.pipeline_id, flush=True)
        time.sleep(600)

    with ml.store(sys.argv[1]):
        ml.run_pipeline("doomed", [("a", lambda ctx: 1), ("hang", hang), ("c", lambda ctx: 3)])
    """
)


def test_a_killed_process_leaves_the_pipeline_and_its_step_crashed(tmp_path: Path) -> None:
    db = str(tmp_path / "crash.db")
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING, db],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "CHACHAML_STORE": db},
    )
    try:
        assert proc.stdout is not None
        pipeline_id = proc.stdout.readline().strip()  # the step is running now
        assert len(pipeline_id) == 32, pipeline_id
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    # A fresh store object finalises runs of dead local processes (the crash rule of runs).
    with ml.open_store(db) as fresh:
        p = ml.pipeline(pipeline_id, store=fresh)
        listed = ml.pipelines(status="crashed", store=fresh)
        step_run = ml.get_run(p["steps"][1]["run_id"], store=fresh)
    assert p["status"] == "crashed" and [x["id"] for x in listed] == [pipeline_id]
    assert _statuses(p) == ["completed", "crashed", "skipped"]
    assert step_run["status"] == "crashed"
    assert p["steps"][1]["finished_at"] is not None and p["finished_at"] is not None


def test_a_stale_heartbeat_reads_crashed_without_finalising(st: ml.Store) -> None:
    """The pipeline and its running step read as their runs do under the heartbeat rule."""
    from chachaml import runs_api

    parent = runs_api.create_run(name="p", store=st)["id"]
    child = runs_api.create_run(name="s", parent_run_id=parent, store=st)["id"]
    pipeline_api.record_pipeline(parent, "p", ["s", "t"], store=st)
    pipeline_api.record_step(parent, 0, "running", run_id=child, started_at=1, store=st)
    assert _statuses(ml.pipeline(parent)) == ["running", "pending"]
    st.meta.heartbeat([parent, child], 5)  # long ago: the heartbeat timeout has passed
    p = ml.pipeline(parent)
    assert p["status"] == "crashed" and _statuses(p) == ["crashed", "skipped"]
    assert [x["id"] for x in ml.pipelines(status="crashed")] == [parent]
    assert ml.pipelines(status="running") == []


def test_resume_reuses_saved_results_and_reruns_the_rest(st: ml.Store) -> None:
    calls: list[str] = []
    state = {"fail": True}

    def step(name: str, value: Any) -> Any:
        def fn(ctx: Any) -> Any:
            calls.append(name)
            if name == "evaluate" and state["fail"]:
                raise RuntimeError("flaky")
            return value(ctx)

        return fn

    steps = [
        ("load", step("load", lambda ctx: [1, 2, 3])),  # not saved: re-run on resume
        ml.Step("train", step("train", lambda ctx: {"w": sum(ctx.prev_result)}), True),
        ml.Step("pack", step("pack", lambda ctx: (ctx.prev_result["w"], "t")), True),  # pickle
        ("evaluate", step("evaluate", lambda ctx: ctx.results["pack"][0] * 2)),
    ]
    with pytest.raises(RuntimeError):
        ml.run_pipeline("train", steps)
    (first,) = ml.pipelines()
    old = ml.pipeline(first["id"])
    assert _statuses(old) == ["completed", "completed", "completed", "failed"]
    assert [s["result_artifact"] for s in old["steps"]] == [
        None,
        "pipeline-result",
        "pipeline-result",
        None,
    ]
    formats = [a["format"] for s in old["steps"][1:3] for a in ml.list_artifacts(s["run_id"])]
    assert formats == ["json", "pickle"]

    calls.clear()
    state["fail"] = False
    out = ml.run_pipeline("train", steps, resume_from=first["id"][:8])
    assert calls == ["load", "evaluate"]  # train and pack were not called again
    assert out["status"] == "completed" and out["result"] == 12
    assert _statuses(out) == ["completed", "reused", "reused", "completed"]
    for i in (1, 2):
        assert out["steps"][i]["run_id"] == old["steps"][i]["run_id"]
    new = ml.pipeline(out["pipeline_id"])
    assert new["resumed_from"] == first["id"] and new["steps_done"] == 4
    # A resumed pipeline that failed again can be resumed too: reused steps stay reused.
    assert ml.pipelines(limit=1)[0]["id"] == out["pipeline_id"]


def test_resume_is_refused_with_a_clear_error_and_stores_nothing(st: ml.Store) -> None:
    ok = ml.run_pipeline("p", [("a", lambda ctx: 1)])
    with pytest.raises(ValueError):
        ml.run_pipeline("q", [("a", lambda ctx: 1), ("b", _boom)])
    failed = ml.pipelines(name="q")[0]["id"]
    runs_before = ml.count_runs()
    cases: list[tuple[str, str, list[Any], type[Exception], str]] = [
        (ok["pipeline_id"], "p", [("a", lambda ctx: 1)], InvalidInput, "nothing to resume"),
        (failed, "other", [("a", lambda ctx: 1), ("b", _boom)], InvalidInput, "its own name"),
        (failed, "q", [("a", lambda ctx: 1), ("c", _boom)], InvalidInput, "same steps"),
        ("f" * 32, "q", [("a", lambda ctx: 1)], NotFound, "does not exist"),
        (ml.get_run(failed)["children"][0], "q", [("a", lambda ctx: 1)], NotFound, "pipeline"),
    ]
    for resume_from, name, steps, error, text in cases:
        with pytest.raises(error, match=text):
            ml.run_pipeline(name, steps, resume_from=resume_from)
    assert ml.count_runs() == runs_before and len(ml.pipelines()) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", [("a", lambda c: 1)]), "pipeline name"),
        (("p", []), "at least one step"),
        (("p", "ab"), "list of"),
        (("p", [("a", lambda c: 1), ("a", lambda c: 2)]), "used twice"),
        (("p", [("a", 1)]), "callable"),
        (("p", [("a",)]), "tuple"),
        (("p", [("", lambda c: 1)]), "step 0"),
        (("p", [ml.Step("a", lambda c: 1, save_result="yes")]), "save_result"),  # type: ignore[arg-type]
        (("p", [("a", lambda c: 1)], 5), "description"),
        (("p", [("a", lambda c: 1)], None, ""), "experiment"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    st: ml.Store, args: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        ml.run_pipeline(*args)
    assert ml.count_runs() == 0 and ml.pipelines() == []


def test_reading_filters_prefixes_and_unknown_ids(st: ml.Store) -> None:
    a = ml.run_pipeline("a", [("x", lambda ctx: 1)])["pipeline_id"]
    with pytest.raises(ValueError):
        ml.run_pipeline("b", [("x", _boom)])
    b = ml.pipelines(name="b")[0]["id"]
    assert [p["id"] for p in ml.pipelines()] == [b, a]
    assert [p["id"] for p in ml.pipelines(limit=1)] == [b]
    assert [p["id"] for p in ml.pipelines(status="completed")] == [a]
    assert [p["id"] for p in ml.pipelines(name="a", status="failed")] == []
    assert ml.pipeline(a[:6])["id"] == a
    json.dumps(ml.pipelines()), json.dumps(ml.pipeline(a))  # plain JSON-serialisable data
    with pytest.raises(NotFound):
        ml.pipeline("0" * 32)
    plain = ml.runs(name="x")[0]["id"]
    with pytest.raises(NotFound, match="pipeline"):
        ml.pipeline(plain)
    for bad in ({"status": "weird"}, {"limit": -1}, {"name": 3}):
        with pytest.raises(InvalidInput):
            ml.pipelines(**bad)
    with pytest.raises(InvalidInput):
        ml.pipeline("not-an-id")


def test_store_protocol_refuses_unknown_ids(st: ml.Store) -> None:
    from chachaml.errors import AlreadyExists

    with pytest.raises(NotFound):
        pipeline_api.record_pipeline("a" * 32, "p", ["s"], store=st)
    pid = ml.run_pipeline("p", [("s", lambda ctx: 1)])["pipeline_id"]
    with pytest.raises(AlreadyExists):
        pipeline_api.record_pipeline(pid, "p", ["s"], store=st)
    with pytest.raises(NotFound):
        pipeline_api.record_step(pid, 5, "skipped", store=st)
    with pytest.raises(NotFound):
        pipeline_api.record_step("b" * 32, 0, "skipped", store=st)
    with pytest.raises(NotFound):
        pipeline_api.record_step(pid, 0, "running", run_id="c" * 32, store=st)
    with pytest.raises(InvalidInput):
        pipeline_api.record_step(pid, 0, "exploded", store=st)
    assert _statuses(ml.pipeline(pid)) == ["completed"]


def test_deleting_the_pipeline_run_deletes_the_pipeline(st: ml.Store) -> None:
    from chachaml import runs_api

    out = ml.run_pipeline("p", [("s", lambda ctx: 1), ("t", lambda ctx: 2)])
    runs_api.delete_run(out["steps"][0]["run_id"], store=st)
    p = ml.pipeline(out["pipeline_id"])
    assert p["steps"][0]["run_id"] is None and p["steps"][0]["status"] == "completed"
    runs_api.delete_run(out["pipeline_id"], store=st)
    assert ml.pipelines() == []
    with pytest.raises(NotFound):
        ml.pipeline(out["pipeline_id"])


def test_display_renders_tables_and_escaped_html(st: ml.Store) -> None:
    with pytest.raises(ValueError):
        ml.run_pipeline("<b>p</b>", [("[red]x[/]", lambda ctx: 1), ("y", _boom), ("z", _boom)])
    p = ml.pipeline(ml.pipelines()[0]["id"])
    html = p._repr_html_()  # type: ignore[attr-defined]
    assert "<b>p</b>" not in html and "&lt;b&gt;p&lt;/b&gt;" in html
    assert "ValueError: bad input" in html and "second line" not in html
    console = Console(record=True, width=160)
    display.inspect_pipeline(p, console=console)
    display.pipelines_table(ml.pipelines(), console=console)
    text = console.export_text()
    assert "[red]x[/]" in text and "skipped" in text and "failed" in text and "1/3" in text
    # An unfinished pipeline (no end times anywhere) renders too.
    running = {"id": "a" * 32, "name": "p", "status": "running", "steps": [{"index": 0}]}
    display.inspect_pipeline(running, console=console)
    assert "<table>" in display.pipeline_html(running)


def test_cli_lists_and_shows_pipelines(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    with ml.store(db):
        pid = ml.run_pipeline("nightly", [("load", lambda ctx: 1), ("fit", lambda ctx: 2)])[
            "pipeline_id"
        ]
    runner = CliRunner()
    result = runner.invoke(cli, ["pipelines", "--store", db, "--json", "--name", "nightly"])
    assert result.exit_code == 0, result.output
    assert [p["id"] for p in json.loads(result.stdout)] == [pid]
    result = runner.invoke(cli, ["pipelines", "--store", db, "-s", "completed", "-n", "5"])
    assert result.exit_code == 0 and "nightly" in result.stdout and "2/2" in result.stdout
    result = runner.invoke(cli, ["pipeline", pid[:8], "--store", db, "--json"])
    assert result.exit_code == 0
    assert [s["name"] for s in json.loads(result.stdout)["steps"]] == ["load", "fit"]
    result = runner.invoke(cli, ["pipeline", pid, "--store", db])
    assert result.exit_code == 0 and "fit" in result.stdout and "completed" in result.stdout
    result = runner.invoke(cli, ["pipeline", "0" * 32, "--store", db])
    assert result.exit_code == 4
