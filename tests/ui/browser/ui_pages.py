"""The UI's pages (SPEC §5) as paths built from a store state's facts."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlencode

from ui_stores import Facts

PathOf = Callable[[Facts], str]


def _q(value: str) -> str:
    return quote(value, safe="")


#: Pages every store state has (no id needed).
LIST_PAGES: dict[str, PathOf] = {
    "home": lambda f: "/",
    "runs": lambda f: "/runs",
    "experiments": lambda f: "/experiments",
    "models": lambda f: "/models",
    "pipelines": lambda f: "/pipelines",
    "alerts": lambda f: "/alerts",
    "search": lambda f: "/search",
    "search_results": lambda f: "/search?" + urlencode({"filter": "metrics.loss < 10"}),
    "search_parse_error": lambda f: "/search?" + urlencode({"filter": "metrics.loss <<< 1 and ("}),
    "chat": lambda f: "/chat",
}

#: Pages of one object: each needs the named fact.
DETAIL_PAGES: dict[str, tuple[str, PathOf]] = {
    "run": ("run", lambda f: f"/runs/{f['run']}"),
    "runs_of_experiment": (
        "experiment",
        lambda f: "/runs?" + urlencode({"experiment": f["experiment"]}),
    ),
    "compare": ("compare", lambda f: "/compare?" + urlencode({"ids": ",".join(f["compare"])})),
    "model": ("model", lambda f: f"/models/{_q(f['model'])}"),
    "pipeline": ("pipeline", lambda f: f"/pipelines/{f['pipeline']}"),
    "failed_pipeline": ("failed_pipeline", lambda f: f"/pipelines/{f['failed_pipeline']}"),
    "parent_run": ("parent", lambda f: f"/runs/{f['parent']}"),
    "child_run": ("child", lambda f: f"/runs/{f['child']}"),
    "archived_runs": (
        "archived",
        lambda f: "/runs?" + urlencode({"archived": "1", "experiment": f["experiment"]}),
    ),
}

STATES = ["empty", "demo", "running", "failed", "failed_pipeline", "archived", "unicode"]

#: Which detail pages each state has (its seeder returns the facts they need).
STATE_DETAILS: dict[str, list[str]] = {
    "empty": [],
    "demo": [
        "run",
        "runs_of_experiment",
        "compare",
        "model",
        "pipeline",
        "failed_pipeline",
        "parent_run",
    ],
    "running": ["run", "runs_of_experiment", "compare", "child_run"],
    "failed": ["run", "runs_of_experiment", "compare"],
    "failed_pipeline": ["run", "pipeline", "runs_of_experiment"],
    "archived": ["run", "compare", "archived_runs"],
    "unicode": ["run", "runs_of_experiment", "compare", "model", "pipeline"],
}


def pages_of(state: str) -> list[str]:
    return [*LIST_PAGES, *STATE_DETAILS[state]]


def path_of(kind: str, facts: Facts) -> str:
    if kind in LIST_PAGES:
        return LIST_PAGES[kind](facts)
    return DETAIL_PAGES[kind][1](facts)


#: The document status of pages that are not 200: a filter that does not parse is the client's
#: error, explained on the page with a 400.
STATUS = {"search_parse_error": 400}


def status_of(kind: str) -> int:
    return STATUS.get(kind, 200)


def every_page(facts: Facts) -> list[tuple[str, int]]:
    """Every page a state with ``facts`` has, with its expected status (for the XSS sweep)."""
    out = [(fn(facts), status_of(kind)) for kind, fn in LIST_PAGES.items()]
    out += [(fn(facts), 200) for need, fn in DETAIL_PAGES.values() if need in facts]
    return out
