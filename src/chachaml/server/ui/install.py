"""``install_ui(app)``: the web UI's routes on a server app (kept apart from the package
``__init__``, which the page modules import for :func:`~chachaml.server.ui.render`).

Add a page module with one ``include_router`` line below.
"""

from __future__ import annotations

from fastapi import FastAPI

from chachaml.server.ui import (
    load_static,
    make_environment,
    pages_alerts,
    pages_chat,
    pages_compare,
    pages_experiments,
    pages_misc,
    pages_models,
    pages_pipelines,
    pages_run,
    pages_runs,
    static_router,
)

__all__ = ["install_ui"]


def install_ui(app: FastAPI) -> None:
    """Add the web UI to ``app``: the Jinja2 environment, ``/static/`` and every page router
    (one ``include_router`` line each)."""
    files = load_static()
    app.state.ui_static = files
    app.state.ui_env = make_environment(files)
    app.include_router(static_router)
    app.state.error_page = pages_misc.error_page  # HTML errors on browser routes
    app.include_router(pages_misc.router)  # "/", /login, /logout
    app.include_router(pages_experiments.router)
    app.include_router(pages_models.router)
    app.include_router(pages_pipelines.router)
    app.include_router(pages_alerts.router)
    app.include_router(pages_chat.router)
    app.include_router(pages_runs.router)
    app.include_router(pages_run.router)
    app.include_router(pages_compare.router)
