"""Front doors and integrations: the benchmark scripts that are not peer workloads.

Each script runs standalone (see its docstring) and, given ``--json PATH``, writes
``{"lines": [{"name", "value", "unit", "target", "higher_better"}, ...]}``. ``bench/run.py``
runs them after the workloads (chachaml only: MLflow and trackio have no equivalent) and
``report.py`` renders the lines with their targets (SPEC §12, issues 13-15).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent

#: (script, arguments for a full run, arguments for ``--quick``)
SCRIPTS: tuple[tuple[str, list[str], list[str]], ...] = (
    ("mcp_roundtrip.py", [], ["--runs", "1000", "--repeat", "10"]),
    ("ui_bench.py", [], ["--quick"]),
    ("system_metrics_overhead.py", [], ["--quick"]),
)
TIMEOUT_S = 1800


def run_all(*, quick: bool) -> dict[str, Any]:
    """Run every script that exists; ``{script: {"lines": [...]} | {"error": str}}``."""
    out: dict[str, Any] = {}
    for script, full, smoke in SCRIPTS:
        path = BENCH / script
        if not path.exists():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "out.json"
            cmd = [sys.executable, str(path), *(smoke if quick else full), "--json", str(target)]
            print(f"[frontdoors] {script}", flush=True)
            started = time.monotonic()
            try:
                proc = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
                )
            except subprocess.TimeoutExpired:
                out[script] = {"error": f"timed out after {TIMEOUT_S} s"}
                continue
            # A script exits 1 when it misses a target; its figures still count.
            if not target.exists():
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
                out[script] = {"error": f"exit {proc.returncode}: " + " / ".join(tail)}
                continue
            result = json.loads(target.read_text())
            result["wall_s"] = time.monotonic() - started
            out[script] = result
    return out


def verdict(line: dict[str, Any]) -> str:
    target = line.get("target")
    if target is None:
        return ""
    ok = line["value"] >= target if line.get("higher_better") else line["value"] <= target
    return "met" if ok else "**missed**"


def render(results: dict[str, Any]) -> list[str]:
    """Markdown lines of the front-door section (empty when nothing ran)."""
    if not results:
        return []
    out = [
        "## Front doors and integrations (chachaml only)",
        "",
        "Standalone scripts run by `bench/run.py` (`bench/frontdoors.py`); each also runs alone.",
        "",
        "| Measure | Measured | Target | Verdict | Script |",
        "|---|---|---|---|---|",
    ]
    for script, result in results.items():
        if "error" in result:
            out.append(f"| {script} | not measured: {result['error']} | | | `bench/{script}` |")
            continue
        for line in result["lines"]:
            cmp_ = "≥" if line.get("higher_better") else "≤"
            target = ""
            if line.get("target") is not None:
                target = f"{cmp_} {line['target']:g} {line['unit']}"
            out.append(
                f"| {line['name']} | {line['value']:.3g} {line['unit']} | {target} "
                f"| {verdict(line)} | `bench/{script}` |"
            )
    out.append("")
    return out
