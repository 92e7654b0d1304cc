"""The crash rule, in one place: when a run that says ``running`` is really dead.

Two signals, both cheap:

- **Heartbeats.** A live run's writer refreshes ``heartbeat`` every few seconds; readers show a
  ``running`` run whose heartbeat is older than ``CHACHAML_HEARTBEAT_TIMEOUT`` seconds (default
  60) as ``crashed`` (the store's SQL takes the cutoff from :func:`stale_before`).
- **Local processes.** A run started on this host by a process that no longer exists is
  finalised ``crashed`` for good (:func:`finalize_crashed`), once per store object on first use
  and by ``chachaml doctor``.

>>> import chachaml as ml
>>> from chachaml import liveness
>>> with ml.store("sqlite:///:memory:") as st:
...     liveness.finalize_crashed(st)
[]
"""

from __future__ import annotations

import os
import time

from chachaml import config, envinfo
from chachaml.store import Store

__all__ = ["HEARTBEAT_TIMEOUT_MS", "finalize_crashed", "finalize_crashed_once", "stale_before"]

HEARTBEAT_TIMEOUT_MS = int(config.get("CHACHAML_HEARTBEAT_TIMEOUT") * 1000)
CRASH_ERROR = "the process running this run died"


def stale_before() -> int:
    """Heartbeats older than this (epoch ms) mean the run's process is gone: ``crashed``."""
    return time.time_ns() // 1_000_000 - HEARTBEAT_TIMEOUT_MS


def finalize_crashed(store: Store) -> list[str]:
    """Set ``crashed`` on runs still ``running`` whose process on this host no longer exists;
    returns their ids. The run's end time is its last heartbeat."""
    me = os.getpid()
    dead = []
    for run_id, pid in store.meta.local_running_runs(envinfo.hostname()):
        if pid is None or pid == me:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            dead.append(run_id)
        except PermissionError:  # alive, owned by another user
            continue
    for run_id in dead:
        run = store.meta.get_run(run_id)
        end = run["heartbeat"] if run else time.time_ns() // 1_000_000
        store.meta.finish_run(run_id, "crashed", end, CRASH_ERROR)
    return dead


def finalize_crashed_once(store: Store) -> None:
    """:func:`finalize_crashed`, at most once per store object (the first use of a store)."""
    if store.crash_checked:
        return
    store.crash_checked = True
    finalize_crashed(store)
