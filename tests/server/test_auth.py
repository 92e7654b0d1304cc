"""Tokens: read-only and read-write scopes, every route declares a permission, and the CLI
refuses a public bind without tokens."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from server_helpers import READ_TOKEN, WRITE_TOKEN, assert_error

from chachaml.cli import cli
from chachaml.server.app import create_app
from chachaml.server.auth import PUBLIC_PATHS, iter_routes, route_permission
from chachaml.server.settings import Settings, hash_token, parse_tokens

BAD_RUN = "0" * 32


def _write_routes(app_routes: list[object]) -> list[APIRoute]:
    return [
        r
        for r in iter_routes(app_routes)
        # The API's write routes; web UI forms answer browsers with the sign-in page instead
        # (tests/ui/test_ui_security.py).
        if isinstance(r, APIRoute) and route_permission(r) == "write" and r.path.startswith("/api")
    ]


def test_every_route_declares_exactly_one_permission(tmp_path: Path) -> None:
    app = create_app(Settings(store_url=str(tmp_path / "x.db")))
    missing = []
    routes = list(iter_routes(app.routes))
    assert len(routes) > 40
    for route in routes:
        path = getattr(route, "path", "")
        if isinstance(route, APIRoute):
            if route_permission(route) is None:
                missing.append(path)
        elif path not in PUBLIC_PATHS:
            missing.append(path)
    assert missing == []
    perms = {r.path: route_permission(r) for r in routes if isinstance(r, APIRoute)}
    assert perms["/healthz"] == "public"
    # Everything that changes data needs the write scope; the one read that takes a JSON body
    # (a listing whose id list is too long for a URL) is a POST with the read scope.
    perms_read = "/api/runs/query"
    assert perms[perms_read] == "read"
    changing = {"POST", "PUT", "PATCH", "DELETE"}
    for route in routes:
        # /mcp and /api/chat: read scope to enter; each write tool then needs the write scope
        # (tests/agent_tools, tests/chat). Signing in and out cannot need a session.
        if isinstance(route, APIRoute) and route.methods & changing and route.path != perms_read:
            if route.path in ("/mcp", "/api/chat"):
                assert route_permission(route) == "read"
                continue
            if route.path in ("/login", "/logout"):
                assert route_permission(route) == "public"
                continue
            assert route_permission(route) == "write", route.path
    app.state.store.close()


def test_write_routes_refuse_missing_invalid_and_read_only_tokens(auth_client: TestClient) -> None:
    routes = _write_routes(auth_client.app.routes)  # type: ignore[attr-defined]
    assert len(routes) > 15
    for route in routes:
        path = (
            route.path.replace("{run_id}", BAD_RUN)
            .replace("{name:path}", "a")
            .replace("{name}", "m")
            .replace("{version}", "1")
            .replace("{key}", "k")
        )
        method = sorted(route.methods)[0].lower()
        kwargs = {"json": {}} if method != "delete" else {}
        assert_error(getattr(auth_client, method)(path, **kwargs), 401, "unauthorized")
        bad = {"Authorization": "Bearer not-a-real-token"}
        assert_error(getattr(auth_client, method)(path, headers=bad, **kwargs), 401)
        ro = {"Authorization": f"Bearer {READ_TOKEN}"}
        assert_error(getattr(auth_client, method)(path, headers=ro, **kwargs), 403, "forbidden")


def test_read_tokens_read_and_write_tokens_write(auth_client: TestClient) -> None:
    assert_error(auth_client.get("/api/runs"), 401)
    assert auth_client.get("/healthz").status_code == 200
    ro = {"Authorization": f"Bearer {READ_TOKEN}"}
    rw = {"Authorization": f"Bearer {WRITE_TOKEN}"}
    assert auth_client.get("/api/runs", headers=ro).status_code == 200
    created = auth_client.post("/api/runs", json={}, headers=rw)
    assert created.status_code == 201
    assert auth_client.get(f"/api/runs/{created.json()['id']}", headers=ro).status_code == 200
    listed = auth_client.post("/api/runs/query", json={"ids": [created.json()["id"]]}, headers=ro)
    assert [r["id"] for r in listed.json()["runs"]] == [created.json()["id"]]
    assert_error(auth_client.post("/api/runs/query", json={}), 401)
    assert (
        auth_client.get("/api/runs", headers={"Authorization": f"Basic {READ_TOKEN}"}).status_code
        == 401
    )


def test_tokens_are_kept_hashed() -> None:
    table = parse_tokens("supersecret1:read,sha256:" + "a" * 64 + ":write")
    assert "supersecret1" not in str(table)
    assert table[hash_token("supersecret1")] == "read"
    assert table["sha256:" + "a" * 64] == "write"


def test_server_refuses_a_public_bind_without_tokens() -> None:
    result = CliRunner().invoke(cli, ["server", "--host", "0.0.0.0", "--store", "x.db"])
    assert result.exit_code == 2
    assert "refusing" in result.output
