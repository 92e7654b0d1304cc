"""Store states the browser tests serve, each built with chachaml's public API.

Every seeder takes an open store and returns *facts*: the ids and names the tests need to build
page URLs and to check what a page shows. The states are those of the issue's acceptance text:
an empty store, the demo store, running runs, failed runs, a failed pipeline, archived runs,
unicode names, and an XSS corpus in every user-controlled field.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Callable
from typing import Any

import chachaml as ml
from chachaml import context, pipeline_api, registry, runs_api
from chachaml.demo import run_demo
from chachaml.store import Store

Facts = dict[str, Any]

#: What a payload does when it runs: sets this global (checked in the page) or logs the marker.
XSS_GLOBAL = "__xss"
XSS_MARKER = "XSS-MARKER-7f3a"

#: Payloads for every user-controlled text field. Each one, if it ever became live markup or a
#: live URL, sets ``window.__xss``, logs the marker, or opens a dialog.
XSS_PAYLOADS = [
    "<script>window.__xss=1;console.log('XSS-MARKER-7f3a')</script>",
    '"><img src=x onerror="window.__xss=1;alert(1)">',
    "'><svg onload=window.__xss=1>",
    "<svg><script>window.__xss=1</script></svg>",
    "javascript:window.__xss=1",
    '<a href="javascript:window.__xss=1">xss-link</a>',
    "</script><script>window.__xss=1</script>",
    "</textarea><img src=x onerror=window.__xss=1>",
    "{{constructor.constructor('window.__xss=1')()}}",
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
]

#: Markdown (notes, descriptions) whose links and raw HTML must not survive as live code.
XSS_MARKDOWN = "\n\n".join(
    [
        "# Note <script>window.__xss=1</script>",
        "[xss-link](javascript:window.__xss=1)",
        "[xss-link](JaVaScRiPt:window.__xss=1)",
        "[xss-link](  javascript:window.__xss=1)",
        "[xss-link](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX194c3M9MTwvc2NyaXB0Pg==)",
        "[xss-link][ref]\n\n[ref]: javascript:window.__xss=1",
        '<a href="javascript:window.__xss=1">xss-link</a>',
        '<img src=x onerror="window.__xss=1">',
        "<svg onload=window.__xss=1></svg>",
        "<details open ontoggle=window.__xss=1><summary>s</summary></details>",
        '<div style="background:url(javascript:window.__xss=1)">styled</div>',
        "$x$ <math><mtext><script>window.__xss=1</script></mtext></math>",
        "```html\n<script>window.__xss=1</script>\n```",
    ]
)

#: Artifact names the name validator accepts but an unescaped attribute would break on.
XSS_ARTIFACT_NAMES = [
    "x' onmouseover='window.__xss=1' a='.txt",
    "plots/&lt;script&gt;window.__xss=1&lt;/script&gt;.txt",
    "x' onerror='window.__xss=1.png",
    "a&#39; onfocus=&#39;window.__xss=1.txt",
]
XSS_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="window.__xss=1">'
    b"<script>window.__xss=1;console.log('XSS-MARKER-7f3a')</script>"
    b'<circle cx="5" cy="5" r="4"/></svg>'
)
XSS_HTML = b"<html><body><script>window.__xss=1;alert(1)</script>hello</body></html>"

UNICODE = {
    "experiment": "実験-🧪-تجربة",
    "run": "ラン 🚀 שלום עולם",
    "param": "学習率",
    "tag_key": "タグ",
    "tag_value": "値 ✅ مرحبا",
    "metric": "損失",
    "model": "モデル-🤖-نموذج",
    "artifact": "グラフ/損失 📈.txt",
    "note": "## ノート 📝\n\nمرحبا بالعالم — $\\alpha^2 + β$",  # noqa: RUF001
}


def _quiet(_line: str) -> None:
    """The demo's progress lines are not wanted in test output."""


def seed_empty(store: Store) -> Facts:
    return {}


def seed_demo(store: Store) -> Facts:
    summary = run_demo(store=store, echo=_quiet)
    with ml.store(store):
        grid = ml.runs(experiment="flowers-logreg", name="grid-search", limit=1)[0]
        children = ml.runs(parent_run_id=grid["id"], limit=100)
        versions = registry.model_versions(summary["model"])
    return {
        "run": summary["best_run"],
        "parent": grid["id"],
        "compare": [children[0]["id"], children[1]["id"]],
        "experiment": summary["experiment"],
        "model": summary["model"],
        "versions": [v["version"] for v in versions],
        "pipeline": summary["pipelines"]["retrain"],
        "failed_pipeline": summary["pipelines"]["nightly"],
        "metric": "train_loss",
    }


def _in_own_context(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a copy of the current context, so a run it starts never becomes the
    current run of the test that happens to set up the fixture."""
    return contextvars.copy_context().run(fn)


def start_running_run(store: Store, experiment: str, name: str, points: int) -> ml.ActiveRun:
    """A run that stays ``running`` (its writer keeps its heartbeat fresh) with ``points`` points
    of ``loss`` and a param; the caller ends it. It is not left as anyone's current run."""

    def start() -> ml.ActiveRun:
        handle = ml.start_run(experiment=experiment, name=name, nested=False, store=store)
        context.pop_explicit(handle)
        return handle

    handle: ml.ActiveRun = _in_own_context(start)
    handle.log_params({"lr": 0.01, "optimizer": "adam"})
    for step in range(points):
        handle.log_metric("loss", 1.0 / (step + 1), step=step)
    handle.log_metric("accuracy", 0.5, step=0)
    return handle


def seed_running(store: Store) -> Facts:
    parent = start_running_run(store, "live", "training-now", 50)
    child = _in_own_context(
        lambda: runs_api.create_run(
            experiment="live", name="child-still-running", parent_run_id=parent.id, store=store
        )
    )
    second = start_running_run(store, "live", "second-live", 5)
    with ml.store(store), ml.run(experiment="live", name="finished-one") as done:
        ml.log_metric("loss", 0.3)
    _flush(parent, second)
    return {
        "run": parent.id,
        "child": child["id"],
        "compare": [parent.id, done.id],
        "experiment": "live",
        "handles": [parent, second],
        "metric": "loss",
    }


def _flush(*handles: ml.ActiveRun) -> None:
    """Make the logged points durable now (a reader in another connection sees them)."""
    for handle in handles:
        handle.store.writer.flush()


def seed_failed(store: Store) -> Facts:
    ids = []
    with ml.store(store):
        for i, error in enumerate(
            ["ValueError: loss became NaN at step 12", "RuntimeError: CUDA out of memory"]
        ):
            try:
                with ml.run(experiment="broken", name=f"failing-{i}") as run:
                    ml.log_params({"lr": 10.0 ** (i + 1)})
                    ml.log_metrics({"loss": math.nan, "acc": 0.1}, step=0)
                    raise RuntimeError(error)
            except RuntimeError:
                ids.append(run.id)
        with ml.run(experiment="broken", name="ok-run") as ok:
            ml.log_metric("loss", 0.5)
        killed = ml.start_run(experiment="broken", name="killed-run", nested=False)
        ml.end_run(killed, status="killed", error="KeyboardInterrupt")
    return {
        "run": ids[0],
        "runs": ids,
        "compare": [ids[0], ok.id],
        "experiment": "broken",
        "error": "ValueError: loss became NaN at step 12",
    }


def seed_failed_pipeline(store: Store) -> Facts:
    def load(ctx: pipeline_api.StepContext) -> list[int]:
        ml.log_metric("rows", 100)
        return [1, 2, 3]

    def check(ctx: pipeline_api.StepContext) -> None:
        raise ValueError("3 rows have no label: refusing to train")

    def train(ctx: pipeline_api.StepContext) -> int:
        return 1

    with ml.store(store):
        with contextlib.suppress(ValueError):
            pipeline_api.run_pipeline(
                "nightly",
                [("load", load), ("validate", check), ("train", train)],
                description="Nightly job that **fails** in `validate`.",
                experiment="pipes",
            )
        failed = pipeline_api.pipelines(name="nightly", limit=1)[0]
        detail = pipeline_api.pipeline(failed["id"])
    failed_step = next(s for s in detail["steps"] if s["status"] == "failed")
    return {
        "pipeline": failed["id"],
        "failed_pipeline": failed["id"],
        "run": failed_step["run_id"],
        "error": "3 rows have no label: refusing to train",
        "experiment": "pipes",
    }


def seed_archived(store: Store) -> Facts:
    with ml.store(store):
        old = []
        for i in range(3):
            with ml.run(experiment="old", name=f"archived-{i}") as run:
                ml.log_metric("loss", 1.0 - i / 10)
            old.append(run.id)
        assert ml.archive_runs(older_than_days=0, experiment="old") == 3
        with ml.run(experiment="current", name="visible") as visible:
            ml.log_metric("loss", 0.2)
    return {
        "run": old[0],
        "archived": old,
        "visible": visible.id,
        "compare": [old[0], visible.id],
        "experiment": "old",
    }


def seed_unicode(store: Store) -> Facts:
    u = UNICODE
    ids = []
    with ml.store(store):
        ml.create_experiment(u["experiment"], description="説明 **太字** 🌍", owner="ユーザー")
        for i in range(2):
            with ml.run(
                experiment=u["experiment"],
                name=f"{u['run']} {i}",
                tags={u["tag_key"]: u["tag_value"]},
            ) as run:
                ml.log_params({u["param"]: 0.1 * (i + 1), "模型": "🌲森林"})
                for step in range(5):
                    ml.log_metric(u["metric"], 1.0 / (step + 1 + i), step=step)
                ml.log_artifact(u["artifact"], "内容 ✨", format="text")
                ml.log_artifact("model", {"w": [1, 2]})
            ids.append(run.id)
        ml.set_note(ids[0], u["note"])
        registry.register_model(u["model"], run_id=ids[0], description="モデル **説明** 🤖")
        registry.register_model(u["model"], run_id=ids[1], stage="staging")
        pipeline_api.run_pipeline(
            "パイプライン-🚰", [("ステップ", lambda ctx: 1)], experiment=u["experiment"]
        )
        ml.set_alert("警告-⚠️", u["metric"], ">", 0.9, experiment=u["experiment"])
        ml.check_alerts()
        pipe = pipeline_api.pipelines(limit=1)[0]
    return {
        "run": ids[0],
        "compare": ids,
        "experiment": u["experiment"],
        "model": u["model"],
        "versions": [1, 2],
        "pipeline": pipe["id"],
        "metric": u["metric"],
    }


def seed_xss(store: Store) -> Facts:
    """Every payload in every user-controlled field the validators accept."""
    ids: list[str] = []
    with ml.store(store):
        for i, payload in enumerate(XSS_PAYLOADS):
            ml.create_experiment(f"exp {payload}", description=XSS_MARKDOWN, owner=payload)
            with ml.run(
                experiment=f"exp {payload}", name=f"run {payload}", tags={f"tag {payload}": payload}
            ) as run:
                ml.log_params({f"param {payload}": payload, "nested": {"k": payload}})
                ml.log_metric(f"m{i} {payload}", float(i))
                ml.log_metric("loss", 1.0 / (i + 1))
                ml.log_tag("reviewer", payload)
                ml.log_dataset(
                    n_rows=1, n_cols=1, name=f"data {payload}", features=[payload], source=payload
                )
            ids.append(run.id)
            ml.set_note(run.id, f"{XSS_MARKDOWN}\n\n{payload}")
        with ml.run(experiment=f"exp {XSS_PAYLOADS[0]}", name="artifacts") as art:
            for name in XSS_ARTIFACT_NAMES:
                ml.log_artifact(name, XSS_PAYLOADS[0], format="text")
            ml.log_artifact("evil.svg", XSS_SVG, content_type="image/svg+xml")
            ml.log_artifact("evil.html", XSS_HTML, content_type="text/html")
            ml.log_artifact("notes.md", XSS_MARKDOWN, format="markdown")
            ml.log_table("table", {"headers": [XSS_PAYLOADS[0]], "rows": [[XSS_PAYLOADS[1]]]})
            ml.log_artifact("model", {"w": 1})
        ids.append(art.id)
        failed = []
        for payload in XSS_PAYLOADS[:3]:
            try:
                with ml.run(experiment=f"exp {payload}", name=f"fail {payload}") as bad:
                    raise ValueError(payload)
            except ValueError:
                failed.append(bad.id)
        model = f"model {XSS_PAYLOADS[1]}"
        registry.register_model(model, run_id=art.id, description=XSS_MARKDOWN)
        registry.register_model(model, run_id=art.id, stage="staging", description=XSS_PAYLOADS[0])
        registry.set_model_description(model, XSS_MARKDOWN)

        def boom(ctx: pipeline_api.StepContext) -> None:
            raise ValueError(XSS_PAYLOADS[0])

        with contextlib.suppress(ValueError):
            pipeline_api.run_pipeline(
                f"pipe {XSS_PAYLOADS[1]}",
                [(f"step {XSS_PAYLOADS[2]}", boom)],
                description=XSS_MARKDOWN,
                experiment=f"exp {XSS_PAYLOADS[0]}",
            )
        pipe = pipeline_api.pipelines(limit=1)[0]
        ml.set_alert(
            f"alert {XSS_PAYLOADS[0]}", "loss", ">", 0.0, experiment=f"exp {XSS_PAYLOADS[0]}"
        )
        ml.check_alerts()
    return {
        "run": ids[0],
        "runs": ids,
        "artifacts_run": art.id,
        "failed": failed,
        "compare": ids[:2],
        "experiment": f"exp {XSS_PAYLOADS[0]}",
        "model": model,
        "versions": [1, 2],
        "pipeline": pipe["id"],
        "metric": "loss",
    }


BIG_POINTS = 1_000_000


def big_value(step: int) -> float:
    """The value of step ``step`` of the big series (tests recompute it independently)."""
    return math.sin(step / 5000.0) + step / 1e6


def seed_big(store: Store, points: int = BIG_POINTS) -> Facts:
    """One finished run with a ``points``-point ``loss`` series (a known formula per step)."""
    run = runs_api.create_run(experiment="big", name="million-points", store=store)
    t0 = 1_700_000_000_000
    for lo in range(0, points, 100_000):
        hi = min(points, lo + 100_000)
        batch = [("loss", s, big_value(s), t0 + s) for s in range(lo, hi)]
        runs_api.log_metric_points(run["id"], batch, store=store)
    runs_api.finish_run(run["id"], store=store)
    return {"run": run["id"], "points": points, "metric": "loss", "experiment": "big"}


SEEDERS: dict[str, Callable[[Store], Facts]] = {
    "empty": seed_empty,
    "demo": seed_demo,
    "running": seed_running,
    "failed": seed_failed,
    "failed_pipeline": seed_failed_pipeline,
    "archived": seed_archived,
    "unicode": seed_unicode,
    "xss": seed_xss,
    "big": seed_big,
    "flows": seed_demo,
}
