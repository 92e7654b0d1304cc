"""chachaml: local-first experiment tracking.

>>> import chachaml as ml
>>> with ml.store("sqlite:///:memory:"):
...     with ml.run(experiment="iris") as run:
...         ml.log_param("C", 1.0)
...         ml.log_metric("accuracy", 0.95)
...     ml.get_run(run.id)["metrics"]
{'accuracy': 0.95}

Everything lands in ``./chachaml.db`` and ``./chachaml-artifacts/`` unless told otherwise
(``ml.use_store(...)``, ``CHACHAML_STORE``). Queries return plain dicts and lists.
"""

from __future__ import annotations

from chachaml import registry as registry
from chachaml.alert_api import activate_alert as activate_alert
from chachaml.alert_api import alert as alert
from chachaml.alert_api import alert_history as alert_history
from chachaml.alert_api import alerts as alerts
from chachaml.alert_api import check_alerts as check_alerts
from chachaml.alert_api import deactivate_alert as deactivate_alert
from chachaml.alert_api import delete_alert as delete_alert
from chachaml.alert_api import set_alert as set_alert
from chachaml.annotate import create_experiment as create_experiment
from chachaml.annotate import experiment as experiment
from chachaml.annotate import experiments as experiments
from chachaml.artifact_api import artifact_path as artifact_path
from chachaml.artifact_api import list_artifacts as list_artifacts
from chachaml.artifact_api import load_artifact as load_artifact
from chachaml.artifact_api import log_artifact as log_artifact
from chachaml.artifact_api import log_file as log_file
from chachaml.artifact_api import log_table as log_table
from chachaml.cleanup import archive_runs as archive_runs
from chachaml.cleanup import delete_archived as delete_archived
from chachaml.comparison import compare_runs as compare_runs
from chachaml.context import bind as bind
from chachaml.context import current_store as current_store
from chachaml.context import store as store
from chachaml.context import use_store as use_store
from chachaml.errors import AlreadyExists as AlreadyExists
from chachaml.errors import ChachamlError as ChachamlError
from chachaml.errors import InUse as InUse
from chachaml.errors import InvalidFilter as InvalidFilter
from chachaml.errors import InvalidInput as InvalidInput
from chachaml.errors import NoActiveRun as NoActiveRun
from chachaml.errors import NotFound as NotFound
from chachaml.errors import ParamConflict as ParamConflict
from chachaml.errors import StoreUnavailable as StoreUnavailable
from chachaml.errors import UntrustedArtifact as UntrustedArtifact
from chachaml.export import export_runs as export_runs
from chachaml.export import runs_df as runs_df
from chachaml.pipeline_api import Step as Step
from chachaml.pipeline_api import pipeline as pipeline
from chachaml.pipeline_api import pipelines as pipelines
from chachaml.pipeline_api import run_pipeline as run_pipeline
from chachaml.query import ResultTruncated as ResultTruncated
from chachaml.query import best_run as best_run
from chachaml.query import count_runs as count_runs
from chachaml.query import current_user as current_user
from chachaml.query import get_datasets as get_datasets
from chachaml.query import get_run as get_run
from chachaml.query import get_tags as get_tags
from chachaml.query import last_run as last_run
from chachaml.query import metric_history as metric_history
from chachaml.query import my_last_run as my_last_run
from chachaml.query import my_runs as my_runs
from chachaml.query import runs as runs
from chachaml.query import search_runs as search_runs
from chachaml.runs_api import add_tag as add_tag
from chachaml.runs_api import remove_tag as remove_tag
from chachaml.runs_api import set_note as set_note
from chachaml.store import Store as Store
from chachaml.store import open_store as open_store
from chachaml.tracking import ActiveRun as ActiveRun
from chachaml.tracking import batched_metrics as batched_metrics
from chachaml.tracking import current_run as current_run
from chachaml.tracking import end_run as end_run
from chachaml.tracking import log_dataset as log_dataset
from chachaml.tracking import log_metric as log_metric
from chachaml.tracking import log_metrics as log_metrics
from chachaml.tracking import log_param as log_param
from chachaml.tracking import log_params as log_params
from chachaml.tracking import log_tag as log_tag
from chachaml.tracking import log_tags as log_tags
from chachaml.tracking import run as run
from chachaml.tracking import set_name as set_name
from chachaml.tracking import start_run as start_run
from chachaml.tracking import tracked as tracked
from chachaml.version import __version__ as __version__


def autolog(disable: bool = False, log_models: bool = True, max_children: int = 50) -> None:
    """Log every scikit-learn ``fit`` (see :func:`chachaml.sklearn.autolog` and
    docs/autolog.md); needs the ``[sklearn]`` extra. scikit-learn is imported on the first call,
    never by ``import chachaml``."""
    from chachaml.sklearn import autolog as sklearn_autolog

    sklearn_autolog(disable=disable, log_models=log_models, max_children=max_children)


__all__ = [
    "ActiveRun",
    "AlreadyExists",
    "ChachamlError",
    "InUse",
    "InvalidFilter",
    "InvalidInput",
    "NoActiveRun",
    "NotFound",
    "ParamConflict",
    "ResultTruncated",
    "Step",
    "Store",
    "StoreUnavailable",
    "UntrustedArtifact",
    "__version__",
    "activate_alert",
    "add_tag",
    "alert",
    "alert_history",
    "alerts",
    "archive_runs",
    "artifact_path",
    "autolog",
    "batched_metrics",
    "best_run",
    "bind",
    "check_alerts",
    "compare_runs",
    "count_runs",
    "create_experiment",
    "current_run",
    "current_store",
    "current_user",
    "deactivate_alert",
    "delete_alert",
    "delete_archived",
    "end_run",
    "experiment",
    "experiments",
    "export_runs",
    "get_datasets",
    "get_run",
    "get_tags",
    "last_run",
    "list_artifacts",
    "load_artifact",
    "log_artifact",
    "log_dataset",
    "log_file",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_tag",
    "log_tags",
    "metric_history",
    "my_last_run",
    "my_runs",
    "open_store",
    "pipeline",
    "pipelines",
    "registry",
    "remove_tag",
    "run",
    "run_pipeline",
    "runs",
    "runs_df",
    "search_runs",
    "set_alert",
    "set_name",
    "set_note",
    "start_run",
    "store",
    "tracked",
    "use_store",
]
