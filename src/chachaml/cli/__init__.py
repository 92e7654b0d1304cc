"""The ``chachaml`` command: a thin shell over the Python API.

Each command parses its options, calls one library function and prints the result (a rich table,
or JSON with ``--json``). Errors print one line and exit with the error's exit code.
Command modules: ``runs`` (tracking and queries), ``admin`` (doctor, archive, demo); later areas
add a module and list it in ``_COMMAND_MODULES``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from chachaml.cli.common import cli

_COMMAND_MODULES = (
    "chachaml.cli.runs",
    "chachaml.cli.admin",
    "chachaml.cli.registry",
    "chachaml.cli.server",
    "chachaml.cli.migrate",
    "chachaml.cli.pipelines",
    "chachaml.cli.alerts",
    "chachaml.cli.ui",
    "chachaml.cli.chat",
    "chachaml.cli.mcp",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    try:
        return cli.main(args=argv, prog_name="chachaml", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - interactive
        click.echo("interrupted", err=True)
        sys.exit(130)


__all__ = ["cli", "main"]
