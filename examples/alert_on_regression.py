"""An alert on a metric regression: a rule fires when a run of the experiment finishes with
validation accuracy below the accepted baseline. Two retrainings: one as good as the
baseline, one trained on a tenth of the data, which the alert catches.

    python examples/alert_on_regression.py

Here the rule has no webhook, so the events are only recorded; pass ``webhook_url=`` (Slack or
any JSON endpoint) to be notified.
"""

from __future__ import annotations

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import chachaml as ml

EXPERIMENT = "gallery-alerts"
TOLERANCE = 0.02


def train(name: str, fraction: float, data: tuple) -> float:
    X_train, X_valid, y_train, y_valid = data
    n = max(10, int(len(y_train) * fraction))
    with ml.run(experiment=EXPERIMENT, name=name):
        ml.log_param("train_fraction", fraction)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=1000))
        model.fit(X_train[:n], y_train[:n])
        accuracy = accuracy_score(y_valid, model.predict(X_valid))
        ml.log_metric("val_accuracy", accuracy)
    return accuracy


def main() -> list[dict]:
    X, y = load_breast_cancer(return_X_y=True)
    data = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    baseline = train("baseline", 1.0, data)

    # From now on, a run that ends more than TOLERANCE below the baseline is a regression.
    ml.set_alert(
        "val-accuracy-regression",
        metric="val_accuracy",
        op="<",
        threshold=baseline - TOLERANCE,
        experiment=EXPERIMENT,
    )
    train("retrain-full-data", 1.0, data)
    train("retrain-tiny-sample", 0.02, data)

    result = ml.check_alerts()
    for event in result["triggered"]:
        print(
            f"ALERT {event['alert']}: run {event['run_name']} ended with "
            f"val_accuracy {event['value']:.3f} < {event['threshold']:.3f}"
        )
    return result["triggered"]


if __name__ == "__main__":
    main()
