"""The server goes away while a client logs: points spool to the local outbox and reach the
server exactly once after it is back (at the next flush, or via ``chachaml sync``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import chachaml as ml
from chachaml import httpclient
from chachaml.cli import cli
from chachaml.server.settings import Settings
from chachaml.server.testing import LiveServer
from chachaml.store import remote

OUTAGE_SECONDS = 2.0


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setenv("CHACHAML_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setattr(httpclient, "BACKOFF", 0.01)
    server = LiveServer.start(Settings(store_url=str(tmp_path / "served.db")))
    yield server
    server.stop()


def _served_points(tmp_path: Path, run_id: str, key: str) -> list[tuple[int, float]]:
    with ml.store(str(tmp_path / "served.db")) as local:
        return [(p["step"], p["value"]) for p in ml.metric_history(run_id, key, store=local)]


def test_points_logged_during_an_outage_arrive_exactly_once(
    live: LiveServer, tmp_path: Path
) -> None:
    step = 0
    with ml.store(live.url) as st:
        meta = st.meta
        assert isinstance(meta, remote.RemoteMetadataStore)
        run = ml.start_run(experiment="outage")
        for _ in range(1000):
            ml.log_metric("x", float(step), step=step)
            step += 1
        st.flush()
        live.stop()
        deadline = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < deadline:  # keep training while the server is away
            for _ in range(500):
                ml.log_metric("x", float(step), step=step)
                step += 1
            st.flush()  # nothing is lost or raised: the batch goes to the outbox
        assert meta.outbox.count() > 0
        live.run()  # back on the same port
        for _ in range(1000):
            ml.log_metric("x", float(step), step=step)
            step += 1
        ml.end_run()
        assert meta.outbox.count() == 0
    points = _served_points(tmp_path, run.id, "x")
    assert points == [(i, float(i)) for i in range(step)]


def test_chachaml_sync_sends_the_outbox(live: LiveServer, tmp_path: Path) -> None:
    with ml.store(live.url) as st:
        run = ml.start_run(experiment="sync")
        live.stop()
        meta = st.meta
        assert isinstance(meta, remote.RemoteMetadataStore)
        meta.log_metrics([(run.id, "y", i, i / 2, 0) for i in range(300)])
        meta.log_metrics([(run.id, "y", i, i / 2, 0) for i in range(300, 400)])
        assert meta.outbox.count() == 2
        live.run()
        result = CliRunner().invoke(cli, ["sync", "--store", live.url, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == {"sent": 2, "remaining": 0}
        assert _served_points(tmp_path, run.id, "y") == [(i, i / 2) for i in range(400)]
        ml.end_run()
