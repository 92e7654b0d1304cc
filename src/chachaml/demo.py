"""``chachaml demo``: a realistic, numpy-only workload that shows what chachaml tracks.

It trains softmax (multinomial logistic) regression on a synthetic three-class "flowers" data set:
a majority-class baseline (``@ml.tracked``), a grid search whose candidates are child runs with a
loss curve per epoch, 5-fold cross-validation of the winner with one child run per fold, dataset
metadata, a tagged winner and a markdown note with math. Every candidate saves its model and a
PNG loss plot as artifacts, the grid search logs a confusion-matrix table, and the winner is
registered as ``flowers-softmax`` and promoted to production.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from chachaml import alert_api, annotate, context, pipeline_api, query, registry, runs_api, tracking
from chachaml import artifact_api as artifacts
from chachaml.errors import InvalidInput
from chachaml.store import Store

EXPERIMENT = "flowers-logreg"
PIPELINE_EXPERIMENT = "flowers-pipeline"
ALERT_NAME = "weak-flowers-model"
MODEL_NAME = "flowers-softmax"
CLASSES = ["setosa", "versicolor", "virginica"]
EPOCHS = 60
GRID = [(lr, l2) for lr in (0.5, 0.1, 0.02) for l2 in (0.0, 0.01)]

Echo = Callable[[str], None]


def _numpy() -> Any:
    try:
        import numpy as np
    except ImportError as exc:  # pragma: no cover - numpy is in the demo/dev extras
        raise InvalidInput("the demo needs numpy: pip install 'chachaml[demo]'") from exc
    return np


def make_data(seed: int = 7) -> tuple[Any, Any, list[str]]:
    """150 samples, 4 features, 3 classes of overlapping Gaussian blobs (standardised)."""
    np = _numpy()
    rng = np.random.default_rng(seed)
    centers = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
    spread = np.array([0.45, 0.4, 0.8, 0.45])
    X = np.vstack([c + rng.normal(size=(50, 4)) * spread for c in centers])
    y = np.repeat(np.arange(3), 50)
    order = rng.permutation(len(y))
    X, y = X[order], y[order]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, y, ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _softmax(logits: Any) -> Any:
    np = _numpy()
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def train(
    X: Any,
    y: Any,
    Xv: Any,
    yv: Any,
    lr: float,
    l2: float,
    epochs: int = EPOCHS,
    metric: str = "val_accuracy",
) -> tuple[Any, Any, float]:
    """Full-batch gradient descent; logs ``train_loss`` and the held-out accuracy (as
    ``metric``) every epoch."""
    np = _numpy()
    n, d = X.shape
    k = int(y.max()) + 1
    W = np.zeros((d, k))
    b = np.zeros(k)
    Y = np.eye(k)[y]
    acc = 0.0
    with tracking.batched_metrics():
        for epoch in range(epochs):
            P = _softmax(X @ W + b)
            loss = float(-np.mean(np.log(P[np.arange(n), y] + 1e-12)) + l2 * np.sum(W * W))
            grad = (P - Y) / n
            W -= lr * (X.T @ grad + 2 * l2 * W)
            b -= lr * grad.sum(axis=0)
            acc = float(np.mean(np.argmax(Xv @ W + b, axis=1) == yv))
            tracking.log_metrics({"train_loss": loss, metric: acc}, step=epoch)
    return W, b, acc


def png_line_plot(values: list[float], width: int = 360, height: int = 220) -> bytes:
    """A PNG line chart of ``values`` (axes plus one line), written with numpy, zlib and struct."""
    import struct
    import zlib

    np = _numpy()
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    m = 20
    img[height - m, m : width - m] = 0  # x axis
    img[m : height - m + 1, m] = 0  # y axis
    vals = np.asarray(values, dtype=float)
    vals = vals[np.isfinite(vals)]
    if len(vals) > 1:
        lo, hi = float(vals.min()), float(vals.max())
        xs = m + np.linspace(1, width - 2 * m - 1, len(vals))
        ys = (height - m - 1) - (vals - lo) / ((hi - lo) or 1.0) * (height - 2 * m - 2)
        for x0, y0, x1, y1 in zip(xs[:-1], ys[:-1], xs[1:], ys[1:], strict=True):
            steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
            for t in np.linspace(0.0, 1.0, steps + 1):
                x, y = round(x0 + (x1 - x0) * t), round(y0 + (y1 - y0) * t)
                img[max(y - 1, 0) : y + 1, max(x - 1, 0) : x + 1] = (31, 119, 180)
    raw = b"".join(b"\x00" + img[row].tobytes() for row in range(height))  # filter 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _save_candidate(run: tracking.ActiveRun, W: Any, b: Any, features: list[str]) -> None:
    """Save a candidate's weights and its loss curve (PNG) as artifacts of its run."""
    run.log_artifact("model", {"W": W, "b": b, "features": features})
    losses = [p["value"] for p in query.metric_history(run.id, "train_loss")]
    run.log_artifact("plots/loss.png", png_line_plot(losses), content_type="image/png")


def confusion_table(y_true: Any, logits: Any) -> dict[str, Any]:
    """Counts of (true class, predicted class) as a ``log_table`` table."""
    np = _numpy()
    pred = np.argmax(logits, axis=1)
    rows = [
        [CLASSES[i], *(int(np.sum((y_true == i) & (pred == j))) for j in range(len(CLASSES)))]
        for i in range(len(CLASSES))
    ]
    return {"headers": ["true \\ predicted", *CLASSES], "rows": rows}


def _register_winner(run_id: str, description: str) -> dict[str, Any]:
    """Register the winner's model (staging), then promote it: the previous one is archived."""
    version = registry.register_model(
        MODEL_NAME, run_id=run_id, stage="staging", description=description
    )
    return registry.promote(MODEL_NAME, version["version"], "production")


@tracking.tracked(experiment=EXPERIMENT, name="baseline-majority")
def baseline(y_train: Any, y_test: Any) -> float:
    """Predict the most frequent training class: the number every model must beat."""
    np = _numpy()
    majority = int(np.bincount(y_train).argmax())
    acc = float(np.mean(y_test == majority))
    tracking.log_params({"model": "majority", "class": majority})
    tracking.log_metric("val_accuracy", acc)
    return acc


def run_demo(  # noqa: PLR0915 - one linear workload script reads best top to bottom
    store: Store | None = None, echo: Echo = print, seed: int = 7, report: Echo | None = None
) -> dict[str, Any]:
    """Track the whole workload into ``store`` (default: the current store); returns a summary.

    ``echo`` receives the progress lines, ``report`` (default: ``echo``) the closing summary.
    """
    np = _numpy()
    st = store or context.current_store()
    started = time.perf_counter()
    before = query.count_runs(experiment=EXPERIMENT, include_archived=True, store=st)
    with context.store(st):
        annotate.create_experiment(
            EXPERIMENT,
            description="Softmax regression on a synthetic three-class flowers data set.\n\n"
            "Grid over learning rate and L2 penalty, then 5-fold CV of the winner.",
            owner=query.current_user(),
        )
        # Set before the runs finish: an alert watches the runs that finish after it is set.
        alert_api.set_alert(
            ALERT_NAME,
            "val_accuracy",
            "<",
            0.8,
            experiment=EXPERIMENT,
            webhook_url=os.environ.get("CHACHAML_DEMO_WEBHOOK") or None,
        )
        X, y, features = make_data(seed)
        split = 120
        Xtr, ytr, Xte, yte = X[:split], y[:split], X[split:], y[split:]

        base_acc = baseline(ytr, yte)
        echo(f"baseline (majority class): val_accuracy={base_acc:.3f}")

        with tracking.run(experiment=EXPERIMENT, name="grid-search", tags={"stage": "tuning"}):
            tracking.log_dataset(
                Xtr, role="train", name="flowers", features=features, source="synthetic:seed=7"
            )
            tracking.log_dataset(
                Xte, role="validation", name="flowers", features=features, source="synthetic:seed=7"
            )
            tracking.log_params({"epochs": EPOCHS, "grid": [list(g) for g in GRID]})
            results = []
            trained: dict[str, tuple[Any, Any]] = {}
            for lr, l2 in GRID:
                with tracking.run(name=f"lr={lr} l2={l2}") as child:
                    tracking.log_params({"model": "softmax", "lr": lr, "l2": l2, "epochs": EPOCHS})
                    W, b, acc = train(Xtr, ytr, Xte, yte, lr, l2)
                    trained[child.id] = (W, b)
                    _save_candidate(child, W, b, features)
                    results.append((lr, l2, child.id))
                    echo(f"  candidate lr={lr:<5} l2={l2:<5} val_accuracy={acc:.3f}")
            # The winner is ranked as `chachaml best val_accuracy` ranks: the highest latest
            # value, the newest of equals (cross-validation folds log `fold_accuracy`, on other
            # splits, so they never compete).
            (winner,) = query.search_runs(
                ids=[i for _, _, i in results],
                order_by=["metrics.val_accuracy desc", "start_time desc"],
                limit=1,
            )
            best_id = winner["id"]
            best_lr, best_l2 = next((lr, l2) for lr, l2, i in results if i == best_id)
            acc = query.metric_summaries([best_id])[best_id]["val_accuracy"]["last"]
            tracking.log_metric("best_val_accuracy", acc)
            tracking.log_params({"best_lr": best_lr, "best_l2": best_l2})
            W, b = trained[best_id]
            artifacts.log_table("confusion_matrix", confusion_table(yte, Xte @ W + b))

        with tracking.run(experiment=EXPERIMENT, name="cv-best", tags={"stage": "validation"}):
            tracking.log_params({"model": "softmax", "lr": best_lr, "l2": best_l2, "folds": 5})
            folds = np.array_split(np.arange(len(y)), 5)
            scores = []
            for i, test_idx in enumerate(folds):
                train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
                with tracking.run(name=f"fold-{i}", tags={"fold": i}):
                    tracking.log_param("fold", i)
                    _, _, fold_acc = train(
                        X[train_idx],
                        y[train_idx],
                        X[test_idx],
                        y[test_idx],
                        best_lr,
                        best_l2,
                        metric="fold_accuracy",
                    )
                    scores.append(fold_acc)
            tracking.log_metrics(
                {
                    "cv_accuracy_mean": float(np.mean(scores)),
                    "cv_accuracy_std": float(np.std(scores)),
                }
            )
        echo(
            f"5-fold CV of lr={best_lr} l2={best_l2}: {np.mean(scores):.3f} ± {np.std(scores):.3f}"
        )

        runs_api.add_tag(best_id, "winner", True)
        runs_api.set_note(
            best_id,
            "## Winner of the grid search\n\n"
            "Softmax regression $\\hat{y} = \\arg\\max_k \\mathrm{softmax}(xW + b)_k$ "
            "trained on the cross-entropy loss with an L2 penalty:\n\n"
            "$$L(W) = -\\frac{1}{n}\\sum_i \\log p_{i,y_i} + \\lambda \\lVert W \\rVert^2$$\n\n"
            f"Chosen: learning rate **{best_lr}**, $\\lambda = {best_l2}$; "
            f"validation accuracy {acc:.3f} vs. baseline {base_acc:.3f}.",
        )
        version = _register_winner(best_id, f"Grid-search winner (lr={best_lr}, l2={best_l2}).")
        echo(f"registered {MODEL_NAME} v{version['version']} and promoted it to production")
        pipelines = run_pipelines(best_lr, best_l2, seed, echo)
        checked = alert_api.check_alerts()
        fired = [e for e in checked["triggered"] if e["alert"] == ALERT_NAME]
        where = (
            "delivered to CHACHAML_DEMO_WEBHOOK"
            if os.environ.get("CHACHAML_DEMO_WEBHOOK")
            else "set CHACHAML_DEMO_WEBHOOK to a Slack or webhook URL to get them delivered"
        )
        echo(f"alert {ALERT_NAME} (val_accuracy < 0.8) fired on {len(fired)} runs ({where})")
    elapsed = time.perf_counter() - started
    n_runs = query.count_runs(experiment=EXPERIMENT, include_archived=True, store=st) - before
    total = query.count_runs(experiment=EXPERIMENT, store=st)
    summary = {
        "experiment": EXPERIMENT,
        "runs": n_runs,
        "runs_in_store": total,
        "store": st.url,
        "best_run": best_id,
        "best_lr": best_lr,
        "best_l2": best_l2,
        "best_val_accuracy": acc,
        "model": MODEL_NAME,
        "model_version": version["version"],
        "pipelines": pipelines,
        "alert_events": len(fired),
        "seconds": elapsed,
    }
    say = echo if report is None else report
    if report is None:
        say("")
    for line in summary_lines(summary):
        say(line)
    return summary


def run_pipelines(lr: float, l2: float, seed: int, echo: Echo) -> dict[str, Any]:
    """Two pipelines of experiment ``flowers-pipeline``: a retraining pipeline (load, features,
    train, evaluate, register as staging) and a nightly one that fails in its validation step,
    as pipelines fail in real life. Returns their ids."""
    np = _numpy()
    split = 120

    def load(ctx: pipeline_api.StepContext) -> dict[str, Any]:
        X, y, features = make_data(seed)
        tracking.log_dataset(X, role="train", name="flowers", features=features)
        return {"X": X, "y": y, "features": features}

    def standardise(ctx: pipeline_api.StepContext) -> dict[str, Any]:
        data = ctx.prev_result
        mean, std = data["X"][:split].mean(axis=0), data["X"][:split].std(axis=0)
        tracking.log_params({"scaling": "standard", "fit_on": "train split"})
        return {**data, "X": (data["X"] - mean) / std}

    def fit(ctx: pipeline_api.StepContext) -> dict[str, Any]:
        data = ctx.prev_result
        X, y = data["X"], data["y"]
        tracking.log_params({"model": "softmax", "lr": lr, "l2": l2, "epochs": EPOCHS})
        W, b, _ = train(X[:split], y[:split], X[split:], y[split:], lr, l2, metric="fit_accuracy")
        artifacts.log_artifact("model", {"W": W, "b": b, "features": data["features"]})
        return {"W": W, "b": b}

    def evaluate(ctx: pipeline_api.StepContext) -> float:
        data, model = ctx.results["features"], ctx.prev_result
        logits = data["X"][split:] @ model["W"] + model["b"]
        acc = float(np.mean(np.argmax(logits, axis=1) == data["y"][split:]))
        tracking.log_metric("test_accuracy", acc)
        if acc < 0.5:
            raise ValueError(f"test accuracy {acc:.3f} is below 0.5: not registering this model")
        return acc

    def register(ctx: pipeline_api.StepContext) -> int:
        steps = pipeline_api.pipeline(ctx.pipeline_id)["steps"]
        trained_in = next(s["run_id"] for s in steps if s["name"] == "train")
        version = registry.register_model(
            MODEL_NAME,
            run_id=trained_in,
            stage="staging",
            description=f"Retrained by the flowers-retrain pipeline (test accuracy "
            f"{ctx.prev_result:.3f}).",
        )
        return int(version["version"])

    done = pipeline_api.run_pipeline(
        "flowers-retrain",
        [
            ("load", load),
            ("features", standardise),
            ("train", fit),
            ("evaluate", evaluate),
            ("register", register),
        ],
        description="Retrain the winner's settings on standardised features and stage it.",
        experiment=PIPELINE_EXPERIMENT,
    )
    echo(f"pipeline flowers-retrain: {done['status']}, staged {MODEL_NAME} v{done['result']}")

    def validate_data(ctx: pipeline_api.StepContext) -> None:
        raise ValueError("3 rows have no petal width: refusing to train on incomplete data")

    try:
        pipeline_api.run_pipeline(
            "flowers-nightly",
            [("load", load), ("validate", validate_data), ("train", fit)],
            description="Nightly retraining; stops when the data fails validation.",
            experiment=PIPELINE_EXPERIMENT,
        )
    except ValueError as exc:
        echo(f"pipeline flowers-nightly: failed in step validate ({exc}), as it should")
    failed = pipeline_api.pipelines(name="flowers-nightly", limit=1)[0]
    return {"retrain": done["pipeline_id"], "nightly": failed["id"]}


def _command(name: str) -> str:
    """How to run the ``chachaml`` (or ``python``) that runs now, as the user can type it from
    here: the bare name when it is the one on PATH, else its path (e.g. ``.venv/bin/chachaml``
    after ``make demo``, whose virtualenv is not activated)."""
    import shutil
    import sys

    running = sys.executable if name == "python" else sys.argv[0]
    if name != "python" and os.path.basename(running) != "chachaml":
        running = os.path.join(os.path.dirname(sys.executable), "chachaml")
    on_path = shutil.which(name)
    if on_path and os.path.realpath(on_path) == os.path.realpath(running):
        return name
    relative = os.path.relpath(running)
    shown = relative if not relative.startswith("..") else running
    return shown if os.sep in shown else f".{os.sep}{shown}"


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """What the demo prints at the end: what it tracked, and commands to look at it, each
    runnable exactly as printed from the current directory."""
    cli, py = _command("chachaml"), _command("python")
    short = summary["best_run"][:8]
    default = os.path.abspath(os.environ.get("CHACHAML_STORE") or "chachaml.db")
    path = summary["store"].removeprefix("sqlite:///")
    here = "://" not in path and os.path.abspath(path) == default
    store = "" if here else f" --store {summary['store']}"
    use = "" if here else f"ml.use_store({summary['store']!r}); "
    in_store = (
        ""
        if summary["runs_in_store"] == summary["runs"]
        else f" ({summary['runs_in_store']} in the experiment now)"
    )
    return [
        f"Tracked {summary['runs']} runs into {summary['store']} in {summary['seconds']:.1f}s "
        f"(experiment {summary['experiment']!r}){in_store}.",
        f"Winner: run {short} (lr={summary['best_lr']}, l2={summary['best_l2']}, "
        f"val_accuracy={summary['best_val_accuracy']:.3f}), tagged winner=true; "
        f"{summary['model']} v{summary['model_version']} is in production.",
        "Look at it:",
        f"  {cli} runs -e {summary['experiment']} -m val_accuracy{store}",
        f"  {cli} best val_accuracy -e {summary['experiment']}{store}",
        f"  {cli} run {short}{store}",
        f"  {cli} pipelines{store}",
        f"  {cli} alerts history{store}",
        f"  {py} -c \"import chachaml as ml; {use}print(ml.best_run('val_accuracy')['name'])\"",
    ]
