"""Environment snapshot taken at run start (SPEC §11): cheap, cached per process.

The git part is one ``git status`` call per working directory per process, skipped outside a
repository. Installed packages are captured only with ``CHACHAML_CAPTURE_PACKAGES=1``.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Any


def current_user() -> str:
    """``CHACHA_USER`` if set, else the operating-system user."""
    user = os.environ.get("CHACHA_USER")
    if user:
        return user
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


@functools.lru_cache(maxsize=1)
def hostname() -> str:
    import socket

    return socket.gethostname()


@functools.lru_cache(maxsize=1)
def _static() -> dict[str, Any]:
    import platform

    from chachaml import __version__

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "hostname": hostname(),
        "chachaml": __version__,
        "argv": list(sys.argv[:20]),
    }


def _find_repo(start: str) -> str | None:
    directory = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


@functools.lru_cache(maxsize=16)
def git_info(cwd: str) -> dict[str, Any] | None:
    """``{"sha", "branch", "dirty"}`` of the repository containing ``cwd``, or None."""
    if _find_repo(cwd) is None:
        return None
    import subprocess

    try:
        out = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    sha = branch = None
    dirty = False
    for line in out.splitlines():
        if line.startswith("# branch.oid "):
            sha = line.split(" ", 2)[2]
            sha = None if sha == "(initial)" else sha
        elif line.startswith("# branch.head "):
            branch = line.split(" ", 2)[2]
            branch = None if branch == "(detached)" else branch
        elif line and not line.startswith("#"):
            dirty = True
    return {"sha": sha, "branch": branch, "dirty": dirty}


@functools.lru_cache(maxsize=1)
def _packages() -> dict[str, str]:
    from importlib import metadata

    return {
        dist.metadata["Name"]: dist.version
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    }


def snapshot() -> dict[str, Any]:
    """The environment dict stored with each run."""
    env: dict[str, Any] = dict(_static())
    env["user"] = current_user()
    env["pid"] = os.getpid()
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = None
    env["cwd"] = cwd
    env["git"] = git_info(cwd) if cwd else None
    if os.environ.get("CHACHAML_CAPTURE_PACKAGES") == "1":
        env["packages"] = _packages()
    return env
