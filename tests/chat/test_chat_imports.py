"""The LLM SDKs are imported by a chat, never by ``import chachaml`` (nor the CLI or server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import chachaml as ml
from chachaml.server.testing import free_port

SRC = str(Path(ml.__file__).resolve().parent.parent)
SDKS = ("anthropic", "openai", "httpx2", "mcp")


def _loaded_after(code: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"{code}\nimport sys, json\n"
            f"print(json.dumps([m for m in {SDKS!r} if m in sys.modules]))",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(out.stdout))


def test_import_chachaml_and_chachaml_chat_load_no_llm_sdk() -> None:
    assert _loaded_after("import chachaml, chachaml.chat") == []


def test_the_cli_and_the_server_app_load_no_llm_sdk() -> None:
    assert _loaded_after("import chachaml.cli, chachaml.server.app") == []


def test_a_chat_loads_the_sdk_of_its_provider_only() -> None:
    code = (
        "import chachaml.chat as c\n"
        "try:\n"
        f"    c.ask('q', provider='openai', model='m', base_url='http://127.0.0.1:{free_port()}/v1',"
        " max_retries=0, timeout=2)\n"
        "except c.ProviderUnavailable:\n"
        "    pass"
    )
    loaded = _loaded_after(code)
    assert "openai" in loaded and "anthropic" not in loaded
