"""``/runs`` (the runs table) and ``/search`` (filter-expression search).

JSON twins: ``GET /api/runs`` and ``GET /api/search`` with the same arguments; the CSV link is
``GET /api/export?format=csv`` with the page's filters and order.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from chachaml.server.auth import READ
from chachaml.server.deps import store_of
from chachaml.server.ui import listing, pages_misc, render

__all__ = ["EXAMPLES", "router"]

router = APIRouter(include_in_schema=False)

STATUSES = ("running", "completed", "failed", "crashed", "killed")
EXAMPLES = (
    ("metrics.accuracy > 0.9", "latest accuracy above 0.9"),
    ("params.model = 'rf' and metrics.loss.min < 0.2", "a param and a metric's minimum"),
    ("status = 'failed' and start_time >= '2024-05-01'", "failed since a date"),
    ("duration > 5m order by duration desc", "long runs, longest first"),
    ("tags.reviewed = true", "a tag"),
    ("experiment in ('iris', 'mnist') and not status = 'running'", "lists and not"),
    ('params."learning rate" <= 0.01', "a key with a space"),
)


def _multi(request: Request) -> dict[str, list[str]]:
    return {key: request.query_params.getlist(key) for key in ("tag", "col")}


def _table_context(request: Request, path: str, args: listing.ListingArgs) -> dict[str, object]:
    store = store_of(request)
    page = listing.load_listing(store, args, require_filter=path == "/search")
    prev_url = None
    if args.offset > 0:
        prev = max(0, args.offset - listing.PAGE_SIZE)
        prev_url = listing.build_url(path, args.pairs(offset=prev))
    next_url = None
    if page.has_more:
        next_url = listing.build_url(path, args.pairs(offset=args.offset + listing.PAGE_SIZE))
    sort_urls = {}
    for col in page.columns:
        desc = not (args.sort == col.key and args.desc)
        sort_urls[col.key] = listing.build_url(path, args.pairs(sort=col.key, desc=desc, offset=0))
    export_pairs = [
        (k if k != "user" else "created_by", v)
        for k, v in args.pairs(offset=0, columns=[])
        if k in ("experiment", "status", "user", "tag", "filter")
    ]
    if args.archived:
        export_pairs.append(("include_archived", "true"))
    order = args.order_by()
    if order:
        export_pairs += [("order_by", o) for o in order]
    api_pairs = [*export_pairs, ("limit", str(listing.PAGE_SIZE)), ("offset", str(args.offset))]
    return {
        "args": args,
        "page": page,
        "pagination": {"prev_url": prev_url, "next_url": next_url, "label": page.label},
        "sort_urls": sort_urls,
        "csv_url": listing.build_url("/api/export", [("format", "csv"), *export_pairs]),
        "json_url": listing.build_url("/api/runs", api_pairs),
        "path": path,
    }


@router.get("/runs", dependencies=[READ])
def runs_page(request: Request) -> Response:
    """The runs table: filters, sort by any column, pages, run tree, compare, CSV export."""
    args = listing.parse_args(request.query_params, _multi(request))
    context = _table_context(request, "/runs", args)
    page: listing.Listing = context["page"]  # type: ignore[assignment]
    if not page.rows and args == listing.ListingArgs() and pages_misc.store_is_empty(request):
        return pages_misc.render_empty_store(request)
    context.update(statuses=STATUSES, shown_columns={c.key for c in page.columns})
    return render(request, "runs.html", context, nav="runs", status_code=400 if page.error else 200)


@router.get("/search", dependencies=[READ])
def search_page(request: Request) -> Response:
    """Filter-expression search with examples; a parse error is shown at its position."""
    args = listing.parse_args(request.query_params, _multi(request))
    context = _table_context(request, "/search", args)
    context.update(examples=EXAMPLES)
    page: listing.Listing = context["page"]  # type: ignore[assignment]
    return render(
        request, "search.html", context, nav="search", status_code=400 if page.error else 200
    )
