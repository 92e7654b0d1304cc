"""Hostile clients against a real server: DNS rebinding (``Host``), memory under many slow uploads
and many large JSON bodies, stalled and aborted bodies, server paths in error messages, pages
that would load assets from other origins. Every attack is followed by a check that the store is
unchanged and the server still answers."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import READ_TOKEN, WRITE_TOKEN, assert_error

import chachaml as ml
from chachaml.errors import ChachamlError
from chachaml.server.app import create_app
from chachaml.server.auth import PUBLIC_PATHS, iter_routes
from chachaml.server.settings import LOOPBACK_NAMES, Settings, allowed_hosts, host_name
from chachaml.server.testing import free_port

MiB = 1024 * 1024


def _client(settings: Settings, host: str = "127.0.0.1") -> TestClient:
    return TestClient(
        create_app(settings), base_url=f"http://{host}", raise_server_exceptions=False
    )


def _runs(client: TestClient) -> list[Any]:
    resp = client.get("/api/runs", headers={"Host": "127.0.0.1"})
    assert resp.status_code == 200, resp.text
    return list(resp.json()["runs"] if isinstance(resp.json(), dict) else resp.json())


# -- DNS rebinding: the Host header -------------------------------------------------------------
@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:8080",
        "localhost",
        "LocalHost:80",
        "[::1]",
        "[::1]:8080",
        "localhost.",
    ],
)
def test_loopback_host_names_are_served(tmp_path: Path, host: str) -> None:
    with _client(Settings(store_url=str(tmp_path / "s.db"))) as c:
        assert c.post("/api/runs", json={}, headers={"Host": host}).status_code == 201


@pytest.mark.parametrize(
    "host", ["evil.com", "evil.com:8080", "127.0.0.1.evil.com", "localhost.evil.com", "", "[::2]"]
)
def test_other_host_names_are_refused_and_nothing_is_done(tmp_path: Path, host: str) -> None:
    with _client(Settings(store_url=str(tmp_path / "s.db"))) as c:
        assert_error(c.post("/api/runs", json={}, headers={"Host": host}), 400, "bad_host")
        assert_error(c.get("/api/runs", headers={"Host": host}), 400, "bad_host")
        assert_error(c.get("/healthz", headers={"Host": host}), 400, "bad_host")
        assert _runs(c) == []


def test_allowed_hosts_add_names_and_the_bind_address(tmp_path: Path) -> None:
    hosts = allowed_hosts(["Proxy.Example.org:443", " ", "::2"], bind_host="10.1.2.3")
    assert hosts == LOOPBACK_NAMES | {"proxy.example.org", "[::2]", "10.1.2.3"}
    settings = Settings(store_url=str(tmp_path / "s.db"), allowed_hosts=hosts)
    with _client(settings) as c:
        for host in ("proxy.example.org", "PROXY.example.org:8443", "10.1.2.3:8080", "[::2]:1"):
            assert c.post("/api/runs", json={}, headers={"Host": host}).status_code == 201
        assert_error(c.post("/api/runs", json={}, headers={"Host": "evil.com"}), 400, "bad_host")
        assert len(_runs(c)) == 4
    star = Settings(store_url=str(tmp_path / "t.db"), allowed_hosts=allowed_hosts("*"))
    with _client(star) as c:
        assert c.post("/api/runs", json={}, headers={"Host": "anything.example"}).status_code == 201


def test_allowed_hosts_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHACHAML_ALLOWED_HOSTS", "a.example, b.example:80")
    assert Settings.from_env().allowed_hosts == LOOPBACK_NAMES | {"a.example", "b.example"}
    monkeypatch.delenv("CHACHAML_ALLOWED_HOSTS")
    assert Settings.from_env().allowed_hosts == LOOPBACK_NAMES
    assert host_name("[::1]:80") == "[::1]" and host_name("::1") == "[::1]"


def test_the_cli_passes_allowed_hosts_and_says_what_it_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from click.testing import CliRunner

    from chachaml.cli import cli

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.setenv("CHACHAML_ALLOWED_HOSTS", "env.example")
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "server",
            "--store",
            str(tmp_path / "s.db"),
            "--allowed-host",
            "proxy.example",
            "--port",
            str(free_port()),
        ],
    )
    assert result.exit_code == 0, result.output
    hosts = seen["app"].state.settings.allowed_hosts
    assert hosts == LOOPBACK_NAMES | {"proxy.example", "env.example"}
    seen["app"].state.store.close()
    help_text = runner.invoke(cli, ["server", "--help"]).output
    assert "later the UI" not in help_text and "--allowed-host" in help_text
    assert "web UI" in " ".join(help_text.split())


def _raw_request(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


# -- a real server in a subprocess --------------------------------------------------------------
_LAUNCH = """
import json, sys, uvicorn
from chachaml.server.app import create_app
from chachaml.server.settings import Settings, parse_tokens
opts = json.loads(sys.argv[1])
port = opts.pop("port")
opts["tokens"] = parse_tokens(opts.pop("tokens", ""))
uvicorn.run(create_app(Settings(**opts)), host="127.0.0.1", port=port, log_level="warning")
"""


class Server:
    """``create_app`` under uvicorn in a child process on a free loopback port."""

    def __init__(self, tmp: Path, **opts: Any) -> None:
        self.port = free_port()
        self.store_url = str(tmp / "srv.db")
        self.blobs = tmp / "blobs"
        self.log = tmp / "server.log"
        opts = {
            "store_url": self.store_url,
            "artifacts_url": str(self.blobs),
            "tokens": f"{READ_TOKEN}:read,{WRITE_TOKEN}:write",
            "port": self.port,
            **opts,
        }
        self._log = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, json.dumps(opts)], stdout=self._log, stderr=self._log
        )
        deadline = time.monotonic() + 30
        while not self.healthy():
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)  # polling for readiness with a deadline

    def healthy(self) -> bool:
        try:
            return (
                b" 200 "
                in _raw_request(
                    self.port,
                    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                ).split(b"\r\n", 1)[0]
                + b" "
            )
        except OSError:
            return False

    def status(self, key: str) -> int:
        """``VmRSS``/``VmHWM`` (peak) of the server process, in bytes."""
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
        assert match, text
        return int(match.group(1)) * 1024

    def headers(self, method: str, path: str, token: str, **extra: str) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
        lines += [f"{k.replace('_', '-')}: {v}" for k, v in extra.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)
        self._log.close()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    started: list[Server] = []

    def make(**opts: Any) -> Server:
        server = Server(tmp_path / f"srv{len(started)}", **opts)
        started.append(server)
        return server

    for sub in ("srv0", "srv1"):
        (tmp_path / sub).mkdir()
    yield make
    for server in started:
        server.stop()


def _snapshot(store_url: str) -> Any:
    with ml.store(store_url) as st:
        runs = ml.runs(store=st)
        return [
            (r["id"], ml.get_run(r["id"], store=st), ml.list_artifacts(r["id"], store=st))
            for r in runs
        ]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_real_server_refuses_a_rebound_host(make_server: Any) -> None:
    server = make_server()
    req = server.headers("POST", "/api/runs", WRITE_TOKEN, content_type="application/json")
    req = req.replace(b"Host: 127.0.0.1", b"Host: attacker.example:8080")
    req = req.replace(b"\r\n\r\n", b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    answer = _raw_request(server.port, req)
    assert answer.startswith(b"HTTP/1.1 400 ") and b'"bad_host"' in answer
    assert _snapshot(server.store_url) == []


# -- memory under hostile bodies ----------------------------------------------------------------
RSS_LIMIT = 300 * MiB


@pytest.mark.slow
def test_many_slow_uploads_stay_on_disk_and_aborted_ones_leave_nothing(make_server: Any) -> None:
    server = make_server(body_timeout=60.0)
    with ml.store(server.store_url), ml.run() as run:
        rid = run.id
    before = _snapshot(server.store_url)
    baseline = server.status("VmRSS")
    socks: list[socket.socket] = []
    try:
        _slow_uploads(server, rid, socks, baseline)
    finally:
        for s in socks:
            s.close()
    assert server.healthy()
    assert _snapshot(server.store_url) == before


def _slow_uploads(server: Server, rid: str, socks: list[socket.socket], baseline: int) -> None:
    sent = 3 * MiB
    piece = b"x" * (64 * 1024)
    deadline = time.monotonic() + 40
    for i in range(100):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        path = f"/api/runs/{rid}/artifacts/slow{i}" if i % 2 else f"/api/store/blobs/{rid}/b{i}"
        s.sendall(server.headers("PUT", path, WRITE_TOKEN, content_length=str(8 * MiB)))
        socks.append(s)
    for s in socks:  # 3 MiB into each, then they stall with 5 MiB still to come
        for _ in range(sent // len(piece)):
            s.sendall(piece)
        assert time.monotonic() < deadline
    staging = server.blobs / ".staging"
    # On disk as they arrive (the writer's 1 MiB file buffer and one 256 KiB block excepted).
    while sum(p.stat().st_size for p in staging.glob("*")) < 100 * (sent - 2 * MiB):
        assert time.monotonic() < deadline, "the uploads did not reach the disk"
        time.sleep(0.05)  # polling with a deadline
    peak = server.status("VmHWM")
    for s in socks:  # the clients go away mid-body
        s.close()
    while _files(server.blobs):
        assert time.monotonic() < deadline, _files(server.blobs)[:5]
        time.sleep(0.05)  # polling with a deadline: staging files are removed
    while server.log.read_text().count("client disconnected") < 100:
        assert time.monotonic() < deadline, server.log.read_text()[-3000:]
        time.sleep(0.05)
    print(f"slow uploads: RSS {baseline / MiB:.0f} MiB before, peak {peak / MiB:.0f} MiB")
    assert peak < RSS_LIMIT, f"peak RSS {peak / MiB:.0f} MiB"
    log = server.log.read_text()
    assert log.count("client disconnected") == 100 and "Traceback" not in log, log[-3000:]


@pytest.mark.slow
def test_many_large_json_bodies_are_bounded_in_memory(make_server: Any) -> None:
    server = make_server(body_timeout=30.0)
    with ml.store(server.store_url), ml.run():
        pass
    before = _snapshot(server.store_url)
    baseline = server.status("VmRSS")
    ids = ",".join(['"0123456789abcdef0123456789abcdef"'] * 470_000)
    body = f'{{"ids": [{ids}]}}'.encode()
    assert 15 * MiB < len(body) <= 16 * MiB
    head = server.headers(
        "POST",
        "/api/runs/query",
        READ_TOKEN,
        content_type="application/json",
        content_length=str(len(body)),
        connection="close",
    )
    answers: list[bytes] = []

    def attack() -> None:
        try:
            answers.append(_raw_request(server.port, head + body, timeout=50))
        except OSError as exc:
            answers.append(repr(exc).encode())

    threads = [threading.Thread(target=attack) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=55)
    assert not any(t.is_alive() for t in threads)
    peak = server.status("VmHWM")
    statuses = sorted({a.split(b" ", 2)[1].decode() for a in answers if a.startswith(b"HTTP/")})
    print(
        f"JSON bodies: RSS {baseline / MiB:.0f} MiB before, peak {peak / MiB:.0f} MiB, {statuses}"
    )
    assert len(answers) == 50 and set(statuses) <= {"422", "503"}, answers[:3]
    assert peak < RSS_LIMIT, f"peak RSS {peak / MiB:.0f} MiB"
    assert server.healthy()
    assert _snapshot(server.store_url) == before


# -- stalled bodies and the in-memory body budget ------------------------------------------------
def test_a_stalled_body_is_dropped_with_408_and_nothing_is_stored(make_server: Any) -> None:
    server = make_server(body_timeout=1.0)
    with ml.store(server.store_url), ml.run() as run:
        rid = run.id
    before = _snapshot(server.store_url)
    for path, extra in (
        (f"/api/runs/{rid}/tags", {"content_type": "application/json"}),
        (f"/api/runs/{rid}/artifacts/stalled", {}),
        (f"/api/store/blobs/{rid}/stalled", {}),
    ):
        method = "POST" if path.endswith("tags") else "PUT"
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
            s.sendall(server.headers(method, path, WRITE_TOKEN, content_length="100", **extra))
            s.sendall(b'{"tags": ')  # ... and then nothing
            answer = b""
            while chunk := s.recv(65536):  # the server answers and closes the connection
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert b'"timeout"' in answer and b"connection: close" in answer.lower()
    assert _snapshot(server.store_url) == before
    assert _files(server.blobs) == []
    assert server.healthy()


def test_json_bodies_wait_for_the_budget_then_get_503() -> None:
    import anyio

    from chachaml.server.bodies import Budget

    budget = Budget(1000)

    async def scenario() -> None:
        held = await budget.acquire(900, 1.0)
        with pytest.raises(ChachamlError) as info:
            await budget.acquire(200, 0.2)
        assert info.value.http_status == 503 and budget.used == 900
        got: list[int] = []

        async def waiter() -> None:
            got.append(await budget.acquire(200, 5.0))

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()  # the waiter is queued, not admitted
            assert got == []
            budget.release(held)
        assert got == [200] and budget.used == 200
        budget.release(200)
        assert await budget.acquire(10**9, 0.1) == 1000  # a body over the budget runs alone
        budget.release(1000)
        assert budget.used == 0

    anyio.run(scenario)


# -- inputs that must be 4xx on every backend alike ---------------------------------------------
def _store(kind: str, tmp: Path) -> ml.Store:
    if kind == "sqlite":
        return ml.open_store(str(tmp / "meta.db"), artifacts=str(tmp / "blobs"))
    import backends

    return ml.open_store(backends.pg_url_for(tmp), artifacts=str(tmp / "blobs"))


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ml.Store]:
    st = _store(request.param, tmp_path)
    yield st
    st.close()


def _state(st: ml.Store) -> Any:
    runs = ml.runs(store=st)
    return (
        [ml.get_run(r["id"], store=st) for r in runs],
        [(r["id"], ml.get_datasets(r["id"], store=st)) for r in runs],
        ml.experiments(store=st),
    )


DEEP = "[" * 5000 + "]" * 5000
NESTED_120 = "[" * 120 + "]" * 120
NESTED_90 = "[" * 90 + "]" * 90


def _series(values: str, key: str = "m") -> str:
    return f'{{"series": [{{"key": "{key}", "steps": [0], "values": [{values}]}}]}}'


def _direct_cases(rid: str) -> list[Any]:
    from chachaml import runs_api

    return [
        pytest.param(lambda st: ml.set_note(rid, "a\x00b", store=st), id="note-nul"),
        pytest.param(lambda st: ml.set_note(rid, "a\ud800", store=st), id="note-surrogate"),
        pytest.param(lambda st: ml.add_tag(rid, "k", "a\x00b", store=st), id="tag-nul"),
        pytest.param(lambda st: ml.add_tag(rid, "k\ud800", "v", store=st), id="tagkey-surrogate"),
        pytest.param(lambda st: runs_api.log_params(rid, {"p": "\x00"}, store=st), id="param-nul"),
        pytest.param(
            lambda st: runs_api.log_params(rid, {"p": {"x": ["a", "\x00"]}}, store=st),
            id="param-nested-nul",
        ),
        pytest.param(
            lambda st: runs_api.log_params(rid, {"p": {"k\x00": 1}}, store=st),
            id="param-inner-key-nul",
        ),
        pytest.param(
            lambda st: runs_api.log_params(rid, {"p": "\udfff"}, store=st), id="param-surrogate"
        ),
        pytest.param(
            lambda st: runs_api.log_params(rid, {"p": json.loads("[" * 200 + "]" * 200)}, store=st),
            id="param-deep",
        ),
        pytest.param(lambda st: runs_api.rename_run(rid, "a\x00", store=st), id="name-nul"),
        pytest.param(
            lambda st: ml.create_experiment("e", description="a\x00", store=st), id="desc-nul"
        ),
        pytest.param(
            lambda st: ml.create_experiment("e\ud800", store=st), id="experiment-surrogate"
        ),
        pytest.param(
            lambda st: runs_api.end_run(rid, "failed", "boom\x00", store=st),
            id="error-nul",
        ),
        pytest.param(
            lambda st: runs_api.log_dataset(rid, {"source": "a\x00"}, store=st),
            id="dataset-nul",
        ),
    ]


RID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("call", _direct_cases(RID))
def test_unstorable_text_is_invalid_input_on_every_backend(any_store: ml.Store, call: Any) -> None:
    from chachaml import runs_api

    runs_api.create_run(run_id=RID, experiment="x", store=any_store)
    before = _state(any_store)
    with pytest.raises(ml.InvalidInput):
        call(any_store)
    assert _state(any_store) == before


def _post(c: TestClient, method: str, url: str, raw: str, **headers: str) -> Any:
    return c.request(
        method,
        url,
        content=raw.encode("utf-8", "surrogatepass"),
        headers={"Content-Type": "application/json", **headers},
    )


SERVER_CASES = [
    ("PUT", "/api/runs/{rid}/note", '{"note": "a\\u0000b"}'),
    ("PUT", "/api/runs/{rid}/note", '{"note": "a\\ud800"}'),
    ("POST", "/api/runs/{rid}/tags", '{"tags": {"k": "a\\u0000"}}'),
    ("POST", "/api/runs/{rid}/tags", '{"tags": {"k\\udc00": "v"}}'),
    ("POST", "/api/runs/{rid}/params", '{"params": {"p": {"x": ["\\u0000"]}}}'),
    ("POST", "/api/runs/{rid}/params", '{"params": {"p": "\\\\u0000 and \\u0000"}}'),
    ("POST", "/api/runs/{rid}/params", '{"params": {"p": "\\ud83d"}}'),
    ("POST", "/api/runs/{rid}/params", '{"params": {"p": ' + DEEP + "}}"),
    ("POST", "/api/runs/{rid}/params", '{"params": {"p": ' + NESTED_120 + "}}"),
    ("POST", "/api/runs", '{"env": {"x": ' + DEEP + "}}"),
    ("POST", "/api/runs", '{"env": {"x": "\\u0000"}}'),
    ("POST", "/api/runs", '{"name": "\\ud800"}'),
    ("PATCH", "/api/runs/{rid}", '{"name": "a\\u0000"}'),
    ("POST", "/api/runs/{rid}/end", '{"status": "failed", "error": "x\\u0000"}'),
    ("POST", "/api/runs/{rid}/datasets", '{"source": "a\\u0000"}'),
    ("POST", "/api/runs/{rid}/datasets", '{"features": ["a", "\\u0000"]}'),
    ("POST", "/api/experiments", '{"name": "e", "description": "\\u0000"}'),
    (
        "POST",
        "/api/runs/{rid}/metrics",
        _series("true"),
    ),
    (
        "POST",
        "/api/runs/{rid}/metrics",
        _series('"1.5"'),
    ),
    (
        "POST",
        "/api/runs/{rid}/metrics",
        _series('"nan"'),
    ),
    (
        "POST",
        "/api/runs/{rid}/metrics",
        _series("1", key="m\\u0000"),
    ),
    ("POST", "/api/runs/query", '{"filter": "\\u0000"}'),
    ("POST", "/api/runs/query", DEEP),
]


@pytest.mark.parametrize(("method", "url", "raw"), SERVER_CASES)
def test_unstorable_input_through_the_server_is_4xx_on_every_backend(
    any_store: ml.Store, method: str, url: str, raw: str
) -> None:
    from chachaml import runs_api

    with TestClient(
        create_app(Settings(), store=any_store),
        base_url="http://127.0.0.1",
        raise_server_exceptions=False,
    ) as c:
        runs_api.create_run(run_id=RID, experiment="x", store=any_store)
        before = _state(any_store)
        resp = _post(c, method, url.format(rid=RID), raw)
        assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
        assert_error(resp, resp.status_code)
        if "[[[[" in raw:
            assert "nested" in resp.json()["error"]["message"]
        assert _state(any_store) == before


def test_good_text_and_values_still_pass(any_store: ml.Store) -> None:
    with TestClient(
        create_app(Settings(), store=any_store),
        base_url="http://127.0.0.1",
        raise_server_exceptions=False,
    ) as c:
        rid = c.post("/api/runs", json={"name": "emoji 😀", "env": {"a": [[1]]}}).json()["id"]
        ok = [
            _post(c, "PUT", f"/api/runs/{rid}/note", '{"note": "line\\n\\ttab \\ud83d\\ude00"}'),
            _post(c, "POST", f"/api/runs/{rid}/params", '{"params": {"p": "\\\\u0000"}}'),
            _post(
                c,
                "POST",
                f"/api/runs/{rid}/params",
                '{"params": {"d": ' + NESTED_90 + "}}",
            ),
            c.post(
                f"/api/runs/{rid}/metrics",
                json={
                    "series": [
                        {"key": "m", "steps": [0, 1, 2, 3], "values": [1, 2.5, "NaN", "-Infinity"]}
                    ]
                },
            ),
        ]
        assert [r.status_code for r in ok] == [200, 200, 200, 200], [r.text for r in ok]
        run = ml.get_run(rid, store=any_store)
        assert run["note"] == "line\n\ttab 😀" and run["params"]["p"] == "\\u0000"
        assert run["metrics"]["m"] == float("-inf")


def test_chunked_json_over_the_cap_is_413(tmp_path: Path) -> None:
    settings = Settings(store_url=str(tmp_path / "s.db"), max_body_bytes=1024)
    with _client(settings) as c:

        def chunks() -> Iterator[bytes]:
            yield b'{"experiment": "'
            for _ in range(10):
                yield b"x" * 512
            yield b'"}'

        resp = c.post("/api/runs", content=chunks(), headers={"Content-Type": "application/json"})
        assert_error(resp, 413, "too_large")
        assert _runs(c) == []


# -- no server paths in error bodies ------------------------------------------------------------
def test_error_messages_do_not_reveal_server_paths(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db, blobs = tmp_path / "secret-dir" / "s.db", tmp_path / "secret-blobs"
    db.parent.mkdir()
    settings = Settings(store_url=str(db), artifacts_url=str(blobs))
    app = create_app(settings)
    paths = [str(db), str(blobs), str(tmp_path), os.getcwd(), sys.prefix]

    @app.get("/api/leak-known", dependencies=[])
    def leak_known() -> None:
        raise ml.StoreUnavailable(f"cannot open {db}: disk I/O error; staging in {blobs}/.staging")

    @app.get("/api/leak-unknown", dependencies=[])
    def leak_unknown() -> None:
        raise RuntimeError(f"boom in {db} from {Path(ml.__file__).resolve()}")

    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        known = c.get("/api/leak-known")
        assert known.status_code == 503 or known.status_code >= 400
        message = known.json()["error"]["message"]
        assert "<store>" in message and "<artifacts>" in message, message
        with caplog.at_level("ERROR", logger="chachaml.server"):
            unknown = c.get("/api/leak-unknown")
        assert_error(unknown, 500, "internal")
        found = re.fullmatch(
            r"internal error \(request id ([0-9a-f]{16})\)", unknown.json()["error"]["message"]
        )
        assert found, unknown.json()
        assert found.group(1) in caplog.text and "boom in" in caplog.text
        for resp in (known, unknown):
            for path in paths:
                assert path not in resp.text, (path, resp.text)


# -- no assets from other origins ---------------------------------------------------------------
def test_no_page_references_another_origin(client: TestClient) -> None:
    assert client.get("/api/docs").status_code == 404
    assert client.get("/api/redoc").status_code == 404
    assert client.get("/api/openapi.json").status_code == 200
    assert {"/api/openapi.json"} == PUBLIC_PATHS
    pages = 0
    for route in iter_routes(client.app.routes):  # type: ignore[attr-defined]
        path = getattr(route, "path", "")
        if "GET" not in getattr(route, "methods", set()) or "{" in path:
            continue
        resp = client.get(path)
        body = resp.text
        if "html" in resp.headers.get("content-type", ""):
            pages += 1
            # Scripts, styles, fonts and images all come from this server.
            for ref in re.findall(r"""(?:src|href)=["']([^"']+)["']""", body):
                assert ref.startswith(("/", "#", "?")), (path, ref)
        for url in re.findall(r"https?://[^\s\"'<>)]+", body):
            assert url.startswith("http://127.0.0.1"), (path, url)
    assert pages >= 8  # the web UI's pages without a path parameter
