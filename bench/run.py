"""Benchmark driver: chachaml (and with ``--peers`` MLflow and trackio) against raw sqlite3.

    make bench          # chachaml + raw sqlite3            (.venv/bin/python bench/run.py)
    make bench-peers    # + MLflow and trackio in their own venvs, same run, same data

Every workload repetition is a fresh process (``bench/workloads/<lib>.py WORKLOAD JSON``) that
prints one JSON line; repetitions of different libraries are interleaved so drift hits all alike.
Writes ``bench/results/latest.json`` (raw figures) and regenerates ``docs/benchmarks.md``; the
run-to-run spread is computed against the ``latest.json`` this run replaces.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers

ROOT = peers.ROOT
BENCH = ROOT / "bench"
WORKLOADS = BENCH / "workloads"
WORK = BENCH / ".work"
RESULTS = BENCH / "results"
DOC = ROOT / "docs" / "benchmarks.md"
TIMEOUT_S = 1800

CHACHAML, RAW = "chachaml", "raw_sqlite"
LABELS = {CHACHAML: "chachaml", RAW: "raw sqlite3", "mlflow": "MLflow", "trackio": "trackio"}

DURABILITY = {
    CHACHAML: "`end_run()` returned: the run's points are committed in WAL with "
    "`synchronous=NORMAL` (survive a process crash / `kill -9`; not a power cut).",
    RAW: "`COMMIT` returned, WAL with `synchronous=NORMAL` (same guarantee as chachaml).",
    "mlflow": "the API call returned: every `log_*` call is its own SQLAlchemy transaction "
    "(MLflow's SQLite defaults: rollback journal, `synchronous=FULL`, i.e. also power-cut safe).",
    "trackio": "`trackio.finish()` returned: it joins trackio's background sender, which writes "
    "queued logs into the project's SQLite file (WAL, `synchronous=NORMAL`).",
}


@dataclass
class Sizes:
    w2_calls: int = 10_000
    w3_keys: int = 10
    w3_steps: int = 10_000
    w4_runs: int = 1_000
    w5_runs: tuple[int, int] = (1_000, 10_000)
    w7_procs: int = 8
    w7_points: int = 20_000
    w8_points: int = 1_000_000
    w8_max_points: int = 1_000
    query_repeat: int = 7

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            w2_calls=2_000,
            w3_steps=1_000,
            w4_runs=100,
            w5_runs=(100, 1_000),
            w7_points=2_000,
            w8_points=100_000,
            query_repeat=3,
        )


@dataclass
class Lib:
    name: str
    python: str
    script: Path
    module: str
    prefix: list[str] = field(default_factory=list)
    version: str | None = None


# -- running workloads ------------------------------------------------------------------------
def run_one(lib: Lib, cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run one workload process; its last JSON line, or an error record."""
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            [*lib.prefix, lib.python, *cmd],
            check=False,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            env=env,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {TIMEOUT_S} s"}
    for line in reversed(proc.stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                out: dict[str, Any] = json.loads(line)
            except ValueError:
                continue
            out["_wall_s"] = round(time.monotonic() - t0, 3)
            return out
    tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
    return {"ok": False, "error": f"exit {proc.returncode}: {tail[-400:]}"}


def store_cache(lib: Lib, wid: str, n: int) -> Path | None:
    """Where a peer's populated query store is kept between runs (``bench/.peers/``, gitignored).

    Building 10,000 runs through MLflow's or trackio's API takes minutes (trackio's grows
    quadratically), and W5 times the queries, not the building; chachaml and raw sqlite3 always
    build afresh. The key includes the peer version and the workload code, so a change rebuilds.
    """
    if lib.name in (CHACHAML, RAW):
        return None
    import hashlib

    h = hashlib.sha256()
    for path in (WORKLOADS / "_common.py", lib.script):
        h.update(path.read_bytes())
    return (
        peers.PEERS_DIR / "store-cache" / f"{lib.name}-{lib.version}-{wid}-{n}-{h.hexdigest()[:10]}"
    )


class Runner:
    def __init__(self, libs: list[Lib], sizes: Sizes, repeat: int, env: dict[str, str]) -> None:
        self.libs = libs
        self.sizes = sizes
        self.repeat = repeat
        self.env = env
        self.results: dict[str, dict[str, dict[str, Any]]] = {lib.name: {} for lib in libs}

    def record(self, lib: Lib, wid: str, out: dict[str, Any]) -> None:
        slot = self.results[lib.name].setdefault(wid, {"reps": [], "errors": []})
        if out.get("ok"):
            slot["reps"].append(out)
        elif "skipped" in out:
            slot["skipped"] = out["skipped"]
        else:
            slot["errors"].append(out.get("error", "unknown error"))
        status = "ok" if out.get("ok") else out.get("skipped") or out.get("error")
        print(f"  {wid:<16} {LABELS[lib.name]:<12} {status}", flush=True)

    def workload(
        self, wid: str, name: str, args: Callable[[Lib, Path], dict[str, Any]], libs: list[Lib]
    ) -> None:
        """``repeat`` fresh processes per library, interleaved; each gets an empty work dir."""
        print(f"[{wid}]", flush=True)
        for rep in range(self.repeat):
            for lib in libs:
                work = WORK / lib.name / f"{wid}-{rep}"
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir(parents=True)
                a = args(lib, work)
                out = run_one(lib, [str(lib.script), name, json.dumps(a)], self.env)
                self.record(lib, wid, out)
                shutil.rmtree(work, ignore_errors=True)

    def import_time(self) -> None:
        print("[w1]", flush=True)
        for lib in self.libs:  # warm-up: byte-compile and fill the page cache, not recorded
            run_one(lib, [str(WORKLOADS / "import_time.py"), lib.module], self.env)
        for _ in range(self.repeat):
            for lib in self.libs:
                out = run_one(lib, [str(WORKLOADS / "import_time.py"), lib.module], self.env)
                self.record(lib, "w1", out)

    def stores(
        self,
        wid: str,
        populate: str,
        query: str,
        sizes: list[int],
        extra: dict[str, Any],
        libs: list[Lib],
    ) -> None:
        """Build a store once per library (growing it size by size), query it in fresh processes."""
        print(f"[{wid}]", flush=True)
        dbs = {}
        for lib in libs:
            work = WORK / lib.name / wid
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            dbs[lib.name] = str((work / f"{wid}.db").relative_to(ROOT))
        start = 0
        for n in sizes:
            for lib in libs:
                cache = store_cache(lib, wid, n)
                work = WORK / lib.name / wid
                if cache is not None and (cache / "populate.json").exists():
                    shutil.rmtree(work, ignore_errors=True)
                    shutil.copytree(cache / "store", work)
                    out = json.loads((cache / "populate.json").read_text())
                    out["cached"] = True
                else:
                    a = {"db": dbs[lib.name], "start": start, "runs": n, "points": n, **extra}
                    out = run_one(lib, [str(lib.script), populate, json.dumps(a)], self.env)
                    if cache is not None and out.get("ok"):
                        shutil.rmtree(cache, ignore_errors=True)
                        shutil.copytree(work, cache / "store")
                        (cache / "populate.json").write_text(json.dumps(out))
                self.record(lib, f"{wid}_populate_{n}", out)
            for _ in range(self.repeat):
                for lib in libs:
                    a = {"db": dbs[lib.name], "runs": n, "points": n, **extra}
                    out = run_one(lib, [str(lib.script), query, json.dumps(a)], self.env)
                    self.record(lib, f"{wid}_{n}", out)
            start = n
        for lib in libs:
            shutil.rmtree(WORK / lib.name / wid, ignore_errors=True)

    def all(self) -> None:
        s = self.sizes
        rel = lambda p: str(p.relative_to(ROOT))  # noqa: E731
        self.import_time()
        self.workload("w2", "w2", lambda lib, w: {"dir": rel(w), "n": s.w2_calls}, self.libs)
        w3 = {"keys": s.w3_keys, "steps": s.w3_steps}
        self.workload("w3", "w3", lambda lib, w: {"dir": rel(w), **w3}, self.libs)
        chacha = [lib for lib in self.libs if lib.name == CHACHAML]
        self.workload(
            "w3_log_metrics",
            "w3",
            lambda lib, w: {"dir": rel(w), **w3, "variant": "log_metrics"},
            chacha,
        )
        self.workload("w4", "w4", lambda lib, w: {"dir": rel(w), "runs": s.w4_runs}, self.libs)
        self.stores(
            "w5", "w5_populate", "w5_query", list(s.w5_runs), {"repeat": s.query_repeat}, self.libs
        )
        self.workload(
            "w7",
            "w7",
            lambda lib, w: {"dir": rel(w), "procs": s.w7_procs, "points": s.w7_points},
            self.libs,
        )
        w8_libs = [lib for lib in self.libs if lib.name in (CHACHAML, RAW)]
        self.stores(
            "w8",
            "w8_populate",
            "w8_query",
            [s.w8_points],
            {"repeat": 3, "max_points": s.w8_max_points},
            w8_libs,
        )


# -- statistics -------------------------------------------------------------------------------
def summarise(results: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Add ``stats`` (median/min/max of every numeric field over the repetitions) in place."""
    for per_lib in results.values():
        for slot in per_lib.values():
            stats: dict[str, dict[str, float]] = {}
            skips: dict[str, str] = {}
            for rep in slot["reps"]:
                for k, v in rep.items():
                    if k.endswith("_skipped"):
                        skips[k[: -len("_skipped")]] = v
            fields = {
                k
                for rep in slot["reps"]
                for k, v in rep.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            }
            for f in sorted(fields):
                vals = [rep[f] for rep in slot["reps"] if isinstance(rep.get(f), (int, float))]
                stats[f] = {
                    "median": statistics.median(vals),
                    "min": min(vals),
                    "max": max(vals),
                    "n": len(vals),
                }
            slot["stats"] = stats
            slot["field_skips"] = skips


# -- report rows and targets --------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    wid: str
    field: str
    label: str
    unit: str
    higher_better: bool = False
    worst: bool = False  # counts (errors, lost): report the worst repetition


def rows_for(sizes: Sizes) -> list[Row]:
    n3 = sizes.w3_keys * sizes.w3_steps
    small, big = sizes.w5_runs
    rows = [
        Row("w1", "import_ms", "W1 import time", "ms"),
        Row(
            "w2",
            "loop_us_per_call",
            f"W2 {sizes.w2_calls:,} single log calls: per call, loop",
            "µs",
        ),
        Row("w2", "end_ms", "W2 end of run until durable", "ms"),
        Row("w2", "durable_us_per_call", "W2 per call incl. time until durable", "µs"),
        Row("w3", "loop_us_per_call", f"W3 {n3:,} points: per call, loop", "µs"),
        Row("w3", "end_ms", "W3 end of run until durable", "ms"),
        Row("w3", "durable_s", f"W3 {n3:,} points: first call → durable", "s"),
        Row("w3", "durable_us_per_point", "W3 per point incl. durable", "µs"),
        Row("w3", "points_per_s", "W3 throughput", "points/s", higher_better=True),
        Row(
            "w3_log_metrics",
            "durable_us_per_point",
            "W3b chachaml `log_metrics(dict, step)` per point incl. durable",
            "µs",
        ),
        Row(
            "w4",
            "runs_per_s",
            f"W4 {sizes.w4_runs:,} runs x (10 params, 5 metrics, 2 tags)",
            "runs/s",
            higher_better=True,
        ),
    ]
    for n in (small, big):
        rows += [
            Row(f"w5_{n}", "list_ms", f"W5 list all {n:,} runs", "ms"),
            Row(f"w5_{n}", "best_ms", f"W5 best run by metric ({n:,} runs)", "ms"),
            Row(f"w5_{n}", "threshold_ms", f"W5 threshold filter `acc > 0.9` ({n:,} runs)", "ms"),
            Row(f"w5_{n}", "filter_expr_ms", f"W5 filter expression ({n:,} runs)", "ms"),
        ]
    rows += [
        Row("w3", "bytes_per_point", "W6 bytes on disk per metric point", "B"),
        Row(
            "w7",
            "errors",
            f"W7 {sizes.w7_procs} procs x {sizes.w7_points:,} points: errors",
            "",
            worst=True,
        ),
        Row("w7", "lost", "W7 lost points", "", worst=True),
        Row("w7", "points_per_s", "W7 aggregate throughput", "points/s", higher_better=True),
        Row(
            f"w8_{sizes.w8_points}",
            "history_ms",
            f"W8 history of a {sizes.w8_points:,}-point series → {sizes.w8_max_points:,} points",
            "ms",
        ),
    ]
    return rows


def value(
    results: dict[str, Any], lib: str, wid: str, fld: str, worst: bool = False
) -> float | None:
    st = results.get(lib, {}).get(wid, {}).get("stats", {}).get(fld)
    if st is None:
        return None
    return float(st["max"] if worst else st["median"])


@dataclass(frozen=True)
class Target:
    name: str
    unit: str
    get: Callable[[dict[str, Any]], float | None]
    minimum: float  # the bar (pass/fail)
    goal: float  # SPEC §12
    higher_better: bool = False


def targets_for(sizes: Sizes) -> list[Target]:
    big = sizes.w5_runs[1]

    def v(
        lib: str, wid: str, f: str, worst: bool = False
    ) -> Callable[[dict[str, Any]], float | None]:
        return lambda r: value(r, lib, wid, f, worst)

    def ratio_to_raw(r: dict[str, Any]) -> float | None:
        a, b = value(r, CHACHAML, "w3", "durable_s"), value(r, RAW, "w3", "durable_s")
        return None if a is None or not b else a / b

    def w7_bad(r: dict[str, Any]) -> float | None:
        e, lost = v(CHACHAML, "w7", "errors", True)(r), v(CHACHAML, "w7", "lost", True)(r)
        return None if e is None or lost is None else e + lost

    return [
        Target("`import chachaml`", "ms", v(CHACHAML, "w1", "import_ms"), 150, 100),
        Target(
            "`log_metric` per call, 100k loop incl. flush at run end",
            "µs",
            v(CHACHAML, "w3", "durable_us_per_point"),
            5,
            5,
        ),
        Target("100k points durable: time ÷ raw `executemany` time", "x", ratio_to_raw, 3, 2),
        Target(
            "1,000 runs x (10 params, 5 metrics, 2 tags)",
            "runs/s",
            v(CHACHAML, "w4", "runs_per_s"),
            300,
            500,
            higher_better=True,
        ),
        Target(f"`best_run` over {big:,} runs", "ms", v(CHACHAML, f"w5_{big}", "best_ms"), 50, 5),
        Target(f"list all {big:,} runs", "ms", v(CHACHAML, f"w5_{big}", "list_ms"), 40, 40),
        Target(
            f"threshold filter over {big:,} runs",
            "ms",
            v(CHACHAML, f"w5_{big}", "threshold_ms"),
            5,
            5,
        ),
        Target(
            f"filter expression over {big:,} runs",
            "ms",
            v(CHACHAML, f"w5_{big}", "filter_expr_ms"),
            50,
            50,
        ),
        Target("bytes on disk per metric point", "B", v(CHACHAML, "w3", "bytes_per_point"), 48, 48),
        Target(
            f"{sizes.w7_procs} processes x {sizes.w7_points:,} points: errors + lost",
            "",
            w7_bad,
            0,
            0,
        ),
        Target(
            f"history of a {sizes.w8_points:,}-point series, downsampled (library time; "
            "§12 means server time)",
            "ms",
            v(CHACHAML, f"w8_{sizes.w8_points}", "history_ms"),
            300,
            300,
        ),
    ]


def judge(t: Target, x: float | None) -> str:
    if x is None:
        return "not measured"
    ok_min = x >= t.minimum if t.higher_better else x <= t.minimum
    ok_goal = x >= t.goal if t.higher_better else x <= t.goal
    if ok_goal:
        return "**pass** (goal met)"
    return "**pass** (issue bar; §12 goal not met)" if ok_min else "**FAIL**"


# -- formatting ---------------------------------------------------------------------------------
def fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 10_000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def cell(results: dict[str, Any], lib: str, row: Row) -> str:
    slot = results.get(lib, {}).get(row.wid)
    if slot is None:
        return ""
    skip = slot.get("field_skips", {}).get(row.field.removesuffix("_ms"))
    st = slot.get("stats", {}).get(row.field)
    if st is None:
        if skip:
            return f"n/a: {skip}"
        if slot.get("skipped"):
            return f"n/a: {slot['skipped']}"
        if slot.get("errors"):
            return f"error: {slot['errors'][0][:80]}"
        return ""
    if row.worst:
        return fmt(st["max"])
    if st["min"] == st["max"]:
        return fmt(st["median"])
    return f"{fmt(st['median'])} ({fmt(st['min'])}-{fmt(st['max'])})"


def speedup(results: dict[str, Any], row: Row, other: str) -> str:
    """How many times better chachaml is than ``other`` on this row (>1: chachaml ahead)."""
    if row.worst:
        return ""
    a = value(results, CHACHAML, row.wid, row.field)
    b = value(results, other, row.wid, row.field)
    if a is None or b is None or a == 0 or b == 0:
        return ""
    r = a / b if row.higher_better else b / a
    return f"{r:.2f}x"


def spread_vs(
    prev: dict[str, Any] | None, results: dict[str, Any], rows: list[Row]
) -> dict[str, Any] | None:
    """Relative change of every median against the previous run's (same sizes only)."""
    if prev is None:
        return None
    out: dict[str, Any] = {
        "previous_date": prev.get("meta", {}).get("date"),
        "previous_src": prev.get("meta", {}).get("src"),
        "previous_src_stable": prev.get("meta", {}).get("src_stable", False),
        "previous_load_1min": prev.get("meta", {}).get("load_1min"),
        "rows": {},
    }
    for lib in results:
        for row in rows:
            if row.worst:
                continue
            a = value(results, lib, row.wid, row.field)
            b = value(prev.get("results", {}), lib, row.wid, row.field)
            if a is None or b is None or b == 0:
                continue
            out["rows"][f"{lib}|{row.wid}|{row.field}"] = (a - b) / b
    for lib in (CHACHAML, RAW):
        deltas = {k: abs(v) for k, v in out["rows"].items() if k.startswith(lib + "|")}
        if deltas:
            out[f"{lib}_median_abs"] = statistics.median(deltas.values())
            out[f"{lib}_max_abs"] = max(deltas.values())
            out[f"{lib}_max_row"] = max(deltas, key=lambda k: deltas[k])
    return out


def src_fingerprint() -> str:
    """A short hash of the chachaml sources, so runs of different code are not compared blindly."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted((ROOT / "src" / "chachaml").rglob("*.py")):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def machine_info(libs: list[Lib]) -> dict[str, Any]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as fh:
            mem = round(int(fh.readline().split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        commit = sha + (" (+ uncommitted changes in src/)" if dirty else "")
    except (subprocess.SubprocessError, OSError):
        commit = "?"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "commit": commit,
        "versions": {lib.name: lib.version for lib in libs},
    }


def render(data: dict[str, Any], sizes: Sizes) -> str:
    meta = data["meta"]
    results = data["results"]
    libs = list(results)
    peers_present = [p for p in ("mlflow", "trackio") if p in libs]
    rows = rows_for(sizes)
    out: list[str] = []
    w = out.append
    w("# Benchmarks")
    w("")
    w(
        "Generated by `make bench` / `make bench-peers` (`bench/run.py`); do not edit by hand. "
        "Raw figures: `bench/results/latest.json`. Targets: SPEC §12."
    )
    w("")
    w(
        f"- Date: {meta['date']} — mode: {'quick (smoke sizes)' if meta['quick'] else 'full'}, "
        f"{meta['repeat']} repetitions per workload, total {meta['wall_s']:.0f} s"
    )
    w(
        f"- Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, "
        f"{meta['machine']['memory_gib']} GiB, {meta['machine']['os']}"
    )
    w(
        f"- Python {meta['machine']['python']}, SQLite {meta['machine']['sqlite']}, "
        f"chachaml commit {meta['machine']['commit']}"
    )
    vers = ", ".join(f"{LABELS[k]} {v}" for k, v in meta["machine"]["versions"].items() if v)
    w(f"- Versions: {vers}")
    for name, why in meta.get("peer_problems", {}).items():
        w(f"- **{LABELS.get(name, name)} not measured**: {why}")
    if peers_present:
        w(
            f"- Peers ran with telemetry opt-outs ({', '.join(sorted(peers.QUIET_ENV))})"
            + (
                " inside `unshare --net` (a private network namespace with no route anywhere)."
                if meta.get("isolated")
                else "; no network isolation was available."
            )
        )
    w("")
    w("## SPEC §12 targets (chachaml)")
    w("")
    w("The issue's bar decides pass/fail; where SPEC §12 sets a stricter goal it is shown too.")
    w("")
    w("| Target | Measured | Issue bar | §12 goal | Measured ÷ bar | Verdict |")
    w("|---|---|---|---|---|---|")
    for t, x in zip(targets_for(sizes), data["targets"], strict=True):
        cmp_ = "≥" if t.higher_better else "≤"
        ratio = ""
        if x is not None and t.minimum:
            ratio = f"{x / t.minimum:.2f}"
        meas = "n/a" if x is None else f"{fmt(x)} {t.unit}".strip()
        w(
            f"| {t.name} | {meas} | {cmp_} {fmt(t.minimum)} {t.unit} "
            f"| {cmp_} {fmt(t.goal)} {t.unit} "
            f"| {ratio} | {judge(t, x)} |"
        )
    w("")
    w(
        "Not measured yet (need the server/UI issues): runs page/API over 100,000 runs; metric "
        "history *server* time (W8 measures the library call it will wrap)."
    )
    w("")
    w("## Results")
    w("")
    w(
        "Median of the repetitions with (min-max); counts show the worst repetition. "
        "Ratio columns: "
        "how many times better chachaml is (>1 = chachaml faster/smaller; vs raw sqlite3 it is "
        "normally <1, the share of the physical limit reached)."
    )
    w("")
    head = ["Workload", "Unit", *[LABELS[lib] for lib in libs], "chachaml vs raw"]
    head += [f"chachaml vs {LABELS[p]}" for p in peers_present]
    spread = data.get("spread")
    if spread:
        head.append("Δ chachaml vs previous run")
    w("| " + " | ".join(head) + " |")
    w("|" + "---|" * len(head))
    for row in rows:
        cells = [row.label, row.unit, *[cell(results, lib, row) for lib in libs]]
        cells.append(speedup(results, row, RAW))
        cells += [speedup(results, row, p) for p in peers_present]
        if spread:
            d = spread["rows"].get(f"{CHACHAML}|{row.wid}|{row.field}")
            cells.append("" if d is None else f"{d * 100:+.1f} %")
        w("| " + " | ".join(cells) + " |")
    w("")
    w("Store building for W5 (runs up to N) and W8 (points), one pass, for information:")
    w("")
    for lib in libs:
        parts = []
        for wid, slot in results[lib].items():
            fields = [f for f in slot.get("stats", {}) if f.startswith("populate_")]
            if "_populate_" in wid and fields:
                unit = "points/s" if "points" in fields[0] else "runs/s"
                size = int(wid.rsplit("_", 1)[1])
                cached = (
                    " (store reused from an earlier run)" if slot["reps"][0].get("cached") else ""
                )
                parts.append(f"{size:,}: {fmt(slot['stats'][fields[0]]['median'])} {unit}{cached}")
        if parts:
            w(f"- {LABELS[lib]}: " + ", ".join(parts))
    w("")
    w("## Reproducibility")
    w("")
    w(
        f"Load average (1 min) at start/end of this run: {meta['load_1min'][0]} / "
        f"{meta['load_1min'][1]} on {meta['machine']['cores']} cores; chachaml sources "
        f"`{meta['src']}`"
        + ("" if meta.get("src_stable") else " (**edited while the run was going**)")
        + ". Other processes skew the figures: a load well above the benchmark's own ~1 means "
        "the run shared its cores."
    )
    w("")
    if spread and "chachaml_max_abs" in spread:
        same = (
            spread.get("previous_src") == meta["src"]
            and spread.get("previous_src_stable")
            and meta.get("src_stable")
        )
        w(
            f"Previous run: {spread['previous_date']}, load {spread.get('previous_load_1min')}, "
            f"sources `{spread.get('previous_src')}` "
            + (
                "(same code as this run)."
                if same
                else "(**different code**: the spread below mixes code changes with noise)."
            )
        )
        w("")
        w(
            f"Compared with the previous run ({spread['previous_date']}), "
            "the chachaml medians moved by "
            f"{spread['chachaml_median_abs'] * 100:.1f} % (median over rows), at most "
            f"{spread['chachaml_max_abs'] * 100:.1f} % "
            f"(`{spread['chachaml_max_row'].split('|', 1)[1]}`). "
            "Within a run, the (min-max) ranges show the spread between repetitions."
        )
        if "raw_sqlite_max_abs" in spread:
            w("")
            w(
                "The raw sqlite3 baseline, whose code never changes, measures the machine's own "
                f"noise: its medians moved by {spread['raw_sqlite_median_abs'] * 100:.1f} % "
                f"(median over rows), at most {spread['raw_sqlite_max_abs'] * 100:.1f} % "
                f"(`{spread['raw_sqlite_max_row'].split('|', 1)[1]}`)."
            )
    else:
        w(
            "No previous run with the same sizes to compare with; the (min-max) ranges show the "
            "spread between repetitions of this run."
        )
    w("")
    w("## Durability: when a point counts as stored")
    w("")
    for lib in libs:
        w(f"- **{LABELS[lib]}**: {DURABILITY[lib]}")
    w("")
    w("## Workloads")
    w("")
    n3 = sizes.w3_keys * sizes.w3_steps
    small, big = sizes.w5_runs
    w(
        f"Each repetition is a fresh process with an empty store in `bench/.work/`. "
        f"Sizes: W2 {sizes.w2_calls:,} calls; W3 {sizes.w3_keys} keys x {sizes.w3_steps:,} steps; "
        f"W4 {sizes.w4_runs:,} runs; W5 {small:,} and {big:,} runs; "
        f"W7 {sizes.w7_procs} processes x "
        f"{sizes.w7_points:,} points; W8 {sizes.w8_points:,} points."
    )
    w("")
    w(
        "- **W1** `import <lib>` timed inside a fresh interpreter that has loaded only `sys` and "
        "`time` (after one unrecorded warm-up process)."
    )
    w(
        "- **W2** one key, auto step: chachaml `ml.log_metric`, MLflow `mlflow.log_metric` (step "
        "given), trackio `trackio.log({key: v})`, raw: one `execute(INSERT)` per point in one "
        "transaction. Then end of run (chachaml `end_run`, MLflow `end_run`, trackio `finish`, raw "
        "`COMMIT`)."
    )
    w(
        f"- **W3** {n3:,} points with each library's fastest API: chachaml `ml.log_metric(key, v, "
        "step)` in a loop (W3b: one `ml.log_metrics(dict, step=s)` per step), MLflow "
        "`MlflowClient.log_batch` with 1,000 `Metric`s per call, trackio one `trackio.log(dict, "
        "step=s)` per step, raw one `executemany` of prebuilt "
        "`(run_id, key, step, value, ts)` rows "
        "into an unindexed table. Timed from the first call until durable."
    )
    w(
        "- **W4** per run: chachaml `with ml.run(tags=…)` + `log_params` + `log_metrics`; MLflow "
        "`with mlflow.start_run(tags=…)` + `log_params` + `log_metrics`; "
        "trackio `init(config=params "
        "+ tags)` (trackio has no tags; no run name, which would make each `init` list the "
        "project's runs) + `log` + `finish`; raw one transaction per run."
    )
    w(
        f"- **W5** stores of {small:,} then {big:,} runs "
        "(4 params, 2 metrics `acc`/`loss`, 1 tag); "
        "about 10 % of runs have `acc > 0.9`, about 7 % match the filter expression "
        "`metrics.acc > 0.9 and (params.model = 'rf' or params.depth >= 5)`. "
        "Warm: one untimed call, "
        f"then the fastest of {sizes.query_repeat} calls in each fresh process (2 calls once a "
        "query has used 3 s; the median over processes is reported). chachaml: "
        "`ml.runs(limit=None)` (summaries + tags), `ml.best_run('acc')` (full run dict), "
        "`ml.search_runs(metric='acc', op='>', value=0.9, limit=None)`, `ml.search_runs(expr, "
        "limit=None)`; MLflow: `MlflowClient.search_runs` "
        "(full `Run` objects; no `or` in its filter "
        "language); trackio: `trackio.Api().runs(project)` (names only; nothing else exists); raw: "
        "hand-written SQL returning tuples. Every answer is checked against the expected run count."
    )
    w(
        "- **W6** after W3: (database + WAL after `PRAGMA wal_checkpoint(TRUNCATE)`) "
        "minus the same "
        "for a store holding one empty run, divided by the number of points."
    )
    w(
        "- **W7** a parent creates the store, starts the processes, "
        "releases them together once all "
        "are imported and connected, and counts the stored points afterwards. chachaml: "
        "`log_metric` loop + `end_run`; MLflow: `log_batch` of 1,000; trackio: `log` loop + "
        "`finish`; raw: transactions of 1,000 rows. Throughput = stored points ÷ wall time from "
        "release to the last process's end."
    )
    w(
        "- **W8** (chachaml and raw only) one series of "
        f"{sizes.w8_points:,} points; chachaml `ml.metric_history(run, key, "
        f"max_points={sizes.w8_max_points})`; "
        "raw: fetching all points in step order (the floor for "
        "any downsampling done in Python)."
    )
    w("")
    return "\n".join(out) + "\n"


# -- main -----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--peers", action="store_true", help="also measure MLflow and trackio")
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per workload (>= 3)")
    ap.add_argument("--out", default=None, help="directory for latest.json (default bench/results)")
    ap.add_argument("--doc", default=None, help="markdown report path (default docs/benchmarks.md)")
    opts = ap.parse_args(argv)
    sizes = Sizes.quick() if opts.quick else Sizes()
    out_dir = Path(opts.out) if opts.out else RESULTS
    doc = Path(opts.doc) if opts.doc else (DOC if opts.out is None else out_dir / "benchmarks.md")
    started = time.monotonic()
    load_start = os.getloadavg()[0]
    src_start = src_fingerprint()
    env = peers.environment()

    from importlib.metadata import version as pkg_version

    libs = [
        Lib(
            CHACHAML,
            sys.executable,
            WORKLOADS / "chachaml_wl.py",
            "chachaml",
            version=pkg_version("chachaml"),
        ),
        Lib(
            RAW,
            sys.executable,
            WORKLOADS / "raw_sqlite.py",
            "sqlite3",
            version=f"sqlite {sqlite3.sqlite_version}",
        ),
    ]
    problems: dict[str, str] = {}
    isolation: list[str] = []
    if opts.peers:
        isolation = peers.isolation_prefix()
        for peer in peers.PEERS:
            python, why = peers.ensure(peer)
            if python is None:
                problems[peer.name] = why or "unavailable"
                continue
            libs.append(
                Lib(
                    peer.name,
                    python,
                    WORKLOADS / peer.script,
                    peer.module,
                    prefix=isolation,
                    version=peers.version(python, peer.package),
                )
            )
    print("benchmarking: " + ", ".join(LABELS[lib.name] for lib in libs), flush=True)

    runner = Runner(libs, sizes, max(1, opts.repeat), env)
    runner.all()
    summarise(runner.results)
    for lib in libs:  # a peer that could not run at all is reported, never fatal
        if not any(slot["reps"] for slot in runner.results[lib.name].values()):
            problems.setdefault(lib.name, "every workload failed (see latest.json)")
    shutil.rmtree(WORK, ignore_errors=True)

    prev = None
    latest = out_dir / "latest.json"
    if latest.exists():
        try:
            prev = json.loads(latest.read_text())
        except ValueError:
            prev = None
        if prev is not None and prev.get("meta", {}).get("quick") != opts.quick:
            prev = None
    data: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "quick": opts.quick,
            "repeat": runner.repeat,
            "sizes": sizes.__dict__,
            "machine": machine_info(libs),
            "isolated": bool(isolation),
            "peer_problems": problems,
            "wall_s": time.monotonic() - started,
            "load_1min": [round(load_start, 2), round(os.getloadavg()[0], 2)],
            "src": src_start,
            "src_stable": src_fingerprint() == src_start,
        },
        "durability": {lib.name: DURABILITY[lib.name] for lib in libs},
        "results": runner.results,
    }
    data["targets"] = [t.get(runner.results) for t in targets_for(sizes)]
    data["spread"] = spread_vs(prev, runner.results, rows_for(sizes))
    out_dir.mkdir(parents=True, exist_ok=True)
    latest.write_text(json.dumps(data, indent=1, sort_keys=True, default=list) + "\n")
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(render(data, sizes))
    print(
        f"wrote {latest.relative_to(ROOT) if latest.is_relative_to(ROOT) else latest} and "
        f"{doc.relative_to(ROOT) if doc.is_relative_to(ROOT) else doc} "
        f"in {data['meta']['wall_s']:.0f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
