"""Environment capture (SPEC §11): cheap snapshot, git info only inside a repository."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import chachaml as ml
from chachaml import envinfo


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_SYSTEM": os.devnull,
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(autouse=True)
def _fresh_git_cache() -> None:
    envinfo.git_info.cache_clear()


def test_the_snapshot_describes_python_platform_user_and_process(
    store: ml.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHACHA_USER", "ada")
    monkeypatch.delenv("CHACHAML_CAPTURE_PACKAGES", raising=False)
    with ml.run() as run:
        pass
    env = ml.get_run(run.id)["env"]
    assert env["python"] == platform.python_version()
    assert env["implementation"] == platform.python_implementation()
    assert env["chachaml"] == ml.__version__
    assert env["hostname"] == envinfo.hostname()
    assert env["user"] == "ada"
    assert env["pid"] == os.getpid()
    assert env["cwd"] == os.getcwd()
    assert env["argv"] == sys.argv[:20]
    assert "packages" not in env


def test_packages_are_captured_only_when_asked(
    store: ml.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHACHAML_CAPTURE_PACKAGES", "1")
    with ml.run() as run:
        pass
    packages = ml.get_run(run.id)["env"]["packages"]
    assert packages["hypothesis"]
    assert "pytest" in packages


def _inside_a_git_repository(directory: str) -> bool:
    """git's own answer (not chachaml's), ignoring any GIT_DIR/GIT_WORK_TREE of the caller."""
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE")}
    out = subprocess.run(
        ["git", "-C", directory, "rev-parse", "--git-dir"],
        env=env,
        capture_output=True,
        check=False,
    )
    return out.returncode == 0


@pytest.fixture
def outside_any_repository() -> Iterator[Path]:
    """A fresh directory outside every git repository (the test tmp_path may be inside one)."""
    bases = [tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"]
    base = next((b for b in bases if os.path.isdir(b) and not _inside_a_git_repository(b)), None)
    if base is None:
        pytest.fail(f"every temporary directory is inside a git repository: {bases}")
    directory = Path(tempfile.mkdtemp(prefix="chachaml-nogit-", dir=base))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_no_git_info_outside_a_repository(
    outside_any_repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = outside_any_repository / "plain"
    plain.mkdir()
    assert not _inside_a_git_repository(str(plain))
    assert envinfo.git_info(str(plain)) is None
    monkeypatch.chdir(plain)
    assert envinfo.snapshot()["git"] is None


def test_git_sha_branch_and_dirty_flag_inside_a_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    assert envinfo.git_info(str(repo)) == {"sha": None, "branch": "main", "dirty": False}
    envinfo.git_info.cache_clear()
    (repo / "a.txt").write_text("one")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-q", "-m", "first")
    sha = git(repo, "rev-parse", "HEAD")
    sub = repo / "deep" / "er"
    sub.mkdir(parents=True)
    assert envinfo.git_info(str(sub)) == {"sha": sha, "branch": "main", "dirty": False}
    envinfo.git_info.cache_clear()
    (repo / "a.txt").write_text("two")
    assert envinfo.git_info(str(repo)) == {"sha": sha, "branch": "main", "dirty": True}
    envinfo.git_info.cache_clear()
    git(repo, "checkout", "-q", "--detach")
    assert envinfo.git_info(str(repo))["branch"] is None


def test_a_run_started_inside_a_repository_records_its_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "proj"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "trunk")
    (repo / "f").write_text("x")
    git(repo, "add", "f")
    git(repo, "commit", "-q", "-m", "c")
    monkeypatch.chdir(repo)
    with ml.open_store(str(tmp_path / "g.db")) as st, ml.run(store=st) as run:
        pass
    with ml.open_store(str(tmp_path / "g.db")) as st:
        git_info = ml.get_run(run.id, store=st)["env"]["git"]
    assert git_info == {"sha": git(repo, "rev-parse", "HEAD"), "branch": "trunk", "dirty": False}


def test_a_broken_repository_gives_no_git_info(tmp_path: Path) -> None:
    fake = tmp_path / "fake"
    (fake / ".git").mkdir(parents=True)  # looks like a repo, git refuses it
    assert envinfo.git_info(str(fake)) is None


def test_current_user_prefers_chacha_user(monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    monkeypatch.setenv("CHACHA_USER", "grace")
    assert envinfo.current_user() == "grace"
    monkeypatch.setenv("CHACHA_USER", "")
    assert envinfo.current_user() == getpass.getuser()


def test_current_user_without_a_passwd_entry_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    def no_user() -> str:
        raise KeyError("uid not found")

    monkeypatch.delenv("CHACHA_USER", raising=False)
    monkeypatch.setattr(getpass, "getuser", no_user)
    assert envinfo.current_user() == "unknown"


def test_the_snapshot_survives_a_deleted_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    env = envinfo.snapshot()
    assert env["cwd"] is None
    assert env["git"] is None
