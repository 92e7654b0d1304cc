"""``/chat``: ask questions about the tracked experiments. The page is a form for
``POST /api/chat`` (its JSON twin); the provider's API key stays in the browser (this tab's
``sessionStorage``) and goes only into that request's body — no UI route ever receives it, and
the server neither stores nor logs it. Without JavaScript the page says that chat needs it.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from chachaml.server.auth import READ, iter_routes
from chachaml.server.ui import render

__all__ = ["CHAT_API", "chat_available", "router"]

router = APIRouter(include_in_schema=False)

CHAT_API = "/api/chat"


def chat_available(request: Request) -> bool:
    """Whether this server answers ``POST /api/chat``."""
    return any(
        getattr(route, "path", None) == CHAT_API and "POST" in getattr(route, "methods", ())
        for route in iter_routes(request.app.routes)
    )


@router.get("/chat", dependencies=[READ])
def chat_page(request: Request) -> Response:
    """The chat form (or a note that this server has no chat)."""
    available = chat_available(request)
    settings: dict[str, object] = {"api": CHAT_API, "providers": [], "default_models": {}}
    if available:
        from chachaml import chat

        settings.update(
            providers=list(chat.PROVIDERS),
            default_models=dict(chat.DEFAULT_MODELS),
            max_iterations=chat.MAX_ITERATIONS,
            max_question_chars=chat.MAX_QUESTION_CHARS,
        )
    context = {"available": available, "chat_settings": settings}
    return render(request, "chat.html", context, nav="chat")
