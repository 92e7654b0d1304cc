"""XGBoost: log every boosting round's evaluation results, and the best iteration, into a run::

    import chachaml.xgboost

    with ml.run(experiment="gbm"):
        booster = xgb.train(params, dtrain, num_boost_round=200, evals=[(dvalid, "valid")],
                            early_stopping_rounds=10, callbacks=[chachaml.xgboost.callback()])

Each round's results become metrics named ``{dataset}/{metric}`` (``valid/logloss``,
``validation_0/auc`` with the sklearn API; ``xgb.cv`` adds ``{dataset}/{metric}_std``) at step
= the round number counted from 0, XGBoost's own numbering. When early stopping is used, the
end of training logs ``best_iteration`` (that numbering: the best point's step) and
``best_score``. Works with ``xgb.train``, ``xgb.cv`` and the sklearn API
(``XGBClassifier(callbacks=[chachaml.xgboost.callback()])``).

The callback logs into ``run`` if given, else the current run; outside any run it starts one
when training starts and ends it (``completed``) when training ends.
"""

from __future__ import annotations

from typing import Any

import xgboost

from chachaml import context, tracking
from chachaml.errors import InvalidInput

__all__ = ["XGBoostCallback", "callback"]


class XGBoostCallback(xgboost.callback.TrainingCallback):
    """Logs ``evals_log`` after every round and the best iteration after training."""

    def __init__(self, run: tracking.ActiveRun | None = None, experiment: str | None = None):
        if run is not None and not isinstance(run, tracking.ActiveRun):
            raise InvalidInput(
                f"run must be a run handle (ml.run() / ml.start_run()), got {type(run).__name__}"
            )
        super().__init__()
        self._given = run
        self._experiment = experiment
        self._started = False
        #: The run of the current (or last) training.
        self.run: tracking.ActiveRun | None = run

    def __deepcopy__(self, memo: dict[int, Any]) -> XGBoostCallback:
        # sklearn's clone() deep-copies estimator params (XGBModel(callbacks=...)): the copy
        # logs into the same run, which is shared, never copied.
        return type(self)(self._given, self._experiment)

    def before_training(self, model: Any) -> Any:
        self._started = False
        if self._given is not None:
            self._given.check_open()
            self.run = self._given
            return model
        current = context.current_active_run()
        if isinstance(current, tracking.ActiveRun) and not current.ended:
            self.run = current
        else:
            self.run = tracking.start_run(experiment=self._experiment, name="xgboost", nested=False)
            self._started = True
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        run = self.run
        if run is None:  # a container that skipped before_training
            self.before_training(model)
            run = self.run
            assert run is not None
        values: dict[str, float] = {}
        for dataset, metrics in evals_log.items():
            for metric, history in metrics.items():
                if not history:
                    continue
                last = history[-1]
                name = f"{dataset}/{metric}"
                if isinstance(last, tuple):  # xgb.cv: (mean, std)
                    values[name] = float(last[0])
                    values[name + "_std"] = float(last[1])
                else:
                    values[name] = float(last)
        if values:
            run.log_metrics(values, step=epoch)
        return False  # never asks to stop training

    def after_training(self, model: Any) -> Any:
        run = self.run
        if run is None:
            return model
        try:
            if isinstance(model, xgboost.Booster):
                try:
                    best = {
                        "best_iteration": float(model.best_iteration),
                        "best_score": float(model.best_score),
                    }
                except AttributeError:  # no early stopping: there is no best iteration
                    best = {}
                if best:
                    run.log_metrics(best)
        finally:
            if self._started:
                self._started = False
                run.end("completed")
        return model


def callback(
    run: tracking.ActiveRun | None = None, *, experiment: str | None = None
) -> XGBoostCallback:
    """A ``TrainingCallback`` for ``xgb.train(..., callbacks=[...])`` or
    ``XGBModel(callbacks=[...])`` (see the module docs). ``experiment`` is used only when the
    callback has to start a run itself."""
    return XGBoostCallback(run, experiment)
