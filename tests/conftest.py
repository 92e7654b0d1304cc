"""Shared fixtures, and skips that fail under CI.

Every test runs with its working directory and ``CHACHAML_STORE`` pointing into a temporary
folder, so nothing is ever written into the repository, and with the process default store reset.

With ``CI=true`` a skip is a failure (:class:`SkipsFailInCI`): a skipped test is reported as
FAILED, and a module or directory skipped while collecting (``pytest.importorskip`` at module
level, in a ``conftest.py``) is replaced by one failing test, so CI cannot pass while part of the
suite silently did not run. Without ``CI=true`` skips stay skips.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

import chachaml as ml
from backends import in_ci
from chachaml import context

pytest_plugins = ["pytester"]  # the `pytester` fixture of tests/test_ci_skips.py

CI_SKIPS_PLUGIN = "chachaml-ci-skips-fail"


def _skip_reason(longrepr: object) -> str:
    """The reason of a skipped report: its longrepr is ``(path, lineno, reason)``."""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


class SkippedAtCollection(pytest.Item):
    """Stands for a module or directory that skipped itself at collection; fails when run."""

    def __init__(self, *, reason: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reason = reason

    def runtest(self) -> None:
        pytest.fail(f"{self.reason} (CI=true: a skip at collection is a failure)", pytrace=False)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.nodeid


class SkipsFailInCI:
    """Turns skips into failures while ``CI=true`` (registered by :func:`pytest_configure`)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        report = yield
        if report.skipped and in_ci():
            reason = _skip_reason(report.longrepr)
            item = SkippedAtCollection.from_parent(
                collector, name="skipped-at-collection", reason=reason
            )
            report.outcome = "passed"
            report.longrepr = None
            report.result = [item]
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.skipped and not hasattr(report, "wasxfail") and in_ci():
            report.outcome = "failed"
            report.longrepr = (
                f"{_skip_reason(report.longrepr)} (CI=true: a skipped test is a failure)"
            )
            report.skip_failed_in_ci = True  # type: ignore[attr-defined]
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        # A skip raised in setup (a skipif mark, a skip in a fixture) would otherwise be an ERROR.
        if getattr(report, "skip_failed_in_ci", False):
            return "failed", "F", "FAILED"
        return None


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SkipsFailInCI(), CI_SKIPS_PLUGIN)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHACHAML_STORE", str(tmp_path / "default.db"))
    monkeypatch.delenv("CHACHAML_ARTIFACTS", raising=False)
    monkeypatch.delenv("CHACHA_USER", raising=False)
    monkeypatch.setenv("CHACHAML_CACHE_DIR", str(tmp_path / "cache"))
    old = context._reset_for_tests()
    if old is not None:
        old.close()
    token = context.run_var.set(None)
    yield
    context.run_var.reset(token)
    leftover = context._reset_for_tests()
    if leftover is not None:
        leftover.close()


@pytest.fixture(autouse=True, scope="session")
def _test_servers() -> Iterator[None]:
    """Drop PostgreSQL test schemas and stop the S3 test server at the end of the session."""
    yield
    import backends

    backends.cleanup()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "chachaml.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[ml.Store]:
    """A fresh SQLite store on disk, made current for the test."""
    st = ml.open_store(str(db_path))
    with ml.store(st):
        yield st
    st.close()
