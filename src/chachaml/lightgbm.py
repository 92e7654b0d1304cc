"""LightGBM: log every boosting round's evaluation results into a chachaml run::

    import chachaml.lightgbm

    with ml.run(experiment="gbm"):
        booster = lgb.train(params, train_set, valid_sets=[valid_set],
                            callbacks=[chachaml.lightgbm.callback(), lgb.early_stopping(10)])
        chachaml.lightgbm.log_best(booster)

Each round's results become metrics named ``{dataset}/{metric}`` (``valid_0/binary_logloss``,
``training/auc``; ``lgb.cv`` adds ``{dataset}/{metric}_stdv``) at step = the round number
counted from 1, LightGBM's own numbering, so the best point's step is ``best_iteration``.

LightGBM calls no callback once training ends (early stopping decides after the other callbacks
of the round have run), so the best iteration is logged by :func:`log_best` from the trained
model. Works with ``lgb.train``, ``lgb.cv`` and the sklearn API
(``LGBMClassifier().fit(..., callbacks=[chachaml.lightgbm.callback()])``).

The callback logs into ``run`` if given, else the current run; outside any run, its first round
starts one as ``ml.start_run()`` would and leaves it open so the best iteration and the model can
go into it too: end it with ``ml.end_run()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chachaml import context, tracking
from chachaml.errors import InvalidInput

__all__ = ["LightGBMCallback", "callback", "log_best"]


def _metric_name(dataset: str, metric: str) -> str:
    return f"{dataset}/{metric}"


def _resolve(run: tracking.ActiveRun | None, experiment: str | None) -> tracking.ActiveRun:
    if run is not None:
        run.check_open()
        return run
    current = context.current_active_run()
    if isinstance(current, tracking.ActiveRun) and not current.ended:
        return current
    return tracking.start_run(experiment=experiment, name="lightgbm", nested=False)


class LightGBMCallback:
    """An after-iteration LightGBM callback (``order`` 25: it runs before ``early_stopping``,
    so the round on which training stops is logged too)."""

    order = 25
    before_iteration = False

    def __init__(self, run: tracking.ActiveRun | None = None, experiment: str | None = None):
        if run is not None and not isinstance(run, tracking.ActiveRun):
            raise InvalidInput(
                f"run must be a run handle (ml.run() / ml.start_run()), got {type(run).__name__}"
            )
        self._given = run
        self._experiment = experiment
        #: The run of the current (or last) training.
        self.run: tracking.ActiveRun | None = run

    def __deepcopy__(self, memo: dict[int, Any]) -> LightGBMCallback:
        # sklearn's clone() deep-copies estimator params (XGBModel(callbacks=...)): the copy
        # logs into the same run, which is shared, never copied.
        return type(self)(self._given, self._experiment)

    def __call__(self, env: Any) -> None:
        if self.run is None or env.iteration == env.begin_iteration or self.run.ended:
            self.run = _resolve(self._given, self._experiment)
        results = env.evaluation_result_list or []
        values: dict[str, float] = {}
        for item in results:
            # (dataset, metric, value, is_higher_better) from lgb.train; lgb.cv adds the stdv.
            dataset, metric, value = str(item[0]), str(item[1]), float(item[2])
            values[_metric_name(dataset, metric)] = value
            if len(item) > 4:
                values[_metric_name(dataset, metric) + "_stdv"] = float(item[4])
        if values:
            self.run.log_metrics(values, step=env.iteration + 1)


def callback(
    run: tracking.ActiveRun | None = None, *, experiment: str | None = None
) -> LightGBMCallback:
    """A callback for ``lgb.train(..., callbacks=[...])`` / ``LGBMModel.fit(callbacks=[...])``
    logging each round's evaluation results (see the module docs). ``experiment`` is used only
    when the callback has to start a run itself."""
    return LightGBMCallback(run, experiment)


def log_best(model: Any, run: tracking.ActiveRun | None = None) -> dict[str, float]:
    """Log the best iteration of a trained ``Booster`` or sklearn-API model, and its scores.

    Logs ``best_iteration`` (LightGBM's numbering from 1: the round kept by early stopping, or
    the last round without it) and ``best/{dataset}/{metric}`` for every score LightGBM recorded
    there. Returns what was logged.
    """
    if hasattr(model, "best_iteration_") and hasattr(model, "booster_"):  # a fitted LGBMModel
        booster = model.booster_
        best_iteration = int(model.best_iteration_ or 0)
        best_score: Any = model.best_score_
    elif hasattr(model, "best_iteration") and hasattr(model, "current_iteration"):  # a Booster
        booster = model
        best_iteration = int(model.best_iteration or 0)
        best_score = model.best_score
    else:
        raise InvalidInput(
            "log_best() takes a trained LightGBM Booster or a fitted LGBMModel, got "
            f"{type(model).__name__}"
        )
    if best_iteration <= 0:
        best_iteration = int(booster.current_iteration())
    values: dict[str, float] = {"best_iteration": float(best_iteration)}
    if isinstance(best_score, Mapping):
        for dataset, scores in best_score.items():
            for metric, value in scores.items():
                if isinstance(value, (int, float)):
                    values["best/" + _metric_name(str(dataset), str(metric))] = float(value)
    handle = run if run is not None else tracking.current_run()
    handle.log_metrics(values)
    return values
