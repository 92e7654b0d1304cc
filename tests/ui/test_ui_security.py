"""Security of the web UI, in-process: response headers on every answer, CSRF on every
state-changing form (and on cookie-authenticated API writes), cross-site writes refused,
read-only sessions without write controls, the token login, and HTML vs JSON errors."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import chachaml as ml
from chachaml import alert_api, annotate, registry
from chachaml.server.app import create_app
from chachaml.server.auth import SESSION_COOKIE, iter_routes, route_permission
from chachaml.server.settings import Settings, parse_tokens
from chachaml.server.ui.security import CSP, CSRF_COOKIE, safe_next
from chachaml.store import Store, open_store

if str(Path(__file__).parents[1] / "server") not in sys.path:
    sys.path.append(str(Path(__file__).parents[1] / "server"))
from server_helpers import LOCAL, READ_TOKEN, WRITE_TOKEN, assert_error

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Store]:
    """A store with a model (v1 production, v2 staging), an alert and a failed pipeline."""
    st = open_store(str(tmp_path / "ui.db"), str(tmp_path / "blobs"))
    with ml.run(experiment="exp", store=st) as run:
        run.log_artifact("model", {"w": 1})
        run.log_param("lr", 0.1)
    registry.register_model("m", run_id=run.id, stage="production", store=st)
    registry.register_model("m", run_id=run.id, stage="staging", store=st)
    alert_api.set_alert("low-acc", "acc", "<", 0.5, store=st)
    with pytest.raises(ZeroDivisionError):
        ml.run_pipeline("etl", [("a", lambda c: 1), ("b", lambda c: 1 / 0)], store=st)
    yield st
    st.close()


def _client(settings: Settings, st: Store) -> TestClient:
    return TestClient(create_app(settings, store=st), base_url=LOCAL, raise_server_exceptions=False)


@pytest.fixture
def client(seeded: Store) -> Iterator[TestClient]:
    with _client(Settings(), seeded) as c:
        yield c


@pytest.fixture
def auth_client(seeded: Store) -> Iterator[TestClient]:
    tokens = parse_tokens(f"{READ_TOKEN}:read,{WRITE_TOKEN}:write")
    with _client(Settings(tokens=tokens), seeded) as c:
        yield c


def csrf_of(client: TestClient, path: str = "/experiments") -> str:
    """The CSRF token a page gives this browser (the cookie jar keeps the nonce)."""
    resp = client.get(path)
    assert resp.status_code == 200, resp.text
    found = TOKEN_FIELD.search(resp.text)
    assert found, "no CSRF field on " + path
    return found.group(1)


def login(client: TestClient, token: str) -> Any:
    return client.post(
        "/login",
        data={"token": token, "next": "/models", "csrf_token": csrf_of(client, "/login")},
        follow_redirects=False,
    )


def ui_get_paths(client: TestClient, st: Store) -> list[str]:
    """Every GET page of the UI, path parameters filled from the seeded store."""
    pipeline_id = ml.pipelines(store=st)[0]["id"]
    run_id = ml.runs(store=st)[0]["id"]
    fill = {
        "{name:path}": "m",
        "{name}": "m",
        "{pipeline_id}": pipeline_id,
        "{run_id}": run_id,
    }
    paths = []
    for route in iter_routes(client.app.routes):  # type: ignore[attr-defined]
        path = getattr(route, "path", "")
        if "GET" not in getattr(route, "methods", set()) or path.startswith(("/api", "/mcp")):
            continue
        if path in ("/healthz", "/static/{name:path}"):
            continue
        for key, value in fill.items():
            path = path.replace(key, value)
        if "{" in path:  # a page this test does not know how to fill: fail loudly
            raise AssertionError(f"unknown path parameter in {path}")
        paths.append(path)
    return paths


# -- headers ----------------------------------------------------------------------------------
def test_the_policy_is_exactly_the_required_one() -> None:
    assert CSP == EXPECTED_CSP
    assert "unsafe" not in CSP


def test_every_page_has_the_security_headers_and_no_inline_script(
    client: TestClient, seeded: Store
) -> None:
    paths = ui_get_paths(client, seeded)
    assert {"/experiments", "/models", "/models/m", "/pipelines", "/alerts", "/chat"} <= set(paths)
    for path in paths:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
        if not resp.headers["content-type"].startswith("text/html"):
            continue
        assert resp.headers["content-security-policy"] == EXPECTED_CSP, path
        assert resp.headers["x-content-type-options"] == "nosniff", path
        assert resp.headers["referrer-policy"] == "same-origin", path
        assert resp.headers["x-frame-options"] == "DENY", path
        html = resp.text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), path  # no event handler attributes
        assert not re.search(r"<[^>]+\sstyle\s*=", html), path  # no inline styles either
        assert "javascript:" not in html, path


def test_nosniff_is_on_api_static_and_early_error_answers(client: TestClient) -> None:
    api = client.get("/api/runs")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in api.headers  # JSON: no document to protect
    unsupported = client.post("/api/runs", content=b"x=1", headers={"content-type": "text/plain"})
    assert unsupported.status_code == 415
    assert unsupported.headers["x-content-type-options"] == "nosniff"
    static = client.get("/static/app.css")
    assert static.status_code == 200 and static.headers["x-content-type-options"] == "nosniff"


def test_an_artifact_download_keeps_its_sandbox_policy(client: TestClient, seeded: Store) -> None:
    run_id = ml.runs(store=seeded, experiment="exp")[0]["id"]
    with ml.run(store=seeded) as run:
        run.log_artifact("page.html", b"<script>alert(1)</script>", format="bytes")
    resp = client.get(f"/api/runs/{run.id}/artifacts/page.html")
    assert resp.status_code == 200
    assert resp.headers["content-security-policy"].startswith("sandbox")
    assert resp.headers["content-disposition"].startswith("attachment")
    assert run_id != run.id


# -- CSRF -------------------------------------------------------------------------------------
def test_every_ui_form_route_refuses_a_missing_csrf_token(
    client: TestClient, seeded: Store
) -> None:
    posts = [
        r
        for r in iter_routes(client.app.routes)  # type: ignore[attr-defined]
        if isinstance(r, APIRoute)
        and r.methods & {"POST", "PUT", "PATCH", "DELETE"}
        and not r.path.startswith(("/api", "/mcp"))
    ]
    assert {"/experiments", "/models/{name:path}", "/alerts", "/login", "/logout"} <= {
        r.path for r in posts
    }
    run_id = ml.runs(store=seeded)[0]["id"]
    csrf_of(client)  # the browser has its nonce cookie: only the token is missing
    for route in posts:
        path = route.path.replace("{name:path}", "m").replace("{run_id}", run_id)
        assert "{" not in path, route.path
        resp = client.post(path, data={"action": "describe", "description": "x"})
        assert resp.status_code == 403, (route.path, resp.status_code)
        assert "text/html" in resp.headers["content-type"]
        assert "security token" in resp.text


def test_missing_or_wrong_csrf_token_stores_nothing(client: TestClient, seeded: Store) -> None:
    good = csrf_of(client)
    attempts: list[dict[str, str]] = [{}, {"csrf_token": "0" * 64}, {"csrf_token": good[:-1]}]
    for extra in attempts:
        r1 = client.post("/experiments", data={"name": "sneaky", **extra})
        r2 = client.post(
            "/models/m",
            data={"action": "promote", "version": "2", "stage": "production", "confirm": "yes"}
            | extra,
        )
        r3 = client.post("/models/m", data={"action": "describe", "description": "pwned"} | extra)
        r4 = client.post("/alerts", data={"action": "deactivate", "name": "low-acc"} | extra)
        assert [r.status_code for r in (r1, r2, r3, r4)] == [403] * 4
    assert "sneaky" not in [e["name"] for e in annotate.experiments(store=seeded)]
    model = registry.model("m", store=seeded)
    assert model["production_version"] == 1 and model["description"] is None
    assert alert_api.alert("low-acc", store=seeded)["active"] is True
    # With the right token the same form works.
    ok = client.post(
        "/experiments", data={"name": "wanted", "csrf_token": good}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/experiments"
    assert "wanted" in [e["name"] for e in annotate.experiments(store=seeded)]


def test_odd_tokens_and_cookies_are_refused_not_crashed_on(
    auth_client: TestClient, seeded: Store
) -> None:
    token = csrf_of(auth_client, "/login")
    for odd in ("é" * 64, token[:-1] + "é", "\x00" * 64):
        resp = auth_client.post("/login", data={"token": WRITE_TOKEN, "csrf_token": odd})
        assert resp.status_code == 403, odd
    auth_client.cookies.clear()
    for cookie in ("é.é", "zz.zz", "a" * 300, ".", "sha256:x.y"):
        raw = {b"cookie": f"{SESSION_COOKIE}={cookie}".encode()}  # UTF-8, as a browser may send
        page = auth_client.get("/models", headers=raw, follow_redirects=False)
        assert page.status_code == 303, cookie
        assert_error(auth_client.get("/api/runs", headers=raw), 401)


def test_a_token_from_another_browser_does_not_fit_this_one(
    client: TestClient, seeded: Store
) -> None:
    token = csrf_of(client)
    client.cookies.clear()
    csrf_of(client)  # a new browser: a new nonce cookie
    resp = client.post("/experiments", data={"name": "x", "csrf_token": token})
    assert resp.status_code == 403
    assert "x" not in [e["name"] for e in annotate.experiments(store=seeded)]


def test_the_nonce_cookie_is_httponly_and_strict(client: TestClient) -> None:
    client.cookies.clear()
    resp = client.get("/experiments")
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith(CSRF_COOKIE + "=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    again = client.get("/experiments")  # the browser has it now: not set again
    assert "set-cookie" not in again.headers


def test_forms_posted_to_the_api_are_still_refused(client: TestClient) -> None:
    for path in ("/api/experiments", "/mcp"):
        resp = client.post(path, data={"name": "x"})
        assert_error(resp, 415, "unsupported_media_type")


# -- cross-site requests ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},  # another port or subdomain of the same site
        {"origin": "http://evil.example"},
        {"origin": "null"},
    ],
)
def test_cross_site_writes_are_refused_even_with_a_valid_token(
    client: TestClient, seeded: Store, headers: dict[str, str]
) -> None:
    token = csrf_of(client)
    page = client.post(
        "/alerts",
        data={"action": "deactivate", "name": "low-acc", "csrf_token": token},
        headers=headers,
    )
    assert page.status_code == 403
    # The JSON API of a server without tokens too (a bodiless POST needs no preflight).
    api = client.post("/api/alerts/low-acc/deactivate", headers=headers)
    assert_error(api, 403, "csrf_failed")
    assert alert_api.alert("low-acc", store=seeded)["active"] is True


def test_same_origin_browsers_and_non_browser_clients_may_write(
    client: TestClient, seeded: Store
) -> None:
    token = csrf_of(client)
    same = client.post(
        "/alerts",
        data={"action": "deactivate", "name": "low-acc", "csrf_token": token},
        headers={"sec-fetch-site": "same-origin", "origin": LOCAL},
        follow_redirects=False,
    )
    assert same.status_code == 303
    assert alert_api.alert("low-acc", store=seeded)["active"] is False
    plain = client.post("/api/alerts/low-acc/activate")  # curl, the remote store: no Origin
    assert plain.status_code == 200
    assert alert_api.alert("low-acc", store=seeded)["active"] is True
    reads = client.get("/models", headers={"sec-fetch-site": "cross-site"})
    assert reads.status_code == 200  # reading is not a cross-site risk (no CORS to read it)


# -- tokens, login and read-only sessions -----------------------------------------------------
def test_pages_redirect_to_login_and_the_api_answers_401(auth_client: TestClient) -> None:
    page = auth_client.get("/models/m?v1=1&v2=2", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/models/m%3Fv1%3D1%26v2%3D2"
    assert_error(auth_client.get("/api/runs"), 401, "unauthorized")
    form = auth_client.get("/login")
    assert form.status_code == 200 and 'type="password"' in form.text
    token = TOKEN_FIELD.search(form.text)
    assert token is not None
    post = auth_client.post(
        "/experiments", data={"name": "x", "csrf_token": token.group(1)}, follow_redirects=False
    )
    assert post.status_code == 303 and post.headers["location"] == "/login?next=/experiments"


def test_login_sets_a_session_cookie_that_is_not_the_token(auth_client: TestClient) -> None:
    bad = login(auth_client, "not-the-token")
    assert bad.status_code == 401 and "not valid" in bad.text
    assert SESSION_COOKIE not in auth_client.cookies
    ok = login(auth_client, WRITE_TOKEN)
    assert ok.status_code == 303 and ok.headers["location"] == "/models"
    cookie = next(v for v in ok.headers.get_list("set-cookie") if v.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert WRITE_TOKEN not in cookie
    assert auth_client.get("/models").status_code == 200
    assert auth_client.get("/api/runs").status_code == 200  # the cookie reads the API too


def test_a_session_cookie_survives_neither_tampering_nor_another_server(
    auth_client: TestClient, seeded: Store, tmp_path: Path
) -> None:
    login(auth_client, READ_TOKEN)
    value = auth_client.cookies[SESSION_COOKIE]
    digest, _, sig = value.partition(".")
    write_hash = next(iter(parse_tokens(WRITE_TOKEN)))  # forge: the write token, old signature
    forged = write_hash.removeprefix("sha256:") + "." + sig
    auth_client.cookies.clear()
    auth_client.cookies.set(SESSION_COOKIE, forged)
    assert auth_client.get("/models", follow_redirects=False).status_code == 303
    tokens = parse_tokens(f"{READ_TOKEN}:read,{WRITE_TOKEN}:write")
    with _client(Settings(tokens=tokens), seeded) as other:  # same tokens, another process
        other.cookies.set(SESSION_COOKIE, value)
        assert other.get("/models", follow_redirects=False).status_code == 303
    auth_client.cookies.clear()
    auth_client.cookies.set(SESSION_COOKIE, value)  # the genuine cookie still works here
    assert auth_client.get("/models", follow_redirects=False).status_code == 200
    assert digest and sig


def test_a_read_only_session_sees_no_write_controls_and_cannot_write(
    auth_client: TestClient, seeded: Store
) -> None:
    login(auth_client, READ_TOKEN)
    for path in ("/models/m", "/experiments", "/alerts", "/models"):
        html = auth_client.get(path).text
        html = re.sub(r'<form[^>]*action="/logout".*?</form>', "", html, flags=re.S)
        assert 'method="post"' not in html, path
        assert "promote-form" not in html and "Turn off" not in html, path
        assert "read-only" in html
    token = TOKEN_FIELD.search(auth_client.get("/login").text)
    assert token is not None
    resp = auth_client.post(
        "/models/m",
        data={
            "action": "promote",
            "version": "2",
            "stage": "production",
            "confirm": "yes",
            "csrf_token": token.group(1),
        },
    )
    assert resp.status_code == 403
    assert registry.model("m", store=seeded)["production_version"] == 1
    assert auth_client.get("/models/m?promote=2&stage=production").status_code == 403


def test_a_write_session_sees_the_controls(auth_client: TestClient) -> None:
    login(auth_client, WRITE_TOKEN)
    html = auth_client.get("/models/m").text
    assert "promote-form" in html and 'name="description"' in html


def test_cookie_api_writes_need_the_csrf_header_bearer_writes_do_not(
    auth_client: TestClient, seeded: Store
) -> None:
    login(auth_client, WRITE_TOKEN)
    body = {"name": "via-cookie"}
    refused = auth_client.post("/api/experiments", json=body)
    assert_error(refused, 403, "csrf_failed")
    wrong = auth_client.post("/api/experiments", json=body, headers={"x-csrf-token": "0" * 64})
    assert_error(wrong, 403, "csrf_failed")
    assert "via-cookie" not in [e["name"] for e in annotate.experiments(store=seeded)]
    token = csrf_of(auth_client)
    ok = auth_client.post("/api/experiments", json=body, headers={"x-csrf-token": token})
    assert ok.status_code == 200, ok.text
    bearer = auth_client.post(
        "/api/experiments",
        json={"name": "via-bearer"},
        headers={"authorization": f"Bearer {WRITE_TOKEN}"},
    )
    assert bearer.status_code == 200  # the API's own clients are unchanged
    names = [e["name"] for e in annotate.experiments(store=seeded)]
    assert "via-cookie" in names and "via-bearer" in names


def test_a_header_is_judged_alone_even_with_a_session_cookie(auth_client: TestClient) -> None:
    login(auth_client, WRITE_TOKEN)
    resp = auth_client.get("/api/runs", headers={"authorization": "Bearer wrong-token-999"})
    assert_error(resp, 401)


def test_logout_forgets_the_session(auth_client: TestClient) -> None:
    from starlette.requests import Request

    from chachaml.server.ui.security import signed_in

    def scope_with(cookie: str | None) -> Any:
        headers = [] if cookie is None else [(b"cookie", f"{SESSION_COOKIE}={cookie}".encode())]
        return Request({"type": "http", "headers": headers, "app": auth_client.app})

    assert not signed_in(scope_with(None))
    login(auth_client, WRITE_TOKEN)
    assert signed_in(scope_with(auth_client.cookies[SESSION_COOKIE]))
    assert not signed_in(scope_with("0" * 64 + ".00"))
    token = csrf_of(auth_client, "/experiments")
    out = auth_client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert SESSION_COOKIE not in auth_client.cookies
    assert auth_client.get("/models", follow_redirects=False).status_code == 303


def test_a_signed_in_page_offers_sign_out_and_carries_the_csrf_meta(
    auth_client: TestClient,
) -> None:
    meta = re.compile(r'<meta name="csrf-token" content="([0-9a-f]{64})">')
    logout = re.compile(
        r'<form method="post" action="/logout"[^>]*>\s*'
        r'<input type="hidden" name="csrf_token" value="([0-9a-f]{64})">'
    )
    assert logout.search(auth_client.get("/login").text) is None  # not signed in yet
    login(auth_client, WRITE_TOKEN)
    page = auth_client.get("/models").text
    found, form = meta.search(page), logout.search(page)
    assert found and form and found.group(1) == form.group(1)
    # the meta token is the one API writes on the session cookie need
    body = {"description": "via the meta token"}
    refused = auth_client.put("/api/models/none/description", json=body)
    assert refused.status_code == 403
    accepted = auth_client.put(
        "/api/models/none/description", json=body, headers={"X-CSRF-Token": found.group(1)}
    )
    assert accepted.status_code == 404  # past the CSRF check: the model does not exist
    out = auth_client.post("/logout", data={"csrf_token": form.group(1)}, follow_redirects=False)
    assert out.status_code == 303


def test_without_tokens_there_is_no_login(client: TestClient) -> None:
    resp = client.get("/login?next=/models", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/models"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/models/m?x=1", "/models/m?x=1"),
        ("//evil.example/x", "/runs"),
        ("/\\evil.example", "/runs"),
        ("https://evil.example/", "/runs"),
        ("models", "/runs"),
        ("/a\r\nSet-Cookie: x=1", "/runs"),
        (None, "/runs"),
    ],
)
def test_login_redirects_only_to_local_paths(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_login_next_cannot_leave_the_site(auth_client: TestClient) -> None:
    token = csrf_of(auth_client, "/login")
    resp = auth_client.post(
        "/login",
        data={"token": WRITE_TOKEN, "next": "//evil.example/", "csrf_token": token},
        follow_redirects=False,
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/runs"


# -- errors: HTML for pages, JSON for the API -------------------------------------------------
def test_unknown_pages_get_the_html_404_and_the_api_json(client: TestClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == EXPECTED_CSP
    assert "Not found" in page.text and 'href="/runs"' in page.text
    api = client.get("/api/no/such/thing")
    assert_error(api, 404, "not_found")
    missing_model = client.get("/models/%3Cb%3Enope%3C%2Fb%3E")
    assert missing_model.status_code == 404
    assert "&lt;b&gt;nope&lt;/b&gt;" in missing_model.text and "<b>nope" not in missing_model.text
    assert_error(client.get("/api/models/nope"), 404, "not_found")


def test_bad_input_on_a_page_is_an_html_error_and_on_the_api_json(client: TestClient) -> None:
    page = client.get("/pipelines?status=bogus")
    assert page.status_code == 422 and "text/html" in page.headers["content-type"]
    assert "bogus" in page.text
    assert_error(client.get("/api/pipelines?status=bogus"), 422, "invalid_input")


def test_every_ui_route_declares_one_permission_and_writes_need_write(
    client: TestClient,
) -> None:
    seen = 0
    for route in iter_routes(client.app.routes):  # type: ignore[attr-defined]
        if not isinstance(route, APIRoute) or route.path.startswith(("/api", "/mcp")):
            continue
        seen += 1
        permission = route_permission(route)
        assert permission is not None, route.path
        if "POST" in route.methods:
            # Signing in and out cannot need a session; every other form needs the write scope.
            expected = "public" if route.path in ("/login", "/logout") else "write"
            assert permission == expected, route.path
    assert seen >= 12
