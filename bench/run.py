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

import frontdoors
import peers
from report import CHACHAML, LABELS, RAW, render, rows_for, spread_vs, targets_for

ROOT = peers.ROOT
BENCH = ROOT / "bench"
WORKLOADS = BENCH / "workloads"
WORK = BENCH / ".work"
RESULTS = BENCH / "results"
DOC = ROOT / "docs" / "benchmarks.md"
TIMEOUT_S = 1800


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
    w9_runs: int = 100_000
    w9_points: int = 1_000_000
    w9_max_points: int = 2_000
    w10_points: int = 200_000
    w11_runs: int = 10_000
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
            w9_runs=10_000,
            w9_points=100_000,
            w10_points=20_000,
            w11_runs=1_000,
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
    # Grow query stores past their first size by copying the rows its API wrote (peers only:
    # building 10,000 runs through MLflow's or trackio's API takes many minutes).
    replicate: bool = False


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


class Runner:
    def __init__(self, libs: list[Lib], sizes: Sizes, repeat: int, env: dict[str, str]) -> None:
        self.libs = libs
        self.sizes = sizes
        self.repeat = repeat
        self.env = env
        self.results: dict[str, dict[str, dict[str, Any]]] = {lib.name: {} for lib in libs}
        self.wall: dict[str, dict[str, float]] = {}  # workload group -> library -> seconds

    def run(self, lib: Lib, group: str, cmd: list[str]) -> dict[str, Any]:
        """``run_one``, adding its wall time to ``group``'s row of the run-time table."""
        t0 = time.monotonic()
        out = run_one(lib, cmd, self.env)
        slot = self.wall.setdefault(group, {})
        slot[lib.name] = slot.get(lib.name, 0.0) + time.monotonic() - t0
        return out

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
                out = self.run(lib, wid, [str(lib.script), name, json.dumps(a)])
                self.record(lib, wid, out)
                shutil.rmtree(work, ignore_errors=True)

    def import_time(self) -> None:
        print("[w1]", flush=True)
        for lib in self.libs:  # warm-up: byte-compile and fill the page cache, not recorded
            self.run(lib, "w1", [str(WORKLOADS / "import_time.py"), lib.module])
        for _ in range(self.repeat):
            for lib in self.libs:
                out = self.run(lib, "w1", [str(WORKLOADS / "import_time.py"), lib.module])
                self.record(lib, "w1", out)

    def stores(
        self,
        wid: str,
        populate: str,
        query: str,
        sizes: list[int],
        extra: dict[str, Any],
        libs: list[Lib],
        replicate: str | None = None,
    ) -> None:
        """Build a store once per library (growing it size by size), query it in fresh processes.

        Every store is built through its library's API (``populate``), except that with
        ``replicate`` a library marked ``Lib.replicate`` (the peers) gets only the first size
        through its API and grows past it by copying those runs' rows in SQL (``replicate``
        workload: same data, fresh ids; recorded as ``<wid>_replicate_<n>``, not as throughput).
        """
        print(f"[{wid}]", flush=True)
        dbs = {}
        for lib in libs:
            work = WORK / lib.name / wid
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            dbs[lib.name] = str((work / f"{wid}.db").relative_to(ROOT))
        broken: dict[str, str] = {}  # a store that failed to build is not queried
        start = 0
        for n in sizes:
            for lib in libs:
                if lib.name in broken:
                    continue
                a = {"db": dbs[lib.name], "start": start, "runs": n, "points": n, **extra}
                if replicate and lib.replicate and start:
                    a["templates"] = sizes[0]
                    out = self.run(lib, f"{wid} build", [str(lib.script), replicate, json.dumps(a)])
                    self.record(lib, f"{wid}_replicate_{n}", out)
                else:
                    out = self.run(lib, f"{wid} build", [str(lib.script), populate, json.dumps(a)])
                    self.record(lib, f"{wid}_populate_{n}", out)
                if not out.get("ok"):
                    why = out.get("error") or out.get("skipped") or "unknown error"
                    broken[lib.name] = f"store not built: {why}"
            for lib in libs:
                if lib.name in broken:
                    self.record(lib, f"{wid}_{n}", {"ok": False, "error": broken[lib.name]})
            for _ in range(self.repeat):
                for lib in libs:
                    if lib.name in broken:
                        continue
                    a = {"db": dbs[lib.name], "runs": n, "points": n, **extra}
                    out = self.run(lib, f"{wid} queries", [str(lib.script), query, json.dumps(a)])
                    self.record(lib, f"{wid}_{n}", out)
            start = n
        for lib in libs:
            shutil.rmtree(WORK / lib.name / wid, ignore_errors=True)

    def all(self) -> None:
        s = self.sizes

        def rel(p: Path) -> str:
            return str(p.relative_to(ROOT))

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
            "w5",
            "w5_populate",
            "w5_query",
            list(s.w5_runs),
            {"repeat": s.query_repeat},
            self.libs,
            replicate="w5_replicate",
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
        # The HTTP server (chachaml only): a `chachaml server` process over a big store, and
        # logging through the remote store into a fresh one.
        chacha = [lib for lib in self.libs if lib.name == CHACHAML]
        self.stores(
            "w9",
            "w9_populate",
            "w9_query",
            [s.w9_runs],
            {"repeat": s.query_repeat, "points": s.w9_points, "max_points": s.w9_max_points},
            chacha,
        )
        self.workload("w10", "w10", lambda lib, w: {"dir": rel(w), "points": s.w10_points}, chacha)
        # Alert checks: rules that fire on 1 run in 1,000 (the target), and on 1 in 100.
        for wid, breach in (("w11", 0.001), ("w11_heavy", 0.01)):
            self.workload(
                wid,
                "w11",
                lambda lib, w, b=breach: {"dir": rel(w), "runs": s.w11_runs, "breach": b},
                chacha,
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
    setup_s: dict[str, float] = {}
    if opts.peers:
        isolation = peers.isolation_prefix()
        for peer in peers.PEERS:
            t0 = time.monotonic()
            python, why = peers.ensure(peer)
            setup_s[peer.name] = time.monotonic() - t0
            print(f"[peers] {peer.name} venv ready in {setup_s[peer.name]:.1f} s", flush=True)
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
                    replicate=True,
                )
            )
    print("benchmarking: " + ", ".join(LABELS[lib.name] for lib in libs), flush=True)

    runner = Runner(libs, sizes, max(1, opts.repeat), env)
    runner.all()
    summarise(runner.results)
    front = frontdoors.run_all(quick=opts.quick)
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
            "peer_setup_s": setup_s,
            "wall_s": time.monotonic() - started,
            "wall_by_workload": runner.wall,
            "load_1min": [round(load_start, 2), round(os.getloadavg()[0], 2)],
            "src": src_start,
            "src_stable": src_fingerprint() == src_start,
        },
        "durability": {lib.name: DURABILITY[lib.name] for lib in libs},
        "results": runner.results,
        "frontdoors": front,
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
