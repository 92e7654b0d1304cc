"""The run's environment snapshot never stores secrets from the command line: values of
secret-looking options and settings, and passwords in URLs, are replaced by ``***``."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

import chachaml as ml
from chachaml import envinfo
from chachaml.envinfo import MASK, redact_argv

SECRET = "hunter2-S3cr3t"

CASES = [
    (["--api-key=" + SECRET], ["--api-key=***"]),
    (["--api_key", SECRET], ["--api_key", MASK]),
    (["--password", SECRET, "--epochs", "3"], ["--password", MASK, "--epochs", "3"]),
    (["--PASSWORD=" + SECRET], ["--PASSWORD=***"]),
    (["--token", SECRET], ["--token", MASK]),
    (["--hf-token=" + SECRET], ["--hf-token=***"]),
    (["--client-secret", SECRET], ["--client-secret", MASK]),
    (["--db-passwd=" + SECRET], ["--db-passwd=***"]),
    (["--pwd", SECRET], ["--pwd", MASK]),
    (["--credentials", SECRET], ["--credentials", MASK]),
    (["--auth-header", SECRET], ["--auth-header", MASK]),
    (["-token", SECRET], ["-token", MASK]),  # single-dash long options (Go style)
    (["-p" + SECRET], ["-p***"]),  # mysql -pSECRET
    (["-password=" + SECRET], ["-p***"]),
    (["db.password=" + SECRET], ["db.password=***"]),  # Hydra / OmegaConf overrides
    (["+wandb.api_key=" + SECRET], ["+wandb.api_key=***"]),
    (["AWS_SECRET_ACCESS_KEY=" + SECRET], ["AWS_SECRET_ACCESS_KEY=***"]),
    (
        [f"--db=postgresql://ada:{SECRET}@db.example:5432/ml"],
        ["--db=postgresql://ada:***@db.example:5432/ml"],
    ),
    ([f"https://ada:{SECRET}@host/x"], ["https://ada:***@host/x"]),
    ([f"s3://key:pa@ss{SECRET}@bucket/p"], ["s3://key:***@bucket/p"]),
    (["--data", f"mysql://u:{SECRET}@h/db"], ["--data", "mysql://u:***@h/db"]),
]


@pytest.mark.parametrize(("argv", "expected"), CASES, ids=[c[0][0][:30] for c in CASES])
def test_secret_values_are_masked(argv: list[str], expected: list[str]) -> None:
    redacted = redact_argv(["train.py", *argv])
    assert redacted == ["train.py", *expected]
    assert not any(SECRET in arg for arg in redacted)


@pytest.mark.parametrize(
    "argv",
    [
        ["--lr", "0.1", "--epochs=3", "--model", "rf"],
        ["--verbose", "data.csv"],
        ["lr=0.1", "model.depth=3"],
        ["https://example.com/data.csv", "http://host:8080/path@v2"],
        ["--token", "--verbose"],  # a flag, not the token's value
        ["--no-auth", "data.csv"],  # a negated switch takes no value
        ["-"],
        ["--", "--token"],
    ],
)
def test_ordinary_arguments_are_kept(argv: list[str]) -> None:
    assert redact_argv(["train.py", *argv]) == ["train.py", *argv]


@pytest.fixture
def fresh_snapshot() -> Iterator[None]:
    envinfo._static.cache_clear()
    yield
    envinfo._static.cache_clear()


def test_the_stored_environment_has_no_secrets(
    store: ml.Store, monkeypatch: pytest.MonkeyPatch, fresh_snapshot: None
) -> None:
    monkeypatch.setenv("CHACHAML_TEST_TOKEN", SECRET)
    monkeypatch.setattr(sys, "argv", ["train.py", "--password", SECRET, "--epochs", "2"])
    with ml.run() as run:
        pass
    env = ml.get_run(run.id)["env"]
    assert env["argv"] == ["train.py", "--password", MASK, "--epochs", "2"]
    assert SECRET not in repr(env)  # no environment variable is captured either
