"""Curating runs after the fact: tags, notes, datasets and experiment metadata.

>>> import chachaml as ml
>>> with ml.store("sqlite:///:memory:"):
...     with ml.run(experiment="iris") as run:
...         pass
...     ml.add_tag(run.id, "reviewed", True)
...     ml.get_tags(run.id)
{'reviewed': 'true'}
"""

from __future__ import annotations

import time
from typing import Any

from chachaml import validate
from chachaml.errors import NotFound
from chachaml.query import resolve
from chachaml.store import Store


def add_tag(run_id: str, key: str, value: Any, *, store: Store | None = None) -> None:
    """Set (or replace) a tag on any run."""
    resolve(store).meta.set_tags(
        validate.run_id(run_id), {validate.key(key, "tag key"): validate.tag_value(key, value)}
    )


def remove_tag(run_id: str, key: str, *, store: Store | None = None) -> bool:
    """Remove a tag; returns whether it existed."""
    return resolve(store).meta.delete_tag(validate.run_id(run_id), validate.key(key, "tag key"))


def get_tags(run_id: str, *, store: Store | None = None) -> dict[str, str]:
    """The run's tags (inline tags given at start merged with later ones)."""
    return resolve(store).meta.get_tags(validate.run_id(run_id))


def set_note(run_id: str, markdown: str, *, store: Store | None = None) -> None:
    """Attach a markdown note (``$...$`` math allowed) to a run, replacing any earlier note."""
    resolve(store).meta.set_note(validate.run_id(run_id), validate.note(markdown))


def get_datasets(run_id: str, *, store: Store | None = None) -> list[dict[str, Any]]:
    """Datasets recorded with ``log_dataset`` for the run."""
    return resolve(store).meta.get_datasets(validate.run_id(run_id))


def _text(value: object, what: str) -> str | None:
    if value is None:
        return None
    return validate.note(value) if what == "description" else validate.name(value, what)


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
