"""Environment snapshot taken at run start (SPEC §11): cheap, cached per process.

The git part is one ``git status`` call per working directory per process, skipped outside a
repository. Installed packages are captured only with ``CHACHAML_CAPTURE_PACKAGES=1``. No
environment variables are captured. The command line is stored with secrets masked (anyone with a
read token can see it): see :func:`redact_argv`.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

MASK = "***"
#: Parts of an option or setting name that mark its value as a secret.
SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "pwd", "credential", "auth")
_SECRET = re.compile("|".join(SECRET_WORDS), re.IGNORECASE)
# ``name=value`` settings without dashes (Hydra/OmegaConf overrides, ``PASSWORD=x`` style).
_SETTING = re.compile(r"^([+~]{0,2}[A-Za-z_][\w.\-]*)=(.*)$", re.DOTALL)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


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


def _mask_urls(text: str) -> str:
    """``scheme://user:password@host`` -> ``scheme://user:***@host`` wherever it appears."""
    out, pos = [], 0
    for match in _URL.finditer(text):
        start = match.end()
        if start < pos:
            continue
        end = len(text)
        for stop in (" ", "\t", "\n"):
            i = text.find(stop, start)
            if i != -1:
                end = min(end, i)
        rest = text[start:end]
        first_at = rest.find("@")
        if first_at == -1:
            continue
        # The authority ends at the first '/', '?' or '#' after the first '@'; the userinfo at
        # the last '@' before that (a password may itself contain '@' or '/').
        tail = len(rest)
        for stop in "/?#":
            i = rest.find(stop, first_at)
            if i != -1:
                tail = min(tail, i)
        at = rest.rfind("@", 0, tail)
        user, colon, password = rest[:at].partition(":")
        if not colon or (password.split("/", 1)[0].isdigit() and "/" in password):
            continue  # no password, or host:port/path with an '@' in the path
        out.append(text[pos:start] + user + ":" + MASK)
        pos = start + at
    out.append(text[pos:])
    return "".join(out)


def _secret_name(name: str) -> bool:
    return bool(_SECRET.search(name)) and not name.lower().startswith("no-")


def redact_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with the values of secret-looking options replaced by ``***``.

    An option whose name contains one of :data:`SECRET_WORDS` (``--api-key=X``, ``--password X``,
    ``-token X``, also ``db.password=X`` settings) has its value masked; so has MySQL-style
    ``-pSECRET``; in URLs, ``user:password@`` becomes ``user:***@``. A following argument that
    starts with ``-`` is another option and is kept.
    """
    out: list[str] = []
    mask_next = False
    for raw in argv:
        arg = str(raw)
        if mask_next:
            mask_next = False
            if not arg.startswith("-") or arg == "-":
                out.append(MASK)
                continue
        if arg.startswith("-") and len(arg) > 1 and arg != "--":
            name, eq, value = arg.lstrip("-").partition("=")
            secret = _secret_name(name)
            mask_next = secret and not eq
            if not arg.startswith("--") and arg.startswith("-p") and len(arg) > 2:
                out.append("-p" + MASK)  # mysql -pSECRET (also hides -password=...)
            elif secret and eq:
                out.append(arg[: len(arg) - len(value)] + MASK)
            else:
                out.append(_mask_urls(arg))
            continue
        setting = _SETTING.match(arg)
        if setting and _secret_name(setting.group(1).lstrip("+~")):
            out.append(setting.group(1) + "=" + MASK)
        else:
            out.append(_mask_urls(arg))
    return out


@functools.lru_cache(maxsize=1)
def _static() -> dict[str, Any]:
    import platform

    from chachaml.version import __version__

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "hostname": hostname(),
        "chachaml": __version__,
        "argv": redact_argv(sys.argv)[:20],
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
