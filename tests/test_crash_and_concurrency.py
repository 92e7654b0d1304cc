"""Several processes on one SQLite file, fresh-database races, and ``kill -9`` mid-run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import chachaml as ml

SRC = str(Path(ml.__file__).resolve().parent.parent)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def spawn(code: str, *args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=child_env(),
        text=True,
        **kw,  # type: ignore[call-overload]
    )


LOGGER = """
    import sys
    import chachaml as ml

    path, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with ml.open_store(path) as st:
        with ml.run(experiment="conc", name=f"w{worker}", store=st) as run:
            ml.log_param("worker", worker)
            for i in range(n):
                ml.log_metric("m", float(i))
                if i % 500 == 0:
                    ml.log_tag("progress", i)
    print(run.id)
"""


def test_several_processes_logging_into_one_file_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    workers, points = 4, 2000
    procs = [
        spawn(LOGGER, path, str(w), str(points), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for w in range(workers)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=False):
        assert proc.returncode == 0, err
        assert err == ""
    run_ids = [out.strip() for out, _ in outputs]
    with ml.open_store(path) as st:
        assert st.meta.integrity_check() == "ok"
        listed = ml.runs(experiment="conc", store=st)
        assert {r["id"] for r in listed} == set(run_ids)
        for w, run_id in enumerate(run_ids):
            run = ml.get_run(run_id, store=st)
            assert run["status"] == "completed"
            assert run["params"] == {"worker": w}
            history = ml.metric_history(run_id, "m", store=st)
            assert [p["step"] for p in history] == list(range(points))
            assert [p["value"] for p in history] == [float(i) for i in range(points)]
            assert run["metric_stats"]["m"]["count"] == points


OPENER = """
    import sys
    import chachaml as ml

    with ml.open_store(sys.argv[1]) as st:
        with ml.run(store=st, experiment="race") as run:
            ml.log_metric("m", 1.0)
        print(st.meta.applied_migrations())
"""


def test_several_processes_opening_a_fresh_database_at_once_all_succeed(tmp_path: Path) -> None:
    path = str(tmp_path / "fresh.db")
    procs = [spawn(OPENER, path, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(6)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=False):
        assert proc.returncode == 0, err
    assert len({out for out, _ in outputs}) == 1  # every process sees the same migrations
    with ml.open_store(path) as st:
        applied = st.meta.applied_migrations()
        assert [v for v, _ in applied] == sorted({v for v, _ in applied})
        assert len(ml.runs(experiment="race", store=st)) == 6
        assert st.meta.integrity_check() == "ok"


CRASHER = """
    import sys, time
    import chachaml as ml

    st = ml.open_store(sys.argv[1])
    run = ml.start_run(experiment="crash", store=st)
    print("run", run.id, flush=True)
    step = 0
    while True:
        ml.log_metric("m", float(step), step=step)
        print("step", step, time.time(), flush=True)
        step += 1
        time.sleep(0.002)
"""


def test_kill_9_keeps_points_older_than_a_second_and_the_run_reads_crashed(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "crash.db")
    proc = spawn(CRASHER, path, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline().split()
        assert first[0] == "run", first
        run_id = first[1]
        logged: list[tuple[int, float]] = []  # (step, time it was logged by)
        while True:
            line = proc.stdout.readline()
            assert line, "the child exited early"
            _, step, stamp = line.split()
            logged.append((int(step), float(stamp)))
            if time.time() - logged[0][1] > 1.5 and len(logged) > 10:
                break
        proc.kill()
        killed_at = time.time()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    must_have = {step for step, stamp in logged if stamp < killed_at - 1.0}
    assert must_have, "the child did not log long enough before the kill"
    with ml.open_store(path) as st:
        assert st.meta.integrity_check() == "ok"
        stored = {p["step"] for p in ml.metric_history(run_id, "m", store=st)}
        missing = must_have - stored
        assert not missing, f"{len(missing)} points older than 1 s were lost"
        run = ml.get_run(run_id, store=st)
        assert run["status"] == "crashed"
        assert run["end_time"] is not None
