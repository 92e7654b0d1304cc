"""Experiments: the optional metadata row (description, owner) and the listing of every
experiment, explicit or only used by runs.

>>> import chachaml as ml
>>> with ml.store("sqlite:///:memory:"):
...     _ = ml.create_experiment("iris", description="Fisher's flowers")
...     [e["name"] for e in ml.experiments()]
['iris']
"""

from __future__ import annotations

import time
from typing import Any

from chachaml import validate
from chachaml.context import resolve
from chachaml.errors import NotFound
from chachaml.store import Store


def _text(value: object, what: str) -> str | None:
    if value is None:
        return None
    return validate.note(value, what) if what == "description" else validate.name(value, what)


def create_experiment(
    name: str,
    description: str | None = None,
    owner: str | None = None,
    *,
    store: Store | None = None,
) -> dict[str, Any]:
    """Create an experiment or update its description/owner (fields left None are kept)."""
    st = resolve(store)
    st.meta.upsert_experiment(
        validate.name(name, "experiment name"),
        _text(description, "description"),
        _text(owner, "owner"),
        time.time_ns() // 1_000_000,
    )
    return experiment(name, store=st)


def experiments(*, store: Store | None = None) -> list[dict[str, Any]]:
    """Explicit experiments and those only used by runs, with run counts and last activity."""
    return resolve(store).meta.list_experiments()


def experiment(name: str, *, store: Store | None = None) -> dict[str, Any]:
    """One experiment's metadata and stats; ``NotFound`` if no run or definition uses the name."""
    validate.name(name, "experiment name")
    for row in resolve(store).meta.list_experiments():
        if row["name"] == name:
            return row
    raise NotFound(f"experiment {name!r} does not exist (see ml.experiments())")
