"""Fuzzing the live OpenAPI schema (schemathesis over ASGI): no input produces a 5xx.

Bounded: a few examples per operation so the whole file stays well under 90 s.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from chachaml.server.app import create_app  # noqa: E402
from chachaml.server.settings import Settings, allowed_hosts  # noqa: E402
from chachaml.store import open_store  # noqa: E402

MAX_EXAMPLES = 20


# The schema loader needs the app at import time; the module fixture closes its store.
# Each ASGI call runs the app's lifespan, so the app must not own (close) the store.
_STORE = open_store("sqlite:///:memory:")
# schemathesis' ASGI client sends `Host: testserver`; this app is told to serve that name.
_APP = create_app(Settings(allowed_hosts=allowed_hosts("testserver")), store=_STORE)
# /api/chat is left out: a valid body makes the server call the LLM provider the body names
# (tests/chat covers it against local servers speaking the providers' wire formats).
schema = schemathesis.openapi.from_asgi("/api/openapi.json", _APP).exclude(path="/api/chat")


@pytest.fixture(scope="module", autouse=True)
def _close_app_store() -> Iterator[None]:
    yield
    _STORE.close()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_produces_a_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500, response.text
