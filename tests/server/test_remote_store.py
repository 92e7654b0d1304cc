"""The remote store against a real uvicorn server on loopback: the Python API works unchanged,
metrics are batched, tokens are sent, and ``import chachaml`` stays free of HTTP libraries."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import chachaml as ml
from chachaml.errors import NotFound, StoreUnavailable
from chachaml.server.settings import Settings, parse_tokens
from chachaml.server.testing import LiveServer, free_port


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setenv("CHACHAML_OUTBOX_DIR", str(tmp_path / "outbox"))
    server = LiveServer.start(Settings(store_url=str(tmp_path / "served.db")))
    yield server
    server.stop()


def test_import_chachaml_does_not_import_http_or_server_libraries() -> None:
    code = (
        "import sys, chachaml, chachaml.cli; "
        "bad = [m for m in ('httpx', 'fastapi', 'uvicorn', 'starlette', 'pydantic') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_training_run_logs_through_the_server(live: LiveServer, tmp_path: Path) -> None:
    with ml.store(live.url) as st:
        with ml.run(experiment="remote", tags={"k": "v"}) as run:
            ml.log_params({"lr": 0.1, "nan": float("nan")})
            for step in range(5000):
                ml.log_metrics({"loss": 1 / (step + 1), "acc": step / 5000}, step=step)
            ml.log_metric("odd", float("inf"))
            ml.set_name("named")
            ml.log_artifact("cfg", {"a": [1, 2]}, format="json")
            ml.log_dataset(role="train", n_rows=100, name="d")
        ml.set_note(run.id, "hello")
        got = ml.get_run(run.id, store=st)
        assert got is not None and got["status"] == "completed" and got["name"] == "named"
        assert got["metrics"]["loss"] == 1 / 5000 and got["metrics"]["odd"] == float("inf")
        assert got["params"]["lr"] == 0.1 and got["params"]["nan"] != got["params"]["nan"]
        assert got["note"] == "hello" and got["tags"] == {"k": "v"}
        assert len(ml.metric_history(run.id, "loss", store=st)) == 5000
        assert len(ml.metric_history(run.id, "loss", max_points=100, store=st)) <= 100
        assert ml.load_artifact(run.id, "cfg", store=st) == {"a": [1, 2]}
        assert ml.best_run("acc", store=st)["id"] == run.id
        assert ml.search_runs("metrics.acc > 0.5", store=st)[0]["id"] == run.id
        assert ml.get_datasets(run.id, store=st)[0]["n_rows"] == 100
    # The same data is visible straight from the server's own store.
    with ml.store(str(tmp_path / "served.db")) as local:
        assert len(ml.metric_history(run.id, "acc", store=local)) == 5000


def test_unknown_runs_and_bad_input_raise_the_same_errors_as_locally(live: LiveServer) -> None:
    with ml.store(live.url) as st:
        assert ml.search_runs(ids=["0" * 32], include_archived=True, store=st) == []
        with pytest.raises(NotFound):
            ml.add_tag("0" * 32, "k", "v", store=st)
        with pytest.raises(ml.InvalidFilter):
            ml.search_runs("metrics.acc >", store=st)


def test_tokens_are_sent_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHACHAML_OUTBOX_DIR", str(tmp_path / "outbox"))
    settings = Settings(
        store_url=str(tmp_path / "auth.db"), tokens=parse_tokens("reader-token:read,writer-token")
    )
    with LiveServer.start(settings) as live:
        monkeypatch.delenv("CHACHAML_TOKEN", raising=False)
        with ml.store(live.url) as st, pytest.raises(StoreUnavailable, match="401"):
            ml.runs(store=st)
        monkeypatch.setenv("CHACHAML_TOKEN", "reader-token")
        with ml.store(live.url) as st:
            assert ml.runs(store=st) == []
            with pytest.raises(StoreUnavailable, match="403"):
                ml.create_experiment("x", store=st)
        monkeypatch.setenv("CHACHAML_TOKEN", "writer-token")
        with ml.store(live.url) as st:
            assert ml.create_experiment("x", store=st)["name"] == "x"


def test_an_unreachable_server_fails_reads_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHACHAML_OUTBOX_DIR", str(tmp_path / "outbox"))
    from chachaml import httpclient

    monkeypatch.setattr(httpclient, "BACKOFF", 0.001)
    with ml.store(f"http://127.0.0.1:{free_port()}") as st, pytest.raises(StoreUnavailable):
        ml.runs(store=st)


def test_listing_hundreds_of_explicit_ids_through_the_remote_store(live: LiveServer) -> None:
    from chachaml import query

    with ml.store(live.url) as st:
        ids = []
        for i in range(450):
            with ml.run(experiment="many", tags={"odd": str(i % 2)}) as run:
                pass
            ids.append(run.id)
        q = query.build_query(ids=ids[:420], limit=None)
        assert [r["id"] for r in st.meta.list_runs(q)] == ids[:420][::-1]
        assert st.meta.count_runs(q) == 420
        paged = st.meta.list_runs(q._replace(limit=50, offset=400))
        assert [r["id"] for r in paged] == ids[:20][::-1]
        odd = q._replace(tags={"odd": "1"})
        assert st.meta.count_runs(odd) == 210
        assert st.meta.list_runs(q._replace(ids=[])) == []
        assert st.meta.count_runs(q._replace(ids=[])) == 0


def test_artifact_path_on_a_remote_store_leaves_no_cache_behind_at_exit(
    live: LiveServer, tmp_path: Path
) -> None:
    with ml.store(live.url), ml.run() as run:
        ml.log_artifact("notes", "remote bytes", format="text")
    script = (
        "import os, sys, chachaml as ml\n"
        f"ml.use_store({live.url!r})\n"
        f"path = ml.artifact_path({run.id!r}, 'notes')\n"
        "assert open(path).read() == 'remote bytes'\n"
        "print(os.path.dirname(os.path.dirname(path)))\n"  # <cache dir>/cache/<sha>
    )
    env = {"CHACHAML_OUTBOX_DIR": str(tmp_path / "outbox2"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    cache_dir = Path(out.stdout.strip())
    assert cache_dir.name.startswith("chachaml-remote-")
    assert not cache_dir.exists()  # removed when the process exited, without ml.use_store(None)
