"""Experiment, model registry, artifact, pipeline and alert tools: thin calls of the
annotate/registry/artifact_api/pipeline_api/alert_api services."""

from __future__ import annotations

import json
from typing import Any

from chachaml import alert_api, annotate, artifact_api, pipeline_api, query, registry, validate
from chachaml.store import Store
from chachaml.tools.common import (
    RUN_ID,
    Tool,
    as_result,
    cap_comparison,
    clip,
    integer,
    name_arg,
    obj,
    page,
    text_arg,
)

__all__ = ["OTHER_TOOLS", "TEXT_FORMATS", "read_artifact"]

MAX_HISTORY = 50  # versions / stage changes shown by get_model
#: Formats previewed as text; anything else (pickle, joblib, numpy, parquet, bytes) is never
#: decoded by a tool.
TEXT_FORMATS = ("json", "text", "markdown", "table")
MAX_PARSE = 1024 * 1024  # JSON artifacts up to this size are parsed; larger ones are cut as text


def _list(key: str, items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    return as_result({key: clip(items[:limit], 500), **page(items, limit)})


def list_experiments(store: Store | None, *, limit: int) -> dict[str, Any]:
    return _list("experiments", annotate.experiments(store=store), limit)


def create_experiment(
    store: Store | None, *, name: str, description: str | None = None, owner: str | None = None
) -> dict[str, Any]:
    found = annotate.create_experiment(name, description, owner, store=store)
    return as_result(clip(found))


def list_models(store: Store | None, *, limit: int) -> dict[str, Any]:
    return _list("models", registry.models(store=store), limit)


def get_model(store: Store | None, *, name: str) -> dict[str, Any]:
    found = registry.model(name, store=store)
    for key in ("versions", "history"):
        items = found[key]
        if len(items) > MAX_HISTORY:  # the newest matter most
            found[key] = items[-MAX_HISTORY:]
            found[f"{key}_truncated"] = f"{len(items) - MAX_HISTORY} older entries not shown"
    return as_result(clip(found))


def get_model_version(
    store: Store | None, *, name: str, version: int | None = None, stage: str | None = None
) -> dict[str, Any]:
    return as_result(clip(registry.get_version(name, version, stage=stage, store=store)))


def diff_model_versions(store: Store | None, *, name: str, v1: int, v2: int) -> dict[str, Any]:
    return as_result(clip(cap_comparison(registry.diff_versions(name, v1, v2, store=store)), 500))


def promote_model(store: Store | None, *, name: str, version: int, stage: str) -> dict[str, Any]:
    return as_result(clip(registry.promote(name, version, stage, store=store)))


def list_artifacts(store: Store | None, *, run_id: str, limit: int) -> dict[str, Any]:
    full = query.find_run_id(run_id, store=store)
    found = artifact_api.list_artifacts(full, store=store)
    return {"run_id": full, **_list("artifacts", found, limit)}


def _is_text(row: dict[str, Any]) -> bool:
    if row["format"] in TEXT_FORMATS:
        return True
    ctype = str(row.get("content_type") or "").split(";")[0].strip().lower()
    return row["format"] == "file" and (
        ctype.startswith("text/") or ctype in ("application/json", "application/x-ndjson")
    )


def _parse(data: bytes) -> Any:
    """The JSON value of ``data``, or None when it is not valid JSON (then shown as text)."""
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError:
        return None


def read_artifact(
    store: Store | None, *, run_id: str, name: str, max_chars: int, max_rows: int
) -> dict[str, Any]:
    """A preview of a text, JSON or table artifact: never unpickles, never reads more than
    needed for the preview (JSON and tables up to 1 MiB are parsed)."""
    row = artifact_api.get_artifact(run_id, name, store=store)
    meta = {k: row.get(k) for k in ("run_id", "name", "format", "content_type", "size")}
    if not _is_text(row):
        return {
            "artifact": meta,
            "preview": None,
            "note": f"{row['format']} artifacts are not previewed (binary, or decoding would "
            "run code); load it in Python with chachaml.load_artifact if you trust it",
        }
    parse = row["format"] in ("json", "table") and int(row["size"]) <= MAX_PARSE
    want = MAX_PARSE if parse else max_chars * 4 + 4
    _, stream = artifact_api.open_artifact(run_id, name, store=store)
    with stream:
        data = stream.read(want)
    value = _parse(data) if parse else None
    if value is not None:
        if row["format"] == "table" and isinstance(value, dict):
            rows = value.get("rows") or []
            return as_result(
                {
                    "artifact": meta,
                    "preview": "table",
                    "headers": value.get("headers"),
                    "rows": clip(rows[:max_rows], 200),
                    "total_rows": len(rows),
                    "truncated": len(rows) > max_rows,
                }
            )
        text = json.dumps(value, indent=1, ensure_ascii=False)
        if len(text) <= max_chars:
            return as_result(
                {"artifact": meta, "preview": "json", "value": value, "truncated": False}
            )
    else:
        text = data.decode("utf-8", errors="replace")
    cut = len(text) > max_chars or int(row["size"]) > len(data)
    return {"artifact": meta, "preview": "text", "text": text[:max_chars], "truncated": cut}


def list_pipelines(
    store: Store | None,
    *,
    limit: int,
    offset: int,
    name: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    found = pipeline_api.pipelines(limit + 1, name, status, offset=offset, store=store)
    return as_result({"pipelines": clip(found[:limit], 500), **page(found, limit, offset)})


def get_pipeline(store: Store | None, *, pipeline_id: str) -> dict[str, Any]:
    return as_result(clip(dict(pipeline_api.pipeline(pipeline_id, store=store)), 1000))


def list_alerts(store: Store | None, *, limit: int) -> dict[str, Any]:
    return _list("alerts", list(alert_api.alerts(store=store)), limit)


def alert_history(store: Store | None, *, limit: int, name: str | None = None) -> dict[str, Any]:
    found = list(alert_api.alert_history(name, limit + 1, store=store))
    return _list("events", found, limit)


_LIMIT = integer("entries at most", minimum=1, maximum=500, default=100)
_MODEL = name_arg("registered model name")
_VERSION = integer("version number", minimum=1, maximum=2**31 - 1)
_STAGE = {"type": "string", "enum": list(registry.STAGES), "description": "a registry stage"}

OTHER_TOOLS = (
    Tool(
        "list_experiments",
        "Experiments (explicit ones and those only used by runs) with "
        "description, owner, run count and last activity.",
        obj({"limit": _LIMIT}),
        False,
        list_experiments,
    ),
    Tool(
        "create_experiment",
        "Create an experiment, or update its description/owner (omitted fields are kept). Writes.",
        obj(
            {
                "name": name_arg("experiment name"),
                "description": text_arg("markdown description", 10_000),
                "owner": name_arg("who owns it"),
            },
            ["name"],
        ),
        True,
        create_experiment,
    ),
    Tool(
        "list_models",
        "Registered models with latest_version, production_version and "
        "version_count, most recently changed first.",
        obj({"limit": _LIMIT}),
        False,
        list_models,
    ),
    Tool(
        "get_model",
        "One registered model: its versions (stage, source run, artifact) and "
        "the history of stage changes.",
        obj({"name": _MODEL}, ["name"]),
        False,
        get_model,
    ),
    Tool(
        "get_model_version",
        "One version of a model, by version number or by stage (default: the production "
        "version). Give version or stage, not both.",
        obj(
            {
                "name": _MODEL,
                "version": _VERSION,
                "stage": {**_STAGE, "description": "the newest version in this stage"},
            },
            ["name"],
        ),
        False,
        get_model_version,
    ),
    Tool(
        "diff_model_versions",
        "Compare two versions of a model: both version records and a comparison of their "
        "source runs (params and metrics grouped into differ / partial / same).",
        obj({"name": _MODEL, "v1": _VERSION, "v2": _VERSION}, ["name", "v1", "v2"]),
        False,
        diff_model_versions,
    ),
    Tool(
        "promote_model",
        "Move a model version to a stage. Promoting to production archives the current "
        "production version in the same transaction. Writes.",
        obj(
            {
                "name": _MODEL,
                "version": _VERSION,
                "stage": {**_STAGE, "description": "the stage to move the version to"},
            },
            ["name", "version", "stage"],
        ),
        True,
        promote_model,
    ),
    Tool(
        "list_artifacts",
        "The artifacts of a run (name, format, content type, size, sha256) in logging order.",
        obj({"run_id": RUN_ID, "limit": _LIMIT}, ["run_id"]),
        False,
        list_artifacts,
    ),
    Tool(
        "read_artifact",
        "Preview one artifact of a run: JSON as a value, tables as headers and first rows, "
        "text/markdown as text, cut to max_chars / max_rows. Binary and pickled artifacts are "
        "never decoded (only their metadata is returned).",
        obj(
            {
                "run_id": RUN_ID,
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 1000,
                    "description": "artifact name (see list_artifacts)",
                },
                "max_chars": integer(
                    "characters of text at most", minimum=100, maximum=20_000, default=4000
                ),
                "max_rows": integer("table rows at most", minimum=1, maximum=200, default=20),
            },
            ["run_id", "name"],
        ),
        False,
        read_artifact,
    ),
    Tool(
        "list_pipelines",
        "Pipelines, newest first: name, status, step counts, duration.",
        obj(
            {
                "name": name_arg("only pipelines with this name"),
                "status": {
                    "type": "string",
                    "enum": list(validate.RUN_STATUSES),
                    "description": "only pipelines whose run has this status",
                },
                "limit": integer("pipelines per page", minimum=1, maximum=100, default=20),
                "offset": integer("pipelines to skip", minimum=0, maximum=10_000_000, default=0),
            }
        ),
        False,
        list_pipelines,
    ),
    Tool(
        "get_pipeline",
        "One pipeline with its steps in order: status, step run id, duration and error.",
        obj(
            {
                "pipeline_id": {
                    **RUN_ID,
                    "description": "pipeline id (its run's id) or a unique prefix of at least 4",
                }
            },
            ["pipeline_id"],
        ),
        False,
        get_pipeline,
    ),
    Tool(
        "list_alerts",
        "Alert rules: metric, condition, filter, active, last check (webhook URLs masked).",
        obj({"limit": _LIMIT}),
        False,
        list_alerts,
    ),
    Tool(
        "alert_history",
        "Fired alert events, newest first, with delivery status (of one rule or all).",
        obj(
            {
                "name": name_arg("only events of this alert rule"),
                "limit": integer("events at most", minimum=1, maximum=500, default=20),
            }
        ),
        False,
        alert_history,
    ),
)
