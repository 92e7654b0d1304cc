"""Real test servers for the non-SQLite backends: PostgreSQL on loopback and an S3 server.

PostgreSQL: ``CHACHAML_TEST_PG`` or ``postgresql://postgres@127.0.0.1:5432/test`` (then user
``root``). Each test gets its own schema (named from its tmp path, so several handles opened in
one test share it), dropped at the end of the session. S3: ``moto``'s ``ThreadedMotoServer`` on a
free loopback port, one bucket per test. A private PostgreSQL cluster (its own data directory and
port) for tests that must stop or restart the server: :func:`private_pg_cluster`. Without a
server a test is skipped with the reason; with ``CI=true`` it fails instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

_CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)
_state: dict[str, Any] = {"schemas": set(), "buckets": set()}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing test server is a failure)")
    pytest.skip(reason)


# -- PostgreSQL ---------------------------------------------------------------------------------
def pg_base_url() -> str:
    """A working server URL (cached), else skip/fail."""
    if "pg" not in _state:
        _state["pg"] = None
        errors = []
        import psycopg

        env = os.environ.get("CHACHAML_TEST_PG")
        for url in (env,) if env else _CANDIDATES:
            try:
                with psycopg.connect(url, connect_timeout=3) as conn:
                    conn.execute("SELECT 1")
                _state["pg"] = url
                break
            except psycopg.Error as exc:
                errors.append(f"{url}: {exc}")
        _state["pg_error"] = "; ".join(errors)
    if _state["pg"] is None:
        unavailable(f"PostgreSQL is not reachable ({_state['pg_error']})")
    return str(_state["pg"])


def pg_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(pg_base_url(), autocommit=True) as conn:
        conn.execute(sql)


def pg_url(schema: str) -> str:
    """URL of a fresh-or-existing schema ``schema`` (dropped at the end of the session)."""
    base = pg_base_url()
    if schema not in _state["schemas"]:
        pg_execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        _state["schemas"].add(schema)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def shared_pg_store() -> Any:
    """One PostgreSQL store for the whole session (closed by :func:`cleanup`)."""
    if _state.get("shared") is None:
        import chachaml as ml

        _state["shared"] = ml.open_store(pg_url(f"shared_{os.getpid()}"))
    return _state["shared"]


def pg_delete_all(store: Any) -> None:
    """Empty every table of a PostgreSQL store (children first)."""
    with store.meta._write() as conn:
        for table in reversed(store.meta.copy_tables()):
            conn.execute(f'DELETE FROM "{table}"')
    store.meta._series.clear()


def name_for(tmp: Path, prefix: str) -> str:
    return prefix + hashlib.sha1(str(tmp).encode()).hexdigest()[:20]


def pg_url_for(tmp: Path) -> str:
    return pg_url(name_for(tmp, "t_"))


# -- A private PostgreSQL cluster ---------------------------------------------------------------
def pg_bindir() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``: the newest ``/usr/lib/postgresql/<v>/bin``
    (Debian), else wherever ``initdb`` is on the PATH; skip/fail when there is none."""
    found = []
    for candidate in Path("/usr/lib/postgresql").glob("*/bin"):
        version = candidate.parent.name
        tools = [candidate / "initdb", candidate / "pg_ctl"]
        if version.isdigit() and all(tool.exists() for tool in tools):
            found.append((int(version), candidate))
    if found:
        return max(found)[1]
    initdb = shutil.which("initdb")
    if initdb is not None and shutil.which("pg_ctl") is not None:
        return Path(initdb).resolve().parent
    unavailable("a private PostgreSQL cluster needs initdb and pg_ctl (Debian: postgresql)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateCluster:
    """A throw-away PostgreSQL cluster: its own data directory under a fresh temporary directory,
    its own free port on 127.0.0.1, trust authentication, its unix socket inside the temporary
    directory. As root the server runs as the ``postgres`` OS user (it refuses to run as root).

    Use :func:`private_pg_cluster`, which always stops and deletes it.
    """

    def __init__(self) -> None:
        self.bindir = pg_bindir()
        self._as: list[str] = []
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                unavailable("a private PostgreSQL cluster run as root needs a `postgres` OS user")
            self._as = ["runuser", "-u", "postgres", "--"]
        # Not under pytest's tmp_path: its parents are private to root.
        self.root = Path(tempfile.mkdtemp(prefix="chachaml-pg-"))
        if owner is not None:
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [*self._as, str(self.bindir / args[0]), *args[1:]]
        out = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, timeout=120, check=False
        )
        if out.returncode != 0:
            log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed: {out.stderr}{out.stdout}\n{log}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\nshared_buffers = 32MB\n"
            )

    def _pg_ctl(self, action: str, *options: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.data), "-w", "-t", "60", *options)

    def start(self) -> None:
        self._pg_ctl("start", "-l", str(self.log))

    def restart(self) -> None:
        """A fast restart (open connections are cut), as an administrator would do it."""
        self._pg_ctl("restart", "-l", str(self.log), "-m", "fast")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "fast")

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_pg_cluster() -> Iterator[PrivateCluster]:
    """A started :class:`PrivateCluster`, stopped and deleted on exit."""
    cluster = PrivateCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


# -- S3 -----------------------------------------------------------------------------------------
def s3_endpoint() -> str:
    """Start the loopback S3 server once per session; point boto3 at it via the environment."""
    if "s3" not in _state:
        _state["s3"] = None
        try:
            import logging

            from moto.server import ThreadedMotoServer

            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            _state["s3_server"] = server
            _state["s3"] = f"http://{host}:{port}"
        except Exception as exc:  # ImportError or a server that cannot bind
            _state["s3_error"] = repr(exc)
    if _state["s3"] is None:
        unavailable(f"the S3 test server cannot start ({_state['s3_error']})")
    os.environ["CHACHAML_S3_ENDPOINT_URL"] = _state["s3"]
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return str(_state["s3"])


def s3_client() -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint())


def s3_location(bucket: str, prefix: str = "artifacts") -> str:
    endpoint = s3_endpoint()
    if bucket not in _state["buckets"]:
        import boto3

        client = boto3.client("s3", endpoint_url=endpoint)
        try:
            client.create_bucket(Bucket=bucket)
        finally:
            client.close()
        _state["buckets"].add(bucket)
    return f"s3://{bucket}/{prefix}"


def s3_location_for(tmp: Path) -> str:
    return s3_location(name_for(tmp, "b-"))


def cleanup() -> None:
    """Drop the session's schemas and stop the S3 server."""
    shared = _state.pop("shared", None)
    if shared is not None:
        shared.close()
    schemas = _state.get("schemas", set())
    if schemas and _state.get("pg"):
        import psycopg

        ordered = sorted(schemas)
        with psycopg.connect(_state["pg"], autocommit=True) as conn:
            for i in range(0, len(ordered), 8):  # a few per statement: fast, within lock limits
                names = ", ".join(f'"{schema}"' for schema in ordered[i : i + 8])
                conn.execute(f"DROP SCHEMA IF EXISTS {names} CASCADE")
    schemas.clear()
    server = _state.pop("s3_server", None)
    if server is not None:
        server.stop()
        _state.pop("s3", None)
        _state["buckets"] = set()
