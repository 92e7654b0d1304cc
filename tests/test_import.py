"""``import chachaml`` is light: no optional dependency, fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import chachaml as ml

SRC = str(Path(ml.__file__).resolve().parent.parent)
OPTIONAL = (
    "numpy",
    "pandas",
    "pyarrow",
    "click",
    "rich",
    "sklearn",
    "psycopg",
    "boto3",
    "fastapi",
    "httpx",
    "mcp",
    "anthropic",
    "openai",
    "httpx2",
    "psutil",
    "pynvml",
    "lightgbm",
    "xgboost",
    "jinja2",
    "playwright",
)


def run_python(code: str) -> str:
    # No coverage in the child: its start-up hook would be timed too.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout


def test_import_chachaml_imports_no_optional_dependency() -> None:
    code = (
        "import sys, json, chachaml\n"
        f"print(json.dumps(sorted(m for m in {OPTIONAL!r} if m in sys.modules)))"
    )
    assert json.loads(run_python(code)) == []


def test_the_public_names_are_all_exported() -> None:
    assert sorted(ml.__all__) == sorted(set(ml.__all__))
    for name in ml.__all__:
        assert hasattr(ml, name), name


def test_import_chachaml_takes_at_most_150_ms() -> None:
    code = "import time\nt = time.perf_counter()\nimport chachaml\nprint(time.perf_counter() - t)"
    best = min(float(run_python(code)) for _ in range(5))
    assert best <= 0.150, f"import chachaml took {best * 1000:.0f} ms (best of 5)"


def test_import_chachaml_leaves_the_filter_parser_for_the_first_filter() -> None:
    code = (
        "import sys, json, chachaml\n"
        "print(json.dumps([m for m in ('chachaml.filters', 'dataclasses') if m in sys.modules]))"
    )
    assert json.loads(run_python(code)) == []
