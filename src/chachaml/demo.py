"""``chachaml demo``: a realistic, numpy-only workload that shows what chachaml tracks.

It trains softmax (multinomial logistic) regression on a synthetic three-class "flowers" data set:
a majority-class baseline (``@ml.tracked``), a grid search whose candidates are child runs with a
loss curve per epoch, 5-fold cross-validation of the winner with one child run per fold, dataset
metadata, a tagged winner and a markdown note with math.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chachaml import annotate, context, query, tracking
from chachaml.errors import InvalidInput
from chachaml.store import Store

EXPERIMENT = "flowers-logreg"
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


def train(X: Any, y: Any, Xv: Any, yv: Any, lr: float, l2: float, epochs: int = EPOCHS) -> tuple[Any, Any, float]:
    """Full-batch gradient descent; logs ``train_loss`` and ``val_accuracy`` every epoch."""
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
            tracking.log_metrics({"train_loss": loss, "val_accuracy": acc}, step=epoch)
    return W, b, acc


@tracking.tracked(experiment=EXPERIMENT, name="baseline-majority")
def baseline(y_train: Any, y_test: Any) -> float:
    """Predict the most frequent training class: the number every model must beat."""
    np = _numpy()
    majority = int(np.bincount(y_train).argmax())
    acc = float(np.mean(y_test == majority))
    tracking.log_params({"model": "majority", "class": majority})
    tracking.log_metric("val_accuracy", acc)
    return acc


def run_demo(store: Store | None = None, echo: Echo = print, seed: int = 7) -> dict[str, Any]:
    """Track the whole workload into ``store`` (default: the current store); returns a summary."""
    np = _numpy()
    st = store or context.current_store()
    started = time.perf_counter()
    with context.store(st):
        annotate.create_experiment(
            EXPERIMENT,
            description="Softmax regression on a synthetic three-class flowers data set.\n\n"
            "Grid over learning rate and L2 penalty, then 5-fold CV of the winner.",
            owner=query.current_user(),
        )
        X, y, features = make_data(seed)
        split = 120
        Xtr, ytr, Xte, yte = X[:split], y[:split], X[split:], y[split:]

        base_acc = baseline(ytr, yte)
        echo(f"baseline (majority class): val_accuracy={base_acc:.3f}")

        with tracking.run(experiment=EXPERIMENT, name="grid-search", tags={"stage": "tuning"}) as grid:
            tracking.log_dataset(Xtr, role="train", name="flowers", features=features, source="synthetic:seed=7")
            tracking.log_dataset(Xte, role="validation", name="flowers", features=features, source="synthetic:seed=7")
            tracking.log_params({"epochs": EPOCHS, "grid": [list(g) for g in GRID]})
            results = []
            for lr, l2 in GRID:
                with tracking.run(name=f"lr={lr} l2={l2}") as child:
                    tracking.log_params({"model": "softmax", "lr": lr, "l2": l2, "epochs": EPOCHS})
                    _, _, acc = train(Xtr, ytr, Xte, yte, lr, l2)
                    results.append((acc, -l2, lr, l2, child.id))
                    echo(f"  candidate lr={lr:<5} l2={l2:<5} val_accuracy={acc:.3f}")
            acc, _, best_lr, best_l2, best_id = max(results)
            tracking.log_metric("best_val_accuracy", acc)
            tracking.log_params({"best_lr": best_lr, "best_l2": best_l2})

        with tracking.run(experiment=EXPERIMENT, name="cv-best", tags={"stage": "validation"}):
            tracking.log_params({"model": "softmax", "lr": best_lr, "l2": best_l2, "folds": 5})
            folds = np.array_split(np.arange(len(y)), 5)
            scores = []
            for i, test_idx in enumerate(folds):
                train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
                with tracking.run(name=f"fold-{i}", tags={"fold": i}):
                    tracking.log_param("fold", i)
                    _, _, fold_acc = train(X[train_idx], y[train_idx], X[test_idx], y[test_idx], best_lr, best_l2)
                    scores.append(fold_acc)
            tracking.log_metrics({"cv_accuracy_mean": float(np.mean(scores)), "cv_accuracy_std": float(np.std(scores))})
        echo(f"5-fold CV of lr={best_lr} l2={best_l2}: {np.mean(scores):.3f} ± {np.std(scores):.3f}")

        annotate.add_tag(best_id, "winner", True)
        annotate.set_note(
            best_id,
            "## Winner of the grid search\n\n"
            "Softmax regression $\\hat{y} = \\arg\\max_k \\mathrm{softmax}(xW + b)_k$ trained on the "
            "cross-entropy loss with an L2 penalty:\n\n"
            "$$L(W) = -\\frac{1}{n}\\sum_i \\log p_{i,y_i} + \\lambda \\lVert W \\rVert^2$$\n\n"
            f"Chosen: learning rate **{best_lr}**, $\\lambda = {best_l2}$; "
            f"validation accuracy {acc:.3f} vs. baseline {base_acc:.3f}.",
        )
    elapsed = time.perf_counter() - started
    n_runs = len(query.runs(experiment=EXPERIMENT, limit=None, store=st))
    summary = {"experiment": EXPERIMENT, "runs": n_runs, "best_run": best_id, "best_val_accuracy": acc, "seconds": elapsed}
    echo("")
    echo(f"Tracked {n_runs} runs into {st.url} in {elapsed:.1f}s (experiment {EXPERIMENT!r}).")
    echo(f"Winner: run {best_id} (lr={best_lr}, l2={best_l2}, val_accuracy={acc:.3f}), tagged winner=true.")
    echo("Look at it:")
    echo(f"  chachaml runs -e {EXPERIMENT} -m val_accuracy")
    echo(f"  chachaml best val_accuracy -e {EXPERIMENT}")
    echo(f"  chachaml run {best_id}")
    echo("  python -c \"import chachaml as ml; print(ml.best_run('val_accuracy'))\"")
    return summary
