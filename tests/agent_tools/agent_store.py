"""Populated stores on every backend (SQLite, PostgreSQL, a remote store served over HTTP) for
the agent tool layer and the MCP server, plus helpers to start ``chachaml mcp``.

Each backend's store is built once per test module (the ``backend`` fixture, registered by
``conftest.py``): the MCP server processes of a module share it, which keeps the stdio tests
fast. (A module of its own: a name like ``conftest`` is ambiguous when several test folders run
together.)
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import backends
import chachaml as ml

BACKENDS = ("sqlite", "postgres", "remote")


@dataclass
class Populated:
    """A store with known content; ``url`` is what ``chachaml mcp --store`` is given."""

    name: str
    store: ml.Store
    url: str
    env: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)


def populate(st: ml.Store) -> dict[str, str]:
    """Runs, an explicit experiment, a child run, a failed run, artifacts of several formats,
    datasets, a note, a registered model with two versions, a pipeline and a fired alert."""
    ids: dict[str, str] = {}
    with ml.store(st):
        ml.create_experiment("iris", description="Fisher's flowers", owner="ana")
        for i, (model, lr, accs) in enumerate(
            [("rf", 0.1, [0.7, 0.8, 0.91]), ("gbm", 0.01, [0.6, 0.95, 0.85]), ("rf", 0.3, [0.5])]
        ):
            with ml.run(experiment="iris", name=f"r{i}", tags={"team": "a"}) as run:
                ml.log_params({"model": model, "lr": lr, "depth": 3})
                for step, acc in enumerate(accs):
                    ml.log_metrics({"acc": acc, "loss": 1 - acc}, step=step)
                ml.log_dataset(name="iris.csv", n_rows=150, n_cols=4, features=["a", "b"])
                ml.log_artifact("config", {"lr": lr, "model": model}, format="json")
                ml.log_artifact("readme", "hello " * 2000, format="text")
                ml.log_table(
                    "scores", {"headers": ["k", "v"], "rows": [[j, j * j] for j in range(50)]}
                )
                ml.log_artifact("model", {"weights": [1, 2, 3]})  # pickle: never previewed
                if i == 1:
                    with ml.run(name="child") as child:
                        ml.log_metric("acc", 0.1)
                    ids["child"] = child.id
                    ml.registry.register_model("churn", stage="staging")
                if i == 0:
                    ml.registry.register_model("churn", description="first")
            ids[f"r{i}"] = run.id
        ml.add_tag(ids["r0"], "reviewed", "true")
        ml.set_note(ids["r1"], "## best so far\nwith $x^2$")
        ml.registry.promote("churn", 2, "production")
        with pytest.raises(RuntimeError), ml.run(experiment="other", name="boom"):
            ml.log_metric("acc", float("nan"))
            raise RuntimeError("boom")
        ids["failed"] = ml.runs(experiment="other")[0]["id"]
        result = ml.run_pipeline(
            "etl", [("load", lambda ctx: 1), ("fit", lambda ctx: ctx.prev_result + 1)]
        )
        ids["pipeline"] = result["pipeline_id"]
        ml.set_alert("low-acc", "acc", "<", 0.9, experiment="iris")
        with ml.run(experiment="iris", name="late"):
            ml.log_metric("acc", 0.2)
        ml.check_alerts()
    return ids


def _remote_store(tmp: Path, served: str) -> tuple[ml.Store, str, Any]:
    from chachaml.server.settings import Settings
    from chachaml.server.testing import LiveServer

    live = LiveServer.start(Settings(store_url=served, artifacts_url=str(tmp / "served-blobs")))
    return ml.open_store(live.url), live.url, live


@pytest.fixture(scope="module", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Populated]:
    tmp = tmp_path_factory.mktemp(f"mcp-{request.param}")
    env = {"CHACHAML_OUTBOX_DIR": str(tmp / "outbox"), "CHACHAML_TRUST_PICKLE": "0"}
    live = None
    old_outbox = os.environ.get("CHACHAML_OUTBOX_DIR")
    os.environ["CHACHAML_OUTBOX_DIR"] = env["CHACHAML_OUTBOX_DIR"]
    if request.param == "sqlite":
        url = str(tmp / "meta.db")
        env["CHACHAML_ARTIFACTS"] = str(tmp / "blobs")
        st = ml.open_store(url, artifacts=env["CHACHAML_ARTIFACTS"])
    elif request.param == "postgres":
        url = backends.pg_url_for(tmp)
        env["CHACHAML_ARTIFACTS"] = str(tmp / "blobs")
        st = ml.open_store(url, artifacts=env["CHACHAML_ARTIFACTS"])
    else:
        st, url, live = _remote_store(tmp, str(tmp / "served.db"))
    try:
        populated = Populated(request.param, st, url, env, populate(st))
        yield populated
    finally:
        st.close()
        if live is not None:
            live.stop()
        if old_outbox is None:
            os.environ.pop("CHACHAML_OUTBOX_DIR", None)
        else:
            os.environ["CHACHAML_OUTBOX_DIR"] = old_outbox


def server_command(url: str, *extra: str) -> list[str]:
    """``python -m chachaml mcp --store URL ...`` with this interpreter."""
    return [sys.executable, "-m", "chachaml", "mcp", "--store", url, *extra]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    src = str(Path(ml.__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def same_json(value: Any) -> Any:
    """``value`` as JSON would carry it (NaN as its string, tuples as lists)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): same_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [same_json(v) for v in value]
    return value
