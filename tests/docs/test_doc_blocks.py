"""Every page's code blocks run, in order, as a reader would run them (see ``conftest.py``).

One test per page. ``SETUPS`` gives a page what a reader is assumed to have (``clf`` is "your
model", ``X_train`` "your data") and maps its placeholder host and bucket names to the test
servers; everything else comes from the page itself.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docblocks
import pytest

from chachaml.server.testing import free_port


@dataclass(frozen=True)
class Setup:
    """What a page needs besides its own blocks."""

    #: Python run in the page's namespace before its first block (not shown on the page).
    prelude: str = ""
    #: ``{pg_url}``: the URL of a fresh schema in the test PostgreSQL database.
    pg_schema: bool = False
    #: ``{pg_db}`` (with ``{pg_host}``, ``{pg_user}``): a scratch database, dropped afterwards;
    #: ``"create"`` creates it, ``"reserve"`` leaves that to the page (``createdb``).
    pg_database: str | None = None
    #: ``{bucket}`` and ``{s3_endpoint}``: a bucket on the S3-compatible test server.
    s3: bool = False
    #: Placeholder on the page -> replacement (``{name}`` fields filled from the above).
    subs: dict[str, str] = field(default_factory=dict)
    #: Environment variables the page says it assumes (``{port}``: the page's server).
    env: dict[str, str] = field(default_factory=dict)


# A tiny 1x1 PNG.
_PNG = (
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d5a9b80000000049454e44ae426082"
)
_CLF = 'clf = {"kind": "logistic regression", "coef": [0.4, -1.2], "intercept": 0.1}\n'
_A_RUN_WITH_AN_ARTIFACT = """
import chachaml as ml
with ml.run(experiment="churn", name="baseline"):
    ml.log_params({"C": 1.0})
    ml.log_metric("auc", 0.91)
    ml.log_artifact("model", {"coef": [0.4, -1.2]})
"""

SETUPS: dict[str, Setup] = {
    "docs/chat.md": Setup(
        # A scripted local server speaking OpenAI's wire format stands in for llama-server: it
        # asks for best_run, then answers from the tool's result.
        prelude="""
import json, os, sys
import docblocks
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(docblocks.__file__)), "..", "chat"))
from fake_llm import FakeLLM, openai_text, openai_tools
def _answer(body):
    best = json.loads(body["messages"][-1]["content"])
    run = best["run"]
    return openai_text(f"Run {run['id']} ({run['name']}) has the best auc: {best['value']}.")
_llm = FakeLLM()
_llm.script(openai_tools(("best_run", {"metric": "auc", "experiment": "churn"})), _answer)
os.environ["CHACHAML_CHAT_BASE_URL"] = _llm.v1
os.environ["CHACHAML_CHAT_MODEL"] = "qwen2.5-7b-instruct"
""",
    ),
    "docs/alerts.md": Setup(
        # A real local webhook receiver stands in for Slack: it answers 200 to every POST.
        prelude="""
import os
from alert_receiver import Receiver
_hook = Receiver()
os.environ["SLACK_WEBHOOK_URL"] = _hook.url
""",
    ),
    "README.md": Setup(
        subs={".venv/bin/": "{venv_bin}/"},
        prelude="""
from chachaml.demo import run_demo
run_demo(echo=lambda line: None)  # what `make demo` tracks
_epochs = iter(range(1, 10**6))
def train_one_epoch():
    epoch = next(_epochs)
    return 1.0 / epoch, 1.0 - 0.5 / epoch
X_train = [[5.1, 3.5, 1.4, 0.2], [4.9, 3.0, 1.4, 0.2], [6.2, 3.4, 5.4, 2.3]]
""",
    ),
    "docs/registry.md": Setup(prelude=_CLF),
    "docs/curl.md": Setup(env={"URL": "http://127.0.0.1:{port}", "AUTH": "X-No-Auth: 1"}),
    "docs/artifacts.md": Setup(
        prelude=_CLF
        + f"""
import numpy as np
import pandas as pd
weights_array = np.arange(6, dtype="float32").reshape(2, 3)
predictions_df = pd.DataFrame({{"id": [1, 2, 3], "churn": [0.1, 0.8, 0.4]}})
with open("roc.png", "wb") as f:
    f.write(bytes.fromhex("{_PNG}"))
"""
    ),
    "docs/filters.md": Setup(
        prelude="""
import chachaml as ml
for i, (model, acc) in enumerate([("rf", 0.93), ("gbm", 0.95), ("svm", 0.88)]):
    with ml.run(experiment="iris", name=f"{model}-{i}"):
        ml.log_params({"model": model, "learning rate": 0.01 * (i + 1)})
        ml.log_metrics({"accuracy": acc, "loss": 0.1 * (i + 1), "val.acc": acc})
        ml.log_tag("reviewed", True)
"""
    ),
    "docs/stores.md": Setup(
        prelude=_A_RUN_WITH_AN_ARTIFACT,
        pg_database="create",
        subs={"-h db.internal -U postgres": "-h {pg_host} -U {pg_user}", " mlops ": " {pg_db} "},
    ),
    "docs/migrate.md": Setup(
        prelude=_A_RUN_WITH_AN_ARTIFACT,
        pg_schema=True,
        s3=True,
        subs={
            "postgresql://ml@db.internal/mlops": "{pg_url}",
            "s3://ml-artifacts/chachaml": "s3://{bucket}/chachaml",
        },
    ),
    "docs/team-setup.md": Setup(
        pg_database="reserve",
        s3=True,
        subs={
            "-h db.internal -U postgres mlops": "-h {pg_host} -U {pg_user} {pg_db}",
            "//ml@db.internal:5432/mlops": "//{pg_user}@{pg_host}:5432/{pg_db}",
            "//ml@db.internal/mlops": "//{pg_user}@{pg_host}/{pg_db}",
            "s3://ml-artifacts/chachaml": "s3://{bucket}/chachaml",
            "http://minio.internal:9000": "{s3_endpoint}",
        },
    ),
}

PAGES = docblocks.pages_to_run()


def _page_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["CHACHAML_OUTBOX_DIR"] = str(tmp_path / "outbox")
    env["COLUMNS"] = "120"
    for name in ("BASH_ENV", "ENV", "CHACHAML_STORE", "CHACHAML_ARTIFACTS", "CHACHAML_TOKEN"):
        env.pop(name, None)
    return env


@pytest.mark.parametrize(
    ("page", "setup"),
    [(p, SETUPS.get(docblocks.rel(p), Setup())) for p in PAGES],
    ids=[docblocks.rel(p) for p in PAGES],
)
def test_page_runs_as_written(
    page: Path,
    setup: Setup,
    services: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    # The pages describe a fresh folder: the default store is ./chachaml.db.
    monkeypatch.delenv("CHACHAML_STORE", raising=False)
    monkeypatch.setenv("CHACHAML_OUTBOX_DIR", str(tmp_path / "outbox"))
    parsed = docblocks.parse(page)
    values = dict(services)
    values["venv_bin"] = str(Path(sys.executable).parent)
    subs = {old: new.format_map(values) for old, new in setup.subs.items()}
    if any(b.run_mode == "server" for b in parsed.run_blocks):
        values["port"] = str(free_port())
        subs["8080"] = values["port"]
    env = _page_env(tmp_path)
    env.update({name: value.format_map(values) for name, value in setup.env.items()})
    namespace: dict[str, Any] = {"__name__": "__doc__"}
    if setup.prelude:
        exec(compile(setup.prelude, f"<prelude of {docblocks.rel(page)}>", "exec"), namespace)
    try:
        ran = docblocks.run_page(
            parsed,
            cwd=work,
            env=env,
            subs=subs,
            namespace=namespace,
            state=tmp_path / "shell-state.sh",
        )
    except docblocks.DocFailure as exc:
        pytest.fail(str(exc), pytrace=False)
    assert ran == len(parsed.run_blocks)
    unused = [old for old in setup.subs if not any(old in b.code for b in parsed.run_blocks)]
    assert unused == [], f"placeholders of SETUPS no longer on the page: {unused}"


def test_every_setup_names_a_page() -> None:
    assert set(SETUPS) <= {docblocks.rel(p) for p in PAGES}
