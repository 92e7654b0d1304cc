"""Every shell block of docs/curl.md runs, in order, against a live server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import chachaml as ml
from chachaml.server.settings import Settings
from chachaml.server.testing import LiveServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "curl.md"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (.ci/run installs it)")
def test_the_curl_how_to_works(tmp_path: Path) -> None:
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    script = "\n".join(b for b in blocks if not b.lstrip().startswith("chachaml server"))
    with LiveServer.start(Settings(store_url=str(tmp_path / "team.db"))) as live:
        env = {**os.environ, "URL": live.url, "AUTH": "X-No-Auth: 1"}
        out = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, out.stderr + out.stdout
        with ml.store(str(tmp_path / "team.db")) as st:
            (run,) = ml.runs(experiment="curl-demo", store=st)
            full = ml.get_run(run["id"], store=st)
            assert full is not None and full["status"] == "completed"
            assert full["params"]["layers"] == [64, 64]
            assert len(ml.metric_history(run["id"], "loss", store=st)) == 3
            assert ml.load_artifact(run["id"], "reports/loss.csv", store=st) is not None
        assert "epoch,loss" in out.stdout
