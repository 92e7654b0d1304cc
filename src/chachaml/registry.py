"""The model registry: named models with numbered versions, each pointing at a run's artifact.

>>> import chachaml as ml
>>> with ml.store("sqlite:///:memory:"):
...     with ml.run():
...         _ = ml.log_artifact("model", {"weights": [1, 2]})
...         v = ml.registry.register_model("churn", stage="production")
...     ml.registry.load_model("churn")
{'weights': [1, 2]}

Stages are ``none``, ``staging``, ``production`` and ``archived``. **A model has at most one
production version, always**: promoting a version to production archives the previous one in
the same transaction, and a database constraint refuses anything else. An unknown model or
version raises ``NotFound`` and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from chachaml import context, query, validate
from chachaml.artifacts import names
from chachaml.context import resolve
from chachaml.errors import InvalidInput, NotFound
from chachaml.store import Store

__all__ = [
    "STAGES",
    "diff_versions",
    "load_model",
    "model",
    "model_versions",
    "models",
    "promote",
    "register_model",
    "set_model_description",
    "version_of_run",
    "versions_of_runs",
    "stage_history",
    "version_in_stage",
]

STAGES = ("none", "staging", "production", "archived")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _model_name(value: object) -> str:
    return validate.name(value, "model name")


def _stage(value: object) -> str:
    if value not in STAGES:
        raise InvalidInput(f"stage {value!r} is not one of: {', '.join(STAGES)}")
    return str(value)


def _version(value: object, what: str = "version") -> int:
    """Versions are integers; a stage name in the version slot is a mistake, never a lookup."""
    if isinstance(value, bool) or not isinstance(value, int):
        hint = (
            f"; to select by stage, pass it by keyword: stage={value!r}" if value in STAGES else ""
        )
        raise InvalidInput(f"{what} must be an integer version number, got {value!r}{hint}")
    if value < 1:
        raise InvalidInput(f"{what} must be >= 1, got {value}")
    return value


def _require_model(st: Store, name: str) -> dict[str, Any]:
    found = st.meta.get_model(name)
    if found is None:
        raise NotFound(f"model {name!r} does not exist (see ml.registry.models())")
    return found


def register_model(
    name: str,
    artifact: str = "model",
    run_id: str | None = None,
    stage: str = "none",
    description: str | None = None,
    *,
    store: Store | None = None,
) -> dict[str, Any]:
    """Register artifact ``artifact`` of ``run_id`` (default: the current run) as the next
    version of model ``name``; returns the version dict.

    >>> ml.registry.register_model("churn", stage="staging")  # doctest: +SKIP
    {'model': 'churn', 'version': 3, 'stage': 'staging', ...}
    """
    name = _model_name(name)
    artifact = names.validate(artifact)
    stage = _stage(stage)
    if description is not None:
        description = validate.note(description)
    if run_id is None:
        handle = context.active_run("register_model() without run_id")
        run_id = handle.id
        st = resolve(store if store is not None else handle.store)
    else:
        st = resolve(store)
        run_id = query.find_run_id(run_id, store=st)
    return st.meta.register_model_version(name, run_id, artifact, stage, description, _now_ms())


def models(*, store: Store | None = None) -> list[dict[str, Any]]:
    """Every model with ``latest_version``, ``production_version`` (None if none) and
    ``version_count``, most recently changed first."""
    return resolve(store).meta.list_models()


def model(name: str, *, store: Store | None = None) -> dict[str, Any]:
    """One model: its row, ``versions`` (oldest first) and stage ``history``; ``NotFound`` if
    unknown."""
    st = resolve(store)
    found = _require_model(st, _model_name(name))
    found["versions"] = st.meta.list_model_versions(name)
    found["history"] = st.meta.model_stage_history(name)
    return found


def model_versions(name: str, *, store: Store | None = None) -> list[dict[str, Any]]:
    """The model's versions in version order; ``NotFound`` for an unknown model."""
    st = resolve(store)
    _require_model(st, _model_name(name))
    return st.meta.list_model_versions(name)


def promote(name: str, version: int, stage: str, *, store: Store | None = None) -> dict[str, Any]:
    """Move ``version`` of ``name`` to ``stage`` in one transaction; returns the version dict.

    Promoting to ``production`` archives the current production version. An unknown model or
    version raises ``NotFound`` and changes nothing.

    >>> ml.registry.promote("churn", 3, "production")  # doctest: +SKIP
    """
    name = _model_name(name)
    version = _version(version)
    stage = _stage(stage)
    return resolve(store).meta.set_model_stage(name, version, stage, _now_ms())


def get_version(
    name: str, version: int | None = None, *, stage: str | None = None, store: Store | None = None
) -> dict[str, Any]:
    """The version dict selected like :func:`load_model` selects (default: production)."""
    name = _model_name(name)
    if version is not None and stage is not None:
        raise InvalidInput("give either version= or stage=, not both")
    st = resolve(store)
    if version is not None:
        found = st.meta.get_model_version(name, _version(version))
        if found is None:
            _require_model(st, name)
            raise NotFound(f"model {name!r} has no version {version}")
        return found
    wanted = _stage("production" if stage is None else stage)
    found = st.meta.model_version_in_stage(name, wanted)
    if found is None:
        _require_model(st, name)
        raise NotFound(
            f"model {name!r} has no version in stage {wanted!r}; promote one with "
            f"ml.registry.promote({name!r}, VERSION, {wanted!r}) or pass version="
        )
    return found


def version_in_stage(name: str, stage: str, *, store: Store | None = None) -> dict[str, Any] | None:
    """The newest version of ``name`` currently in ``stage``, or None (also for an unknown
    model)."""
    return resolve(store).meta.model_version_in_stage(_model_name(name), _stage(stage))


def stage_history(name: str, *, store: Store | None = None) -> list[dict[str, Any]]:
    """Every stage change of the model's versions, oldest first."""
    return resolve(store).meta.model_stage_history(_model_name(name))


def versions_of_runs(run_ids: Sequence[str], *, store: Store | None = None) -> list[dict[str, Any]]:
    """Model versions registered from any of ``run_ids``."""
    ids = [validate.run_id(i) for i in run_ids]
    return resolve(store).meta.model_versions_of_runs(ids) if ids else []


def version_of_run(name: str, run_id: str, *, store: Store | None = None) -> dict[str, Any]:
    """The newest version of model ``name`` registered from run ``run_id`` (id or prefix);
    ``NotFound`` if there is none."""
    st = resolve(store)
    name = _model_name(name)
    full = query.find_run_id(run_id, store=st)
    found = [v for v in st.meta.model_versions_of_runs([full]) if v["model"] == name]
    if not found:
        _require_model(st, name)
        raise NotFound(f"model {name!r} has no version registered from run {full}")
    return max(found, key=lambda v: int(v["version"]))


def load_model(
    name: str,
    version: int | None = None,
    *,
    stage: str | None = None,
    trust: bool = False,
    store: Store | None = None,
) -> Any:
    """Load a model version's artifact: ``version=N``, or the newest version in ``stage=``
    (keyword only), default the production version. ``NotFound`` when there is none.

    ``load_model("m", "production")`` raises ``InvalidInput``: stages go by keyword. A pickle or
    joblib model from a shared store (remote server, PostgreSQL, S3) needs ``trust=True`` (or
    ``CHACHAML_TRUST_PICKLE=1``), like :func:`chachaml.load_artifact`.

    >>> ml.registry.load_model("churn")                   # production  # doctest: +SKIP
    >>> ml.registry.load_model("churn", 2)                # version 2   # doctest: +SKIP
    >>> ml.registry.load_model("churn", stage="staging")  # doctest: +SKIP
    """
    from chachaml import artifact_api as api

    st = resolve(store)
    found = get_version(name, version, stage=stage, store=st)
    return api.load_artifact(found["run_id"], found["artifact"], trust=trust, store=st)


def diff_versions(name: str, v1: int, v2: int, *, store: Store | None = None) -> dict[str, Any]:
    """Compare two versions: ``{"model", "versions": [version dict, version dict], **compare}``
    where ``compare`` is :func:`chachaml.compare_runs` of their source runs (``run_ids``,
    ``runs``, ``params``, ``metrics``)."""
    from chachaml import comparison

    st = resolve(store)
    a = get_version(name, _version(v1, "v1"), store=st)
    b = get_version(name, _version(v2, "v2"), store=st)
    ids = [a["run_id"]] if a["run_id"] == b["run_id"] else [a["run_id"], b["run_id"]]
    return {"model": name, "versions": [a, b], **comparison.compare_runs(ids, store=st)}


def set_model_description(
    name: str, markdown: str, *, store: Store | None = None
) -> dict[str, Any]:
    """Set the model's markdown description (stored with the model, nowhere else); returns the
    model dict."""
    name = _model_name(name)
    st = resolve(store)
    st.meta.set_model_description(name, validate.note(markdown), _now_ms())
    return _require_model(st, name)
