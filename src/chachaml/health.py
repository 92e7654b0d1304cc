"""``chachaml doctor``: check a store and repair what can be repaired safely.

>>> import chachaml as ml
>>> from chachaml.health import doctor
>>> with ml.store("sqlite:///:memory:") as st:
...     doctor(st)["ok"]
True
"""

from __future__ import annotations

import os
from typing import Any

from chachaml import liveness
from chachaml.context import resolve
from chachaml.errors import ChachamlError
from chachaml.query import build_query
from chachaml.store import Store


def store_info(store: Store | None = None, *, integrity: bool = False) -> dict[str, Any]:
    """Applied schema migrations and, with ``integrity=True``, the backend's integrity check."""
    st = resolve(store)
    info: dict[str, Any] = {"migrations": st.meta.applied_migrations()}
    if integrity:
        info["integrity"] = st.meta.integrity_check()
    return info


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": detail}


def doctor(store: Store | None = None) -> dict[str, Any]:
    """Run the checks; finalise runs whose process died. Returns ``{"ok", "checks", "crashed"}``."""
    checks: list[dict[str, Any]] = []
    crashed: list[str] = []
    try:
        st = resolve(store)
        migrations = st.meta.applied_migrations()
        checks.append(
            _check(
                "schema",
                True,
                f"{len(migrations)} migrations applied (latest: "
                f"{migrations[-1][0]} {migrations[-1][1]})"
                if migrations
                else "no migrations",
            )
        )
        integrity = st.meta.integrity_check()
        checks.append(_check("integrity", integrity == "ok", integrity))
        crashed = liveness.finalize_crashed(st)
        checks.append(
            _check("crashed runs", True, f"finalised {len(crashed)} runs whose process died")
        )
        total = st.meta.count_runs(build_query(limit=None, include_archived=True))
        running = st.meta.count_runs(build_query(status="running", limit=None))
        checks.append(_check("runs", True, f"{total} runs, {running} running"))
        artifacts = st.artifacts_url
        if os.path.isdir(artifacts):
            writable = os.access(artifacts, os.W_OK)
            checks.append(
                _check(
                    "artifacts",
                    writable,
                    f"{artifacts} ({'writable' if writable else 'NOT writable'})",
                )
            )
        else:
            checks.append(_check("artifacts", True, f"{artifacts} (created on first artifact)"))
    except ChachamlError as exc:
        checks.append(_check("store", False, exc.message))
    return {"ok": all(c["ok"] for c in checks), "checks": checks, "crashed": crashed}
