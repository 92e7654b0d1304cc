"""Peer libraries in their own virtual environments under ``bench/.peers/`` (gitignored).

Each peer gets ``python -m venv bench/.peers/<name>`` and ``pip install <package>`` from the
package index; an existing, complete venv is reused. Peers always run with telemetry disabled and,
where the kernel allows it, inside a fresh network namespace (``unshare --net``: no network at all).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = ROOT / "bench" / ".peers"
MARKER = ".bench-installed"

# Opt-outs that the peers (and their dependencies) document; harmless for chachaml.
QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_TELEMETRY": "false",
    "DO_NOT_TRACK": "true",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TRACKIO_STORAGE_MODE": "sqlite",
    "PYTHONWARNINGS": "ignore",
}


@dataclass(frozen=True)
class Peer:
    name: str  # row label and venv folder
    package: str  # what pip installs
    module: str  # what W1 imports
    script: str  # workload script under bench/workloads/


PEERS = (
    Peer("mlflow", "mlflow", "mlflow", "mlflow_wl.py"),
    Peer("trackio", "trackio", "trackio", "trackio_wl.py"),
)


def venv_python(peer: Peer) -> Path:
    return PEERS_DIR / peer.name / "bin" / "python"


def ensure(peer: Peer, log: TextIO = sys.stderr) -> tuple[str | None, str | None]:
    """``(python, None)`` for a ready venv (created if missing) or ``(None, reason)``."""
    venv = PEERS_DIR / peer.name
    python = venv_python(peer)
    if (venv / MARKER).exists() and python.exists():
        return str(python), None
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    logfile = PEERS_DIR / f"{peer.name}-install.log"
    print(f"[peers] creating {venv.relative_to(ROOT)} and installing {peer.package} ...", file=log)
    try:
        if not python.exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        with open(logfile, "w") as out:
            subprocess.run(
                [str(python), "-m", "pip", "install", "--disable-pip-version-check", peer.package],
                check=True,
                timeout=1500,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"install failed ({type(exc).__name__}); see {logfile.relative_to(ROOT)}"
    (venv / MARKER).write_text(version(str(python), peer.package) or "?")
    return str(python), None


def version(python: str, package: str) -> str | None:
    try:
        out = subprocess.run(
            [python, "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return out.stdout.strip() or None


def isolation_prefix() -> list[str]:
    """``["unshare", "--net"]`` when this kernel lets us drop the network, else ``[]``."""
    tool = shutil.which("unshare")
    if tool is None:
        return []
    try:
        subprocess.run([tool, "--net", "true"], check=True, capture_output=True, timeout=10)
    except (subprocess.SubprocessError, OSError):
        return []
    return [tool, "--net"]


def environment() -> dict[str, str]:
    """The environment every workload process gets: ours, minus chachaml's, plus the opt-outs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHACHAML_", "TRACKIO_"))}
    env.update(QUIET_ENV)
    return env
