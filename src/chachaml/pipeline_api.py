"""Pipelines: a named sequence of steps, each a tracked child run of one parent run.

>>> import chachaml as ml
>>> with ml.store("sqlite:///:memory:"):
...     out = ml.run_pipeline("etl", [
...         ("load", lambda ctx: [3, 1, 2]),
...         ("sort", lambda ctx: sorted(ctx.prev_result)),
...     ])
...     out["status"], out["result"], [s["status"] for s in out["steps"]]
('completed', [1, 2, 3], ['completed', 'completed'])

The pipeline is a parent run (named after the pipeline, tag ``pipeline=<name>``) and each step
a child run (tag ``pipeline_step=<step name>``), so everything a run records (params, metrics,
artifacts, the crash rule) holds for steps too. The ``pipelines``/``pipeline_steps`` rows keep
the order, the per-step status and the saved results; statuses are derived from the runs when
read (see :mod:`chachaml.store.sqlpipelines`).

This module is ``pipeline_api``, not ``pipeline``: ``ml.pipeline`` and ``ml.pipelines`` are
functions, and a submodule of the same name would be shadowed by them.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from chachaml import artifact_api, liveness, query, runs_api, tracking, validate
from chachaml.artifacts import formats
from chachaml.context import resolve
from chachaml.display import PipelineView
from chachaml.errors import InvalidInput, NotFound
from chachaml.store import Store
from chachaml.store.protocol import StepState

__all__ = [
    "MAX_STEPS",
    "RESULT_ARTIFACT",
    "STEP_STATUSES",
    "Step",
    "StepContext",
    "pipeline",
    "pipelines",
    "record_pipeline",
    "record_step",
    "run_pipeline",
]

_log = logging.getLogger("chachaml.pipeline")

#: The artifact a ``Step(..., save_result=True)`` stores its return value in (on the step run).
RESULT_ARTIFACT = "pipeline-result"
STEP_STATUSES = ("pending", "running", "completed", "failed", "killed", "skipped", "reused")
MAX_STEPS = 1000
MAX_ERROR_CHARS = runs_api.MAX_ERROR_CHARS
PIPELINE_TAG = "pipeline"
STEP_TAG = "pipeline_step"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Step(NamedTuple):
    """One step: ``fn(ctx)`` runs in its own child run. With ``save_result=True`` its return
    value is stored as artifact ``pipeline-result`` of the step run (JSON when it survives a
    JSON round trip unchanged, else the format ``log_artifact`` would choose), so that
    ``run_pipeline(..., resume_from=...)`` can reuse it instead of running the step again."""

    name: str
    fn: Callable[[StepContext], Any]
    save_result: bool = False


class StepContext(NamedTuple):
    """What a step function gets: earlier results (by step name) and where it runs."""

    pipeline_id: str
    step_name: str
    step_index: int
    prev_result: Any
    results: dict[str, Any]
    run: tracking.ActiveRun | None = None


# -- validation -------------------------------------------------------------------------------
def _plan(steps: object) -> list[Step]:
    if isinstance(steps, (str, bytes, Mapping)) or not isinstance(steps, Sequence):
        raise InvalidInput(
            "steps must be a list of (name, fn) tuples or ml.Step objects, got "
            f"{type(steps).__name__}"
        )
    if not steps:
        raise InvalidInput("a pipeline needs at least one step")
    if len(steps) > MAX_STEPS:
        raise InvalidInput(f"a pipeline has at most {MAX_STEPS} steps, got {len(steps)}")
    plan: list[Step] = []
    seen: set[str] = set()
    for i, item in enumerate(steps):
        if isinstance(item, Step):
            step = item
        elif isinstance(item, tuple) and len(item) == 2:
            step = Step(item[0], item[1])
        else:
            raise InvalidInput(
                f"step {i} must be a (name, fn) tuple or ml.Step(name, fn), got "
                f"{type(item).__name__}"
            )
        name = validate.name(step.name, f"name of step {i}")
        if not callable(step.fn):
            raise InvalidInput(f"step {name!r}: fn must be callable, got {type(step.fn).__name__}")
        if not isinstance(step.save_result, bool):
            raise InvalidInput(f"step {name!r}: save_result must be True or False")
        if name in seen:
            raise InvalidInput(f"step name {name!r} is used twice; step names must be unique")
        seen.add(name)
        plan.append(Step(name, step.fn, step.save_result))
    return plan


def _error_text(exc: BaseException) -> str:
    """``Type: message``, storable (no NUL, no lone surrogate) and at most 10,000 characters."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = text.replace("\x00", "\\x00").encode("utf-8", "replace").decode("utf-8")
    return text[:MAX_ERROR_CHARS]


# -- bookkeeping (also the server side of the remote store) ------------------------------------
def record_pipeline(
    pipeline_id: str,
    name: str,
    steps: Sequence[str],
    *,
    description: str | None = None,
    resumed_from: str | None = None,
    created_at: int | None = None,
    store: Store | None = None,
) -> None:
    """Mark run ``pipeline_id`` as a pipeline with ``steps`` (names, in order) ``pending``.
    ``NotFound`` for an unknown run, ``AlreadyExists`` if it already is a pipeline."""
    st = resolve(store, flush=False)
    pipeline_id = validate.run_id(pipeline_id)
    name = validate.name(name, "pipeline name")
    if description is not None:
        description = validate.note(description, "description")
    if resumed_from is not None:
        resumed_from = validate.run_id(resumed_from)
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        raise InvalidInput("steps must be a list of step names")
    if not 1 <= len(steps) <= MAX_STEPS:
        raise InvalidInput(f"a pipeline has 1 to {MAX_STEPS} steps, got {len(steps)}")
    names = [validate.name(s, "step name") for s in steps]
    if len(set(names)) != len(names):
        raise InvalidInput("step names must be unique")
    created = validate.optional_int64(created_at, "created_at")
    st.meta.create_pipeline(
        pipeline_id,
        name,
        description,
        resumed_from,
        _now_ms() if created is None else created,
        names,
    )


def record_step(
    pipeline_id: str,
    index: int,
    status: str,
    *,
    run_id: str | None = None,
    started_at: int | None = None,
    finished_at: int | None = None,
    error: str | None = None,
    result_artifact: str | None = None,
    store: Store | None = None,
) -> None:
    """Set the state of step ``index`` of a pipeline; ``NotFound`` for an unknown pipeline,
    step or run (nothing changes)."""
    st = resolve(store, flush=False)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < MAX_STEPS:
        raise InvalidInput(f"step index must be an integer from 0 to {MAX_STEPS - 1}")
    state = StepState(
        status=validate.status(status, STEP_STATUSES),
        run_id=None if run_id is None else validate.run_id(run_id),
        started_at=validate.optional_int64(started_at, "started_at"),
        finished_at=validate.optional_int64(finished_at, "finished_at"),
        error=None if error is None else validate.text(error, "error")[:MAX_ERROR_CHARS],
        result_artifact=None if result_artifact is None else validate.name(result_artifact),
    )
    st.meta.set_pipeline_step(validate.run_id(pipeline_id), index, state)


# -- reading ----------------------------------------------------------------------------------
def pipelines(
    limit: int | None = 50,
    name: str | None = None,
    status: str | None = None,
    *,
    offset: int = 0,
    store: Store | None = None,
) -> list[dict[str, Any]]:
    """Pipelines, newest first: ``id`` (the parent run's), ``name``, ``description``,
    ``experiment``, ``status`` (the parent run's: ``running``, ``completed``, ``failed``,
    ``killed`` or ``crashed``), ``created_at``, ``finished_at``, ``duration_ms``,
    ``resumed_from``, ``step_count`` and ``steps_done``."""
    st = resolve(store)
    limit = validate.limit(limit)
    offset = validate.limit(offset, "offset", allow_none=False) or 0
    name = validate.optional_name(name, "pipeline name")
    if status is not None:
        status = validate.status(status)
    found = st.meta.list_pipelines(name, status, limit, offset, liveness.stale_before())
    return [dict(p) for p in found]


def pipeline(pipeline_id: str, *, store: Store | None = None) -> dict[str, Any]:
    """One pipeline (id or unique id prefix) with its ``steps`` in order: ``index``, ``name``,
    ``status``, ``run_id``, ``started_at``, ``finished_at``, ``duration_ms``, ``error`` and
    ``result_artifact``. ``NotFound`` for an unknown id or a run that is no pipeline."""
    st = resolve(store)
    full = query.find_run_id(pipeline_id, store=st)
    found = st.meta.get_pipeline(full, liveness.stale_before())
    if found is None:
        raise NotFound(f"pipeline {full!r} does not exist")
    return PipelineView(found)


# -- running ----------------------------------------------------------------------------------
def _json_lossless(value: Any) -> bool:
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return False
    try:
        back = json.loads(text)
    except RecursionError:
        return False
    return _same(back, value)


def _same(a: Any, b: Any) -> bool:
    """Equal with equal types all the way down (``1 == 1.0 == True`` are not the same here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return False
    return bool(a == b)


def _save_result(handle: tracking.ActiveRun, value: Any) -> str:
    fmt = "json" if _json_lossless(value) else formats.choose(value)
    handle.log_artifact(RESULT_ARTIFACT, value, format=fmt)
    return RESULT_ARTIFACT


def _resume_plan(
    old_id: str, name: str, plan: Sequence[Step], trust: bool, st: Store
) -> tuple[str, dict[int, tuple[dict[str, Any], Any]]]:
    """The old pipeline's id and, by step index, the step rows and results to reuse. Checked and
    loaded before anything is written, so a refused resume stores nothing."""
    old = pipeline(old_id, store=st)
    if old["status"] == "running":
        raise InvalidInput(f"pipeline {old['id']} is still running; resume it once it has ended")
    if old["status"] == "completed":
        raise InvalidInput(
            f"pipeline {old['id']} completed; there is nothing to resume (run it anew)"
        )
    if old["name"] != name:
        raise InvalidInput(
            f"pipeline {old['id']} is {old['name']!r}, not {name!r}; resume it under its own name"
        )
    old_names = [s["name"] for s in old["steps"]]
    new_names = [s.name for s in plan]
    if old_names != new_names:
        raise InvalidInput(
            f"pipeline {old['id']} has steps {old_names}, not {new_names}; a resumed pipeline "
            "must have the same steps in the same order"
        )
    reused: dict[int, tuple[dict[str, Any], Any]] = {}
    for i, row in enumerate(old["steps"]):
        if row["status"] in ("completed", "reused") and row["result_artifact"] and row["run_id"]:
            value = artifact_api.load_artifact(
                row["run_id"], row["result_artifact"], trust=trust, store=st
            )
            reused[i] = (row, value)
    return str(old["id"]), reused


def _settle_failure(st: Store, pipeline_id: str, idx: int, total: int, state: StepState) -> None:
    """Record the failed/killed step and skip the rest; best effort, so that the step's own
    exception (not a bookkeeping error) is what the caller sees."""
    try:
        record_step(pipeline_id, idx, state.status, **_fields(state), store=st)
        for later in range(idx + 1, total):
            record_step(pipeline_id, later, "skipped", store=st)
    except Exception as exc:
        _log.warning("chachaml: could not record the end of pipeline %s: %s", pipeline_id, exc)


def _fields(state: StepState) -> dict[str, Any]:
    out = state._asdict()
    del out["status"]
    return out


def run_pipeline(
    name: str,
    steps: Sequence[tuple[str, Callable[[StepContext], Any]] | Step],
    description: str | None = None,
    experiment: str | None = None,
    *,
    resume_from: str | None = None,
    trust: bool = False,
    store: Store | None = None,
) -> dict[str, Any]:
    """Run ``steps`` in order, each ``fn(ctx)`` in its own child run of a parent run named
    ``name``; returns ``{"pipeline_id", "status", "steps", "result"}`` (``result`` is the last
    step's return value).

    Fail fast: when a step raises, it is recorded ``failed`` (``killed`` on ``KeyboardInterrupt``)
    with its run id, error and duration, the later steps ``skipped``, the pipeline run ends the
    same way, and the exception is re-raised as it was.

    ``resume_from=<pipeline id>`` starts a new pipeline (``resumed_from`` set) that reuses the
    results of the steps that completed with a saved result (``Step(..., save_result=True)``):
    those are recorded ``reused`` with the original run id and not run again. Every other step
    runs (a completed step without a saved result runs again, to recompute its result).
    Loading a pickled result from a shared store needs ``trust=True`` (see ``load_artifact``).
    """
    name = validate.name(name, "pipeline name")
    if description is not None:
        description = validate.note(description, "description")
    experiment = validate.optional_name(experiment, "experiment")
    if not isinstance(trust, bool):
        raise InvalidInput("trust must be True or False")
    plan = _plan(steps)
    st = resolve(store)
    resumed_from: str | None = None
    reused: dict[int, tuple[dict[str, Any], Any]] = {}
    if resume_from is not None:
        resumed_from, reused = _resume_plan(resume_from, name, plan, trust, st)

    results: dict[str, Any] = {}
    prev: Any = None
    with tracking.run(
        experiment=experiment, name=name, tags={PIPELINE_TAG: name}, store=st
    ) as parent:
        pid = parent.id
        record_pipeline(
            pid,
            name,
            [s.name for s in plan],
            description=description,
            resumed_from=resumed_from,
            store=st,
        )
        for i, step in enumerate(plan):
            if i in reused:
                row, prev = reused[i]
                record_step(
                    pid,
                    i,
                    "reused",
                    run_id=row["run_id"],
                    started_at=row["started_at"],
                    finished_at=row["finished_at"],
                    result_artifact=row["result_artifact"],
                    store=st,
                )
                results[step.name] = prev
                continue
            started = _now_ms()
            run_id: str | None = None
            artifact: str | None = None
            try:
                with tracking.run(
                    name=step.name, parent=parent, tags={STEP_TAG: step.name}, store=st
                ) as handle:
                    run_id = handle.id
                    record_step(pid, i, "running", run_id=run_id, started_at=started, store=st)
                    ctx = StepContext(pid, step.name, i, prev, dict(results), handle)
                    value = step.fn(ctx)
                    if step.save_result:
                        artifact = _save_result(handle, value)
            except BaseException as exc:
                status = "killed" if isinstance(exc, KeyboardInterrupt) else "failed"
                state = StepState(status, run_id, started, _now_ms(), _error_text(exc))
                _settle_failure(st, pid, i, len(plan), state)
                raise
            record_step(
                pid,
                i,
                "completed",
                run_id=run_id,
                started_at=started,
                finished_at=_now_ms(),
                result_artifact=artifact,
                store=st,
            )
            results[step.name] = prev = value
    done = pipeline(pid, store=st)
    return {"pipeline_id": pid, "status": done["status"], "steps": done["steps"], "result": prev}
