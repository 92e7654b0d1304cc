"""A pipeline train → evaluate → register → promote. Every step is a child run of the pipeline
run; the model is registered from the train step's run and promoted to production only when it
passes a quality gate.

    python examples/pipeline.py
"""

from __future__ import annotations

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

import chachaml as ml
from chachaml.pipeline_api import StepContext

MODEL_NAME = "breast-cancer-rf"
QUALITY_GATE = 0.9  # minimum test accuracy for production


def load(ctx: StepContext) -> tuple:
    X, y = load_breast_cancer(return_X_y=True)
    ml.log_dataset(X, role="raw", name="breast_cancer")
    return tuple(train_test_split(X, y, test_size=0.25, random_state=0, stratify=y))


def train(ctx: StepContext) -> dict:
    X_train, _, y_train, _ = ctx.prev_result
    model = RandomForestClassifier(n_estimators=100, max_depth=5, random_state=0)
    ml.log_params({"n_estimators": 100, "max_depth": 5})
    model.fit(X_train, y_train)
    ml.log_artifact("model", model)
    return {"model": model, "run_id": ctx.run.id}


def evaluate(ctx: StepContext) -> float:
    _, X_test, _, y_test = ctx.results["load"]
    model = ctx.prev_result["model"]
    accuracy = accuracy_score(y_test, model.predict(X_test))
    ml.log_metrics(
        {"accuracy": accuracy, "roc_auc": roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])}
    )
    # the run that produced the model gets the verdict too, so its registry entry shows it
    ml.add_tag(ctx.results["train"]["run_id"], "test_accuracy", f"{accuracy:.4f}")
    return accuracy


def register(ctx: StepContext) -> dict:
    version = ml.registry.register_model(
        MODEL_NAME, run_id=ctx.results["train"]["run_id"], stage="staging"
    )
    ml.log_param("registered_version", version["version"])
    return version


def promote(ctx: StepContext) -> dict:
    version = ctx.prev_result
    accuracy = ctx.results["evaluate"]
    ml.log_metric("gate", QUALITY_GATE)
    if accuracy < QUALITY_GATE:
        ml.log_tag("decision", "kept in staging")
        return version
    ml.log_tag("decision", "promoted")
    return ml.registry.promote(MODEL_NAME, version["version"], "production")


def main() -> dict:
    out = ml.run_pipeline(
        "train-and-ship",
        [
            ("load", load),
            ("train", train),
            ("evaluate", evaluate),
            ("register", register),
            ("promote", promote),
        ],
        experiment="gallery-pipeline",
        description="Trains, evaluates, registers and promotes the breast-cancer model",
    )
    print(
        f"pipeline {out['status']}: "
        + ", ".join(f"{s['name']}={s['status']}" for s in out["steps"])
    )
    model = ml.registry.load_model(MODEL_NAME)  # the production version
    X, _ = load_breast_cancer(return_X_y=True)
    print(
        f"{MODEL_NAME} v{out['result']['version']} in {out['result']['stage']}; "
        f"first prediction: {model.predict(X[:1])[0]}"
    )
    return out


if __name__ == "__main__":
    main()
