"""The runs table shared by ``/runs`` and ``/search``: one page of runs from ``query.search_runs``
(fetching one extra row to know whether another page follows, never counting the whole store),
the chosen param/metric columns, and the run tree within the page.

Everything here reads through services (``query``); the templates only format.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from chachaml import query
from chachaml.errors import InvalidFilter, InvalidInput
from chachaml.store import Store

__all__ = [
    "BASE_COLUMNS",
    "PAGE_SIZE",
    "Column",
    "Listing",
    "ListingArgs",
    "build_url",
    "load_listing",
]

PAGE_SIZE = 50
MAX_CHOSEN = 12
DEFAULT_METRIC_COLUMNS = 4


@dataclass(frozen=True)
class Column:
    """A sortable column: ``key`` is what ``order_by`` takes (``name``, ``metrics.acc``...)."""

    key: str
    label: str
    numeric: bool = False


BASE_COLUMNS = (
    Column("name", "Run"),
    Column("experiment", "Experiment"),
    Column("status", "Status"),
    Column("created_by", "User"),
    Column("start_time", "Started"),
    Column("duration", "Duration", numeric=True),
)
_BASE_KEYS = {c.key for c in BASE_COLUMNS}


@dataclass
class ListingArgs:
    """The query string of a runs listing, as the page's forms and links send it."""

    experiment: str | None = None
    status: str | None = None
    user: str | None = None
    tags: list[str] = field(default_factory=list)
    filter: str | None = None
    sort: str | None = None
    desc: bool = True
    offset: int = 0
    archived: bool = False
    columns: list[str] = field(default_factory=list)

    def pairs(self, **changes: Any) -> list[tuple[str, str]]:
        """The query-string pairs of these arguments with ``changes`` applied (defaults left
        out, so URLs stay short)."""
        values = {**self.__dict__, **changes}
        out: list[tuple[str, str]] = []
        for key, name in (("experiment", "experiment"), ("status", "status"), ("user", "user")):
            if values[key]:
                out.append((name, values[key]))
        out += [("tag", t) for t in values["tags"]]
        if values["filter"]:
            out.append(("filter", values["filter"]))
        if values["sort"]:
            out.append(("sort", values["sort"]))
            out.append(("dir", "desc" if values["desc"] else "asc"))
        if values["archived"]:
            out.append(("archived", "1"))
        out += [("col", c) for c in values["columns"]]
        if values["offset"]:
            out.append(("offset", str(values["offset"])))
        return out

    def search_kwargs(self) -> dict[str, Any]:
        """The ``query.search_runs`` arguments (besides paging and order)."""
        tags: dict[str, str] = {}
        for pair in self.tags:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise InvalidInput(f"tag filter {pair[:50]!r} must look like key=value")
            tags[key] = value
        return {
            "experiment": self.experiment or None,
            "status": self.status or None,
            "created_by": self.user or None,
            "tags": tags or None,
            "include_archived": self.archived,
        }

    def order_by(self) -> list[str] | None:
        if not self.sort:
            return None
        return [f"{self.sort} {'desc' if self.desc else 'asc'}"]


def build_url(path: str, pairs: Sequence[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(pairs)}" if pairs else path


@dataclass
class Listing:
    """One page of the runs table, ready for the template."""

    rows: list[dict[str, Any]]
    columns: list[Column]
    available: list[str]
    offset: int
    has_more: bool
    error: str | None = None
    error_position: int | None = None
    running: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        if not self.rows:
            return "no runs"
        last = self.offset + len(self.rows)
        return f"runs {self.offset + 1}\N{EN DASH}{last}" + ("" if self.has_more else " (end)")


def _chosen_columns(
    args: ListingArgs, metric_keys: Counter[str], param_keys: Counter[str]
) -> list[Column]:
    wanted = [c for c in args.columns if c.startswith(("metrics.", "params."))][:MAX_CHOSEN]
    if not args.columns:
        wanted = [f"metrics.{k}" for k, _ in metric_keys.most_common(DEFAULT_METRIC_COLUMNS)]
    if args.sort and args.sort not in _BASE_KEYS and args.sort not in wanted:
        wanted.append(args.sort)
    out = []
    for key in dict.fromkeys(wanted):
        kind, _, name = key.partition(".")
        out.append(Column(key, name, numeric=kind == "metrics"))
    return out


def _tree(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The page's runs with each child placed right after its parent (when both are on the
    page), depth-first; ``depth`` and ``child_count`` added for the template."""
    on_page = {r["id"] for r in runs}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for run in runs:
        parent = run.get("parent_run_id")
        if parent is not None and parent in on_page and parent != run["id"]:
            children.setdefault(parent, []).append(run)
        else:
            roots.append(run)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(run: dict[str, Any], depth: int) -> None:
        if run["id"] in seen:
            return
        seen.add(run["id"])
        kids = children.get(run["id"], [])
        out.append({**run, "depth": depth, "child_count": len(kids)})
        for kid in kids:
            visit(kid, depth + 1)

    for run in roots:
        visit(run, 0)
    for run in runs:  # a parent cycle (corrupt data) must not hide a run
        visit(run, 0)
    return out


def load_listing(
    store: Store, args: ListingArgs, *, page_size: int = PAGE_SIZE, require_filter: bool = False
) -> Listing:
    """Read one page. Bad input (an invalid filter, status or tag) becomes ``error`` (with the
    filter's 0-based ``error_position``) and an empty page, never an exception."""
    try:
        if require_filter and not args.filter:
            found: list[dict[str, Any]] = []
        else:
            found = query.search_runs(
                args.filter,
                order_by=args.order_by(),
                limit=page_size + 1,
                offset=args.offset,
                store=store,
                **args.search_kwargs(),
            )
    except InvalidFilter as exc:
        message = str(exc).split("\n", 1)[0]
        return Listing([], list(BASE_COLUMNS), [], args.offset, False, message, exc.position)
    except InvalidInput as exc:
        return Listing([], list(BASE_COLUMNS), [], args.offset, False, str(exc))
    has_more = len(found) > page_size
    runs = list(found[:page_size])
    ids = [r["id"] for r in runs]
    summaries = query.metric_summaries(ids, store=store) if ids else {}
    params = query.params_json(ids, store=store) if ids else {}
    metric_keys: Counter[str] = Counter(k for per in summaries.values() for k in per)
    param_keys: Counter[str] = Counter(k for per in params.values() for k in per)
    columns = _chosen_columns(args, metric_keys, param_keys)
    rows = []
    for run in runs:
        values: dict[str, Any] = {}
        run_metrics = summaries.get(run["id"], {})
        run_params = params.get(run["id"], {})
        for col in columns:
            kind, _, key = col.key.partition(".")
            if kind == "metrics":
                name, _, agg = key.rpartition(".")
                if key in run_metrics:
                    values[col.key] = run_metrics[key].get("last")
                elif name in run_metrics and agg in ("last", "min", "max", "first", "count"):
                    values[col.key] = run_metrics[name].get(agg)
                else:
                    values[col.key] = None
            elif key in run_params:
                values[col.key] = json.loads(run_params[key])
            else:
                values[col.key] = None
        rows.append({**run, "values": values})
    available = [f"metrics.{k}" for k in sorted(metric_keys)] + [
        f"params.{k}" for k in sorted(param_keys)
    ]
    running = [r["id"] for r in runs if r.get("status") == "running"]
    return Listing(_tree(rows), [*BASE_COLUMNS, *columns], available, args.offset, has_more,
                   running=running)  # fmt: skip


def parse_args(params: Mapping[str, Any], multi: Mapping[str, list[str]]) -> ListingArgs:
    """``ListingArgs`` from a request's query parameters (``multi``: the repeated ones)."""
    try:
        offset = max(0, min(int(params.get("offset") or 0), 2**62))
    except ValueError:
        offset = 0
    return ListingArgs(
        experiment=_text(params.get("experiment")),
        status=_text(params.get("status")),
        user=_text(params.get("user")),
        tags=[t for t in multi.get("tag", []) if t.strip()][:100],
        filter=_text(params.get("filter")),
        sort=_text(params.get("sort")),
        desc=params.get("dir", "desc") != "asc",
        offset=offset,
        archived=params.get("archived") in ("1", "true", "on"),
        columns=[c for c in multi.get("col", []) if c][:MAX_CHOSEN],
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()[:10_000]
    return text or None
