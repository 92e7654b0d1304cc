"""The tool layer is cheap to import (the chat loop imports it): no MCP SDK, no web framework,
no LLM SDK; and ``import chachaml`` imports none of them either."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import chachaml as ml

SRC = str(Path(ml.__file__).resolve().parent.parent)
HEAVY = ("mcp", "mcp_types", "fastapi", "starlette", "anthropic", "openai", "click", "rich")


def _loaded_after(statement: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    listing = f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    code = f"import sys, json\n{statement}\n{listing}"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return list(json.loads(out.stdout))


def test_import_chachaml_tools_imports_no_sdk_or_framework() -> None:
    assert _loaded_after("import chachaml.tools") == []


def test_import_chachaml_imports_neither_mcp_nor_an_llm_sdk() -> None:
    assert _loaded_after("import chachaml") == []


def test_the_mcp_server_module_does_import_the_sdk() -> None:
    # The check above can fail: importing the server module loads the SDK.
    assert "mcp" in _loaded_after("import chachaml.mcp_server")
