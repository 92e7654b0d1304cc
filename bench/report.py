"""The benchmark report: rows, SPEC §12 targets, statistics formatting, and the markdown of
``docs/benchmarks.md`` (``render``). Imported by ``run.py``; no measuring happens here."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import frontdoors
import peers

if TYPE_CHECKING:
    from run import Sizes

CHACHAML, RAW = "chachaml", "raw_sqlite"
LABELS = {CHACHAML: "chachaml", RAW: "raw sqlite3", "mlflow": "MLflow", "trackio": "trackio"}

WALL_LABELS = {
    "w1": "W1 import (incl. one warm-up each)",
    "w2": "W2",
    "w3": "W3 (and W6)",
    "w3_log_metrics": "W3b",
    "w4": "W4",
    "w5 build": "W5 store building",
    "w5 queries": "W5 queries",
    "w7": "W7",
    "w8 build": "W8 store building",
    "w8 queries": "W8 queries",
    "w9 build": "W9 store building",
    "w9 queries": "W9 server queries",
    "w10": "W10 remote logging",
    "w11": "W11 alert checks",
    "w11_heavy": "W11 alert checks (1 in 100)",
}


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
        Row(
            f"w9_{sizes.w9_runs}",
            "runs_page_ms",
            f"W9 HTTP runs page: 100 of {sizes.w9_runs:,} runs + total count",
            "ms",
        ),
        Row(
            f"w9_{sizes.w9_runs}",
            "runs_filtered_ms",
            f"W9 HTTP runs page filtered `metrics.acc > 0.9` + count ({sizes.w9_runs:,} runs)",
            "ms",
        ),
        Row(
            f"w9_{sizes.w9_runs}",
            "history_ms",
            f"W9 HTTP history of a {sizes.w9_points:,}-point series → "
            f"{sizes.w9_max_points:,} points",
            "ms",
        ),
        Row(
            "w10",
            "points_per_s",
            f"W10 remote store: {sizes.w10_points:,} `log_metric` calls through the server",
            "points/s",
            higher_better=True,
        ),
        Row(
            "w11",
            "first_check_ms",
            f"W11 `check_alerts`: 100 rules over {sizes.w11_runs:,} newly finished runs "
            "(thresholds fire on 1 run in 1,000)",
            "ms",
        ),
        Row(
            "w11",
            "repeat_check_ms",
            "W11 `check_alerts` again at once (no new runs; all within the overlap window)",
            "ms",
        ),
        Row(
            "w11_heavy",
            "first_check_ms",
            f"W11 `check_alerts`: 100 rules over {sizes.w11_runs:,} runs (thresholds fire on "
            "1 run in 100)",
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
            f"history of a {sizes.w8_points:,}-point series, downsampled (library call)",
            "ms",
            v(CHACHAML, f"w8_{sizes.w8_points}", "history_ms"),
            300,
            300,
        ),
        Target(
            f"runs page/API over {sizes.w9_runs:,} runs (server time, loopback round trip)",
            "ms",
            v(CHACHAML, f"w9_{sizes.w9_runs}", "runs_page_ms"),
            300,
            300,
        ),
        Target(
            f"history of a {sizes.w9_points:,}-point series → {sizes.w9_max_points:,} points "
            "(server time, loopback round trip)",
            "ms",
            v(CHACHAML, f"w9_{sizes.w9_runs}", "history_ms"),
            300,
            300,
        ),
        Target(
            f"`check_alerts`, 100 alerts over {sizes.w11_runs:,} finished runs",
            "ms",
            v(CHACHAML, "w11", "first_check_ms"),
            100,
            100,
        ),
        Target(
            "remote batched logging through the server (issue bar; no §12 line)",
            "points/s",
            v(CHACHAML, "w10", "points_per_s"),
            20_000,
            20_000,
            higher_better=True,
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
    out.extend(frontdoors.render(data.get("frontdoors", {})))
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
    w(
        "Store building for W5 (runs up to N) and W8 (points), one pass, for information. "
        "MLflow and trackio build only the first W5 store through their API; the rest of the "
        "larger store is copied in SQL from those runs (see W5 below), so no API throughput "
        "exists for it:"
    )
    w("")
    for lib in libs:
        parts = []
        for wid, slot in results[lib].items():
            st = slot.get("stats", {})
            size = int(wid.rsplit("_", 1)[1]) if wid.rsplit("_", 1)[-1].isdigit() else 0
            fields = [f for f in st if f.startswith("populate_")]
            if "_populate_" in wid and fields:
                unit = "points/s" if "points" in fields[0] else "runs/s"
                via = " (API)" if lib not in (CHACHAML, RAW) else ""
                parts.append(f"{size:,}: {fmt(st[fields[0]]['median'])} {unit}{via}")
            elif "_replicate_" in wid and "replicate_s" in st:
                first = size - int(st["replicated_runs"]["median"])
                parts.append(
                    f"{size:,}: runs {first:,}-{size - 1:,} copied in SQL from runs "
                    f"0-{int(st['templates']['median']) - 1:,} in "
                    f"{fmt(st['replicate_s']['median'])} s"
                )
            elif ("_populate_" in wid or "_replicate_" in wid) and not slot["reps"]:
                why = slot["errors"][0] if slot.get("errors") else slot.get("skipped", "?")
                parts.append(f"{size:,}: not built: {why[:200]}")
        if parts:
            w(f"- {LABELS[lib]}: " + ", ".join(parts))
    w("")
    wall = meta.get("wall_by_workload")
    if wall:
        w("## Run time by workload")
        w("")
        w(
            "Wall time in seconds of every process a workload started (all repetitions, "
            "warm-ups and store building included), per library:"
        )
        w("")
        head = ["Workload", *[LABELS[lib] for lib in libs], "All"]
        w("| " + " | ".join(head) + " |")
        w("|" + "---|" * len(head))
        groups = [g for g in WALL_LABELS if g in wall] + [g for g in wall if g not in WALL_LABELS]
        totals = dict.fromkeys(libs, 0.0)
        for g in groups:
            per = wall[g]
            for lib in libs:
                totals[lib] += per.get(lib, 0.0)
            cells = [f"{per[lib]:.0f}" if lib in per else "" for lib in libs]
            w(f"| {WALL_LABELS.get(g, g)} | " + " | ".join(cells) + f" | {sum(per.values()):.0f} |")
        cells = [f"{totals[lib]:.0f}" for lib in libs]
        w("| **Total** | " + " | ".join(cells) + f" | {sum(totals.values()):.0f} |")
        w("")
        setup = meta.get("peer_setup_s") or {}
        other = meta["wall_s"] - sum(totals.values()) - sum(setup.values())
        note = f"Whole run {meta['wall_s']:.0f} s"
        if setup:
            note += ", of which peer venvs (created on first use, else checked) " + ", ".join(
                f"{LABELS.get(k, k)} {v:.0f} s" for k, v in setup.items()
            )
        w(f"{note}; the driver's own work took the remaining {max(other, 0.0):.0f} s.")
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
        w(f"- **{LABELS[lib]}**: {data['durability'][lib]}")
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
        f"{sizes.w7_points:,} points; W8 {sizes.w8_points:,} points; W9 {sizes.w9_runs:,} runs "
        f"and {sizes.w9_points:,} points; W10 {sizes.w10_points:,} points; W11 "
        f"{sizes.w11_runs:,} runs."
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
        f"chachaml and raw sqlite3 build all {big:,} runs through their API. MLflow and trackio "
        f"build the first {small:,} through their API (`w5_populate`: MLflow `create_run` + "
        "`log_batch` + `set_terminated`, trackio `init` + `log` + `finish`); runs "
        f"{small:,}-{big - 1:,} are then copied in one SQL transaction from the rows that API "
        f"wrote for run i mod {small:,} (`w5_replicate` in the peer's workload script: every "
        "per-run table, a fresh id and the name the peer would give, run i's params, metrics "
        "and tag from the shared generator, timestamps moved on; the templates are first "
        "checked against the generator, and an unknown table or column fails the peer's W5), "
        "because building 10,000 runs through those APIs takes 5-15 minutes and W5 times "
        "the queries. Warm: one call, untimed unless it took 2 s or more (then it is "
        "the first timed call: warming saves milliseconds), "
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
    w(
        f"- **W9** (chachaml only) a store of {sizes.w9_runs:,} runs (an `acc` metric each) plus "
        f"one run with a {sizes.w9_points:,}-point series, served by `chachaml server` in its "
        "own process; the workload process times HTTP GETs on loopback (an upper bound of "
        "server time): `/api/runs?limit=100&count=true`, the same with "
        "`filter=metrics.acc > 0.9`, and `/api/runs/{id}/metrics/history?max_points="
        f"{sizes.w9_max_points}`. Warm, fastest of {sizes.query_repeat} per process."
    )
    w(
        f"- **W10** (chachaml only) {sizes.w10_points:,} `ml.log_metric` calls with "
        '`ml.use_store("http://127.0.0.1:<port>")` into a fresh `chachaml server` process, '
        "timed from `start_run` until `end_run` returned (every batch acknowledged by the "
        "server); the stored count is checked."
    )
    w(
        f"- **W11** (chachaml only) 100 alert rules on 5 metrics (80 thresholds, 20 each of "
        "`> >= < <=`; 10 `nan`; 10 `missing`), created before "
        f"{sizes.w11_runs:,} runs finish (values uniform in [0, 1), one run in 500 with a NaN "
        "and one in 500 without a metric); timed: the first `ml.check_alerts()` (it records "
        "and returns every event) and an immediate second one. Thresholds fire on 1 run in "
        "1,000 (the target row) or, in the heavy variant, 1 in 100."
    )
    w("")
    return "\n".join(out) + "\n"
