"""scikit-learn estimators on nnlab: :class:`NNClassifier` and :class:`NNRegressor`.

They take MLPClassifier's and MLPRegressor's parameters (plus nnlab's own and a
``module=`` for any nnlab network), train with :func:`nnlab.train.fit`, pass
scikit-learn's estimator checks, and work in ``Pipeline``, ``GridSearchCV`` and
``cross_val_score(n_jobs=...)``.  Pickles hold nnlab model files, not pickled
Modules.  Needs scikit-learn >= 1.6 (``pip install 'nnlab[sklearn]'``); this
package is imported only when asked for, so ``import nnlab`` does not load
scikit-learn.

>>> from nnlab.sklearn import NNClassifier
>>> NNClassifier(hidden_layer_sizes=(32,)).get_params()["hidden_layer_sizes"]
(32,)
"""

from .estimators import NNClassifier, NNRegressor

__all__ = ["NNClassifier", "NNRegressor"]
