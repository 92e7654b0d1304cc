"""``chachaml ui`` / ``chachaml server`` on a port that is taken: one clear line, no store file."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from chachaml.cli import cli


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


@pytest.mark.parametrize("command", ["ui", "server"])
def test_a_busy_port_is_refused_before_the_store_is_opened(
    command: str, busy_port: int, tmp_path: Path
) -> None:
    db = tmp_path / "new.db"
    result = CliRunner().invoke(cli, [command, "--store", str(db), "--port", str(busy_port)])
    assert result.exit_code != 0
    assert f"port {busy_port} on 127.0.0.1 is already in use" in result.output
    assert "--port N" in result.output
    assert not db.exists()
