"""scikit-learn integration (the ``[sklearn]`` extra): ``pip install 'chachaml[sklearn]'``.

>>> from chachaml.sklearn import autolog, evaluate, tracked_fit, train_and_evaluate

* :func:`tracked_fit`, :func:`tracked_predict`, :func:`evaluate`, :func:`train_and_evaluate`
  track explicit calls (into the active run, else a run of their own);
* :func:`autolog` logs every ``fit`` of scikit-learn estimators; :func:`cross_validate` is
  sklearn's with one child run per fold.

``import chachaml`` never imports scikit-learn; importing this package without it raises
:class:`SklearnNotInstalled` (an ``InvalidInput`` and ``ImportError``) with the install command.
"""

from __future__ import annotations

from chachaml.sklearn.support import require_sklearn

require_sklearn()

from chachaml.sklearn.api import evaluate as evaluate  # noqa: E402
from chachaml.sklearn.api import tracked_fit as tracked_fit  # noqa: E402
from chachaml.sklearn.api import tracked_predict as tracked_predict  # noqa: E402
from chachaml.sklearn.api import train_and_evaluate as train_and_evaluate  # noqa: E402
from chachaml.sklearn.autologging import autolog as autolog  # noqa: E402
from chachaml.sklearn.search import cross_validate as cross_validate  # noqa: E402
from chachaml.sklearn.support import AutologWarning as AutologWarning  # noqa: E402
from chachaml.sklearn.support import SklearnNotInstalled as SklearnNotInstalled  # noqa: E402

__all__ = [
    "AutologWarning",
    "SklearnNotInstalled",
    "autolog",
    "cross_validate",
    "evaluate",
    "tracked_fit",
    "tracked_predict",
    "train_and_evaluate",
]
