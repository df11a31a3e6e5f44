"""NNClassifier and NNRegressor: scikit-learn estimators trained by nnlab's own ``fit`` loop."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from .. import losses
from .._checks import check_float
from ..train import predict as train_predict
from ..errors import ConfigError
from ._base import NNBase


class NNClassifier(ClassifierMixin, NNBase):
    """A neural-network classifier with MLPClassifier's parameters, trained by :func:`nnlab.train.fit`.

    Parameters shared with ``sklearn.neural_network.MLPClassifier`` mean what they
    mean there: ``hidden_layer_sizes``, ``activation`` (``"identity"``, ``"logistic"``,
    ``"tanh"``, ``"relu"`` or any nnlab activation in lower case: ``"gelu"``, ``"elu"``,
    ...), ``solver`` (``"adam"``, ``"sgd"`` or any other name of
    :func:`nnlab.optim.names`; extra optimizer settings in ``solver_kwargs``),
    ``alpha`` (the penalty α/(2·n_batch)·Σ‖W‖² on the weights), ``batch_size``
    (``"auto"`` = min(200, n_samples)), ``learning_rate`` (``"constant"``,
    ``"invscaling"``, ``"adaptive"``; used with ``solver="sgd"``), ``learning_rate_init``,
    ``power_t``, ``max_iter`` (epochs), ``shuffle``, ``random_state``, ``tol``,
    ``verbose``, ``warm_start``, ``momentum``, ``nesterovs_momentum``,
    ``early_stopping``, ``validation_fraction``, ``beta_1``, ``beta_2``, ``epsilon``,
    ``n_iter_no_change``.  ``solver="lbfgs"`` is not offered (nnlab's full-batch
    method is ``"line_search"``), nor is ``max_fun``.

    ``fit(X, y, sample_weight=w)`` and ``partial_fit(..., sample_weight=w)`` weigh
    each sample's loss term; ``class_weight`` (default None: every class weighs 1;
    ``"balanced"``: n_samples / (n_classes · count of the class); or
    ``{label: weight}``, labels left out weigh 1) does so by class, as in
    scikit-learn's other classifiers, multiplied with ``sample_weight`` when both are
    given.  The weights are rescaled to mean 1, so only their ratios matter; in a
    full batch the data term is MLP's Σwᵢlᵢ/Σwᵢ (the rule in full:
    :mod:`nnlab.sklearn._weights`).  With ``early_stopping`` the held-out rows'
    weights weigh the validation score, as in MLP.

    nnlab's own: ``batch_norm`` (BatchNorm after each hidden Linear),
    ``dropout_keep`` (the retain probability of Dropout after each hidden layer),
    ``label_smoothing`` (of the cross-entropy), ``weight_init`` (the default ``"mlp"`` is
    MLPClassifier's draw: weights *and* biases U(±√(6/(fan_in+fan_out))), √(2/…) for
    ``"logistic"``; or any nnlab initializer name, with zero biases),
    ``schedule`` (an nnlab schedule name from :func:`nnlab.optim.schedules.names`,
    built with ``learning_rate_init`` and ``schedule_kwargs``, or any callable
    ``epoch -> lr``), ``dtype`` (``"float32"`` or ``"float64"``) and ``module``: an
    nnlab Module that maps rows of features to one logit per class (used instead of
    the MLP; each fit trains a copy of it) or a callable
    ``(n_features, n_classes) -> Module``.

    The output layer gives one logit per class (two for a binary problem) and the
    loss is softmax cross-entropy; ``predict_proba`` is the softmax.  After ``fit``:
    ``classes_``, ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame),
    ``model_`` (the trained nnlab Module), ``loss_curve_``, ``best_loss_``,
    ``loss_`` (the last epoch's), ``validation_scores_``, ``best_validation_score_``,
    ``n_iter_``, ``t_``; and, read from ``model_`` for the built-in MLP (not with
    ``module=``), MLP's ``coefs_``, ``intercepts_`` (copies of the Linear layers'
    weights and biases; BatchNorm layers are not in them), ``n_layers_`` and
    ``out_activation_`` (``"softmax"``, for two classes too: MLPClassifier's binary
    output is one ``"logistic"`` unit, nnlab's two softmax logits).

    Pickling (and ``joblib.dump``) stores every nnlab Module (``model_``, and
    ``module`` when it is one) as the bytes of an nnlab model file -- architecture
    as JSON, weights as safetensors -- so no Module arrays are pickled; the
    optimizer's state is not kept.  A ``module`` must therefore consist of layer
    types known to :func:`nnlab.nn.to_spec` (register your own with
    :func:`nnlab.nn.register`).

    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NNClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=100, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.9
    True
    >>> clf.predict_proba(X[:2]).shape, clf.classes_.tolist()
    ((2, 3), [0, 1, 2])
    """

    _stratify = True
    _y_checks = {}

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, batch_norm=False, dropout_keep=1.0, label_smoothing=0.0,
                 weight_init="mlp", solver_kwargs=None, schedule=None, schedule_kwargs=None, module=None,
                 dtype="float32", class_weight=None):
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose, warm_start=warm_start,
            momentum=momentum, nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
            n_iter_no_change=n_iter_no_change, batch_norm=batch_norm, dropout_keep=dropout_keep,
            weight_init=weight_init, solver_kwargs=solver_kwargs, schedule=schedule,
            schedule_kwargs=schedule_kwargs, module=module, dtype=dtype)
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight

    def _check_settings(self) -> None:
        super()._check_settings()
        # checked with the others, before a network is built: the loss's own check came at the first batch,
        # after model_ was set, and left an untrained estimator that predicted without NotFittedError
        check_float("label_smoothing", self.label_smoothing, low=0.0, high=1.0, owner=type(self).__name__)
        if not (self.class_weight is None or self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            raise ConfigError(f"{type(self).__name__}: class_weight must be None, 'balanced' or a dict "
                              f"{{label: weight}}, got {self.class_weight!r}")

    def fit(self, X, y, sample_weight=None):
        """Train on ``X`` (n_samples, n_features) and class labels ``y`` for up to ``max_iter`` epochs.

        ``sample_weight``: one weight >= 0 per row (see the class docstring), or None.

        With ``warm_start``, a refit continues from the fitted network and must see the same classes
        (scikit-learn's rule: the output layer is one unit per class).
        """
        if self.warm_start and hasattr(self, "model_"):
            check_classification_targets(y)
            classes = np.unique(column_or_1d(y))
            if not np.array_equal(classes, self.classes_):
                raise ValueError("warm_start can only be used where `y` has the same classes as in the previous "
                                 f"call to fit. Previously got {self.classes_}, `y` has {classes}")
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over ``X, y``; the first call needs ``classes``, every label that will ever appear.

        ``classes`` stays third as in SGDClassifier; pass ``sample_weight`` by name
        (MLPClassifier has it third).

        ``classes`` on a later call must be the same labels (scikit-learn's rule).
        """
        if self.class_weight == "balanced":  # SGDClassifier's rule: one batch's class counts are not the data's
            raise ValueError("class_weight='balanced' is not supported for partial_fit: the class frequencies of "
                             "one batch are not those of the data; give class_weight as a dict {label: weight}")
        # The first call is the one that builds the network (_fit's rule), so a first call that failed leaves
        # the next one first as well; its classes live for this call only, so a later fit() takes y's.
        if not hasattr(self, "model_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._partial_classes = np.unique(column_or_1d(classes))
        elif classes is not None and not np.array_equal(np.unique(column_or_1d(classes)), self.classes_):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to partial_fit, was: "
                             f"{self.classes_!r}")
        try:
            return self._fit(X, y, incremental=True, sample_weight=sample_weight)
        finally:
            self.__dict__.pop("_partial_classes", None)

    def _target_classes(self, y, first):
        """The classes ``y`` is encoded to: y's own on a first fit (or partial_fit's ``classes``), else ``classes_``."""
        check_classification_targets(y)
        y = column_or_1d(y)
        seen = getattr(self, "_partial_classes", None)
        return y, (self.classes_ if not first else np.unique(y) if seen is None else seen)

    def _encode_targets(self, y, first, weights=None):
        y, classes = self._target_classes(y, first)
        seen = getattr(self, "_partial_classes", None)
        if first:
            if len(classes) < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least two classes; y holds one class "
                                 f"only ({classes[0]!r})")
            weighted = classes if weights is None or seen is not None else np.unique(y[weights > 0])
            if len(weighted) < 2:
                raise ValueError(f"{type(self).__name__} needs samples of at least two classes with weight > 0; "
                                 f"sample_weight leaves one class only ({weighted.tolist()[0]!r})")
        unknown = np.setdiff1d(y, classes)
        if len(unknown):
            raise ValueError(f"y holds labels {unknown[:5].tolist()} not in classes_ {classes.tolist()}")
        self.classes_ = classes  # only once y is known to fit them: a refused y leaves the estimator as it was
        return np.searchsorted(classes, y).astype(np.int64)

    def _n_outputs(self, y):
        self.n_outputs_ = 1
        return len(self.classes_)

    def _data_loss(self):
        smoothing = float(self.label_smoothing)

        def cross_entropy(output, target, reduction):
            return losses.cross_entropy(output, target, label_smoothing=smoothing, reduction=reduction)

        return cross_entropy

    def _validation_score(self, X_val, y_val, sample_weight=None) -> float:
        correct = np.argmax(train_predict(self.model_, X_val), axis=1) == y_val
        return float(np.average(correct, weights=sample_weight))

    def predict(self, X):
        """The most probable class of each row of ``X``."""
        scores = self._forward(X)  # first: it raises NotFittedError before classes_ is looked up
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_log_proba(self, X):
        """log P(class | x) of each row: the log-softmax of the logits, in float64."""
        z = self._forward(X)
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def predict_proba(self, X):
        """P(class | x) of each row, columns in the order of ``classes_``."""
        return np.exp(self.predict_log_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class NNRegressor(RegressorMixin, NNBase):
    """A neural-network regressor with MLPRegressor's parameters, trained by :func:`nnlab.train.fit`.

    The parameters, fitted attributes, ``sample_weight`` and pickling are those of
    :class:`NNClassifier` (without ``label_smoothing`` and ``class_weight``); a ``module`` maps rows of features to one output
    per target.  The loss is MLPRegressor's squared error ½·mean((ŷ − y)²) over every
    target; ``y`` may hold one target per row or several (n_samples, n_targets), and
    the score of early stopping is R².  Predictions are float64.

    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(n_samples=200, n_features=4, noise=1.0, random_state=0)
    >>> reg = NNRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=300, random_state=0)
    >>> reg.fit(X, y / 100).score(X, y / 100) > 0.9
    True
    """

    _stratify = False
    _y_checks = {"multi_output": True, "y_numeric": True}

    def fit(self, X, y, sample_weight=None):
        """Train on ``X`` (n_samples, n_features) and targets ``y`` for up to ``max_iter`` epochs.

        ``sample_weight``: one weight >= 0 per row (rescaled to mean 1, see :class:`NNClassifier`), or None.
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X, y`` (continuing from the current weights once fitted)."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _encode_targets(self, y, first, weights=None):
        y = np.asarray(y, dtype=self._dtype)
        y = y.reshape(len(y), -1)
        if not first and y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y.shape[1]} targets per row; {type(self).__name__} was fitted with "
                             f"{self.n_outputs_}")
        return y

    def _n_outputs(self, y):
        self.n_outputs_ = y.shape[1]
        return self.n_outputs_

    def _data_loss(self):
        def half_squared_error(output, target, reduction):
            return losses.mse_loss(output, target, reduction=reduction) * 0.5

        return half_squared_error

    def _validation_score(self, X_val, y_val, sample_weight=None) -> float:
        return float(r2_score(y_val, train_predict(self.model_, X_val), sample_weight=sample_weight))

    def predict(self, X):
        """The predicted targets: shape (n_samples,) for one target, else (n_samples, n_targets)."""
        out = self._forward(X)
        return out.ravel() if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
