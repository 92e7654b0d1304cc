"""SQL fragments shared by run listings (``sqlquery``) and filter expressions (``sqlfilter``):
the run attributes, comparison operators, the crash rule as SQL, and how params read as numbers.
"""

from __future__ import annotations

from typing import Any

# Run attributes that can be filtered or sorted on, and the SQL expression for each.
ATTRIBUTES: dict[str, str] = {
    "id": "r.id",
    "experiment": "r.experiment",
    "name": "r.name",
    "start_time": "r.start_time",
    "end_time": "r.end_time",
    "duration": "(r.end_time - r.start_time)",
    "created_by": "r.created_by",
    "parent_run_id": "r.parent_run_id",
}

COMPARISONS: dict[str, str] = {
    ">": ">",
    ">=": ">=",
    "<": "<",
    "<=": "<=",
    "=": "=",
    "==": "=",
    "!=": "!=",
}

STATUS_SQL = "CASE WHEN r.status = 'running' AND r.heartbeat < ? THEN 'crashed' ELSE r.status END"

# Params hold canonical JSON text. A JSON number starts with '-' or a digit (`-Infinity`, which
# Python's json writes for -inf, is the one non-number that does); a JSON string starts with '"'.
PARAM_IS_NUMBER = (
    "substr(p.value, 1, 1) IN ('-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9') "
    "AND p.value <> '-Infinity'"
)
PARAM_NUMBER = "CAST(p.value AS DOUBLE PRECISION)"  # REAL affinity on SQLite, float8 on PG
PARAM_PRESENT = "p.value <> 'null'"  # a param logged as None counts as missing


def status_condition(status: str, stale_before: int) -> tuple[str, list[Any]]:
    if status == "archived":
        return "r.archived = 1", []
    if status == "running":
        return "(r.status = 'running' AND r.heartbeat >= ?)", [stale_before]
    if status == "crashed":
        return "(r.status = 'crashed' OR (r.status = 'running' AND r.heartbeat < ?))", [
            stale_before
        ]
    return "r.status = ?", [status]
