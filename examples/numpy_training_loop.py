"""A numpy-only training loop: logistic regression by gradient descent, with a loss curve and
system metrics (CPU, memory, disk, network) sampled while it trains.

    python examples/numpy_training_loop.py

Needs numpy, scikit-learn (only for the bundled breast-cancer data) and psutil
(``pip install 'chachaml[system]'``).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_breast_cancer

import chachaml as ml

EPOCHS = 150
LEARNING_RATE = 0.5


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def main() -> str:
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)  # standardise: gradient descent likes it
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, valid = order[:400], order[400:]
    w = np.zeros(X.shape[1])
    b = 0.0

    # system_metrics_interval is short because this run is short; the default is 10 s.
    with ml.run(
        experiment="gallery-numpy",
        name="logreg-gd",
        system_metrics=True,
        system_metrics_interval=0.2,
    ) as run:
        ml.log_params({"epochs": EPOCHS, "learning_rate": LEARNING_RATE, "model": "logreg"})
        ml.log_dataset(X[train], role="train", name="breast_cancer")
        for epoch in range(EPOCHS):
            p = sigmoid(X[train] @ w + b)
            grad = p - y[train]
            w -= LEARNING_RATE * X[train].T @ grad / len(train)
            b -= LEARNING_RATE * grad.mean()
            eps = 1e-12
            loss = -np.mean(y[train] * np.log(p + eps) + (1 - y[train]) * np.log(1 - p + eps))
            p_valid = sigmoid(X[valid] @ w + b)
            accuracy = np.mean((p_valid > 0.5) == y[valid])
            ml.log_metrics({"loss": loss, "val_accuracy": accuracy}, step=epoch)
        ml.log_artifact("weights", np.append(w, b))
    final = ml.get_run(run.id)["metrics"]
    print(f"run {run.id}: loss {final['loss']:.4f}, val_accuracy {final['val_accuracy']:.3f}")
    rss = ml.metric_history(run.id, "system/process_rss_mb")
    print(f"{len(rss)} system-metric samples, peak RSS {max(p['value'] for p in rss):.0f} MB")
    return run.id


if __name__ == "__main__":
    main()
