"""What NNClassifier and NNRegressor share: checking the settings, building the network, the fit loop, pickling."""

from __future__ import annotations

import copy
import math
import os
import tempfile
import warnings

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import nn, optim
from .._checks import check_bool, check_choice, check_dtype, check_float, check_int
from ..errors import ConfigError
from ..optim import schedules
from ..train import callbacks as cb
from ..train import fit as train_fit
from ..train import predict as train_predict
from ._stopping import MLPEpochRule
from ._weights import PenalizedClassLoss, PenalizedLoss, rescaled, training_weights

# scikit-learn's activation names first, then nnlab's own (the class names in lower case).
ACTIVATIONS = {"identity": nn.Identity, "logistic": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
ACTIVATIONS.update({cls.__name__.lower(): cls for cls in (
    nn.Sigmoid, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Softplus, nn.Softsign, nn.SELU, nn.CELU, nn.ReLU6,
    nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish, nn.Mish, nn.LogSigmoid, nn.Hardshrink, nn.Softshrink, nn.Tanhshrink,
    nn.RReLU)})
ACTIVATIONS["leaky_relu"] = ACTIVATIONS.pop("leakyrelu")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
_MODEL_FILE = "nnlab-model-file"  # the key under which a pickled estimator keeps a model file's bytes


def model_to_bytes(model) -> bytes:
    """``model`` as the bytes of an nnlab model file (JSON architecture + safetensors weights, no pickle)."""
    from ..io import save

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.nnlab")
        save(model, path)
        with open(path, "rb") as f:
            return f.read()


def model_from_bytes(payload: bytes):
    """The model that :func:`model_to_bytes` wrote, checked and rebuilt by :func:`nnlab.io.load_model`."""
    from ..io import load_model

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.nnlab")
        with open(path, "wb") as f:
            f.write(payload)
        return load_model(path)


class NNBase(BaseEstimator):
    """The shared part of the estimators; the parameters are documented on :class:`NNClassifier`."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, batch_norm=False, dropout_keep=1.0, weight_init="mlp",
                 solver_kwargs=None, schedule=None, schedule_kwargs=None, module=None, dtype="float32"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.batch_norm = batch_norm
        self.dropout_keep = dropout_keep
        self.weight_init = weight_init
        self.solver_kwargs = solver_kwargs
        self.schedule = schedule
        self.schedule_kwargs = schedule_kwargs
        self.module = module
        self.dtype = dtype

    # ------------------------------------------------------------- settings
    def _check_settings(self) -> None:
        """Check every parameter with nnlab's one rule (:mod:`nnlab._checks`); ConfigError is a ValueError."""
        owner = type(self).__name__
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, int | np.integer) else list(sizes)
        for size in sizes:
            check_int("hidden_layer_sizes", size, minimum=1, owner=owner)
        self._hidden = [int(s) for s in sizes]
        check_choice("activation", self.activation, ACTIVATIONS, owner=owner)
        if self.solver == "lbfgs":
            raise ConfigError(f"{owner}: solver='lbfgs' is not a solver here (nnlab.optim.LBFGS takes one parameter "
                              f"group and no weight decay); use one of {optim.names()} "
                              "('line_search' is nnlab's full-batch method)")
        check_choice("solver", self.solver, optim.names(), owner=owner)
        check_float("alpha", self.alpha, low=0.0, owner=owner)
        if self.batch_size != "auto":
            check_int("batch_size", self.batch_size, minimum=1, owner=owner)
        check_choice("learning_rate", self.learning_rate, LEARNING_RATES, owner=owner)
        check_float("learning_rate_init", self.learning_rate_init, low=0.0, low_open=True, owner=owner)
        check_float("power_t", self.power_t, low=0.0, owner=owner)
        check_int("max_iter", self.max_iter, minimum=1, owner=owner)
        check_float("tol", self.tol, low=0.0, owner=owner)
        check_float("momentum", self.momentum, low=0.0, high=1.0, owner=owner)
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping", "batch_norm"):
            check_bool(name, getattr(self, name), owner=owner)
        check_float("validation_fraction", self.validation_fraction, low=0.0, high=1.0, low_open=True,
                    high_open=True, owner=owner)
        for name in ("beta_1", "beta_2"):
            check_float(name, getattr(self, name), low=0.0, high=1.0, high_open=True, owner=owner)
        check_float("epsilon", self.epsilon, low=0.0, low_open=True, owner=owner)
        check_int("n_iter_no_change", self.n_iter_no_change, minimum=1, owner=owner)
        check_float("dropout_keep", self.dropout_keep, low=0.0, high=1.0, low_open=True, owner=owner)
        self._dtype = check_dtype(self.dtype, owner=owner)
        if self.schedule is not None and not callable(self.schedule):
            check_choice("schedule", self.schedule, schedules.names("lr"), owner=owner)
        if self.schedule is not None and self.learning_rate != "constant":
            raise ConfigError(f"{owner}: give schedule= or learning_rate={self.learning_rate!r}, not both")
        for name in ("solver_kwargs", "schedule_kwargs"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), dict):
                raise ConfigError(f"{owner}: {name} must be a dict or None, got {getattr(self, name)!r}")
        if self.module is not None and not (isinstance(self.module, nn.Module) or callable(self.module)):
            raise ConfigError(f"{owner}: module must be an nnlab Module or a callable (n_features, n_outputs) -> "
                              f"Module, got {self.module!r}")

    # ------------------------------------------------------------- building
    def _build_model(self, n_features: int, n_outputs: int, rng: np.random.Generator):
        """``module`` (a copy, so the parameter itself never trains) or the MLP the parameters describe."""
        if self.module is not None:
            model = (copy.deepcopy(self.module) if isinstance(self.module, nn.Module)
                     else self.module(n_features, n_outputs))
            if not isinstance(model, nn.Module):
                raise ConfigError(f"{type(self).__name__}: module(n_features, n_outputs) must return an nnlab "
                                  f"Module, got {type(model).__name__}")
            return model
        layers, width = [], n_features
        for size in self._hidden:
            layers.append(self._linear(width, size, rng))
            if self.batch_norm:
                layers.append(nn.BatchNorm(size, dtype=self._dtype))
            # RReLU's training slopes come from random_state's generator, as Dropout's masks do
            layers.append(ACTIVATIONS[self.activation](**({"rng": rng} if self.activation == "rrelu" else {})))
            if self.dropout_keep < 1:
                layers.append(nn.Dropout(keep=self.dropout_keep, rng=rng))
            width = size
        layers.append(self._linear(width, n_outputs, rng))
        return nn.Sequential(*layers)

    def _check_outputs(self, model, n_outputs: int) -> None:
        """Refuse a ``module`` whose output width is not y's: the fit loop would read it as something else."""
        from ..nn.shapes import row_output_shape

        try:
            shape = row_output_shape(model)
        except ConfigError:  # layer sizes that do not chain: fit's own check names the layer
            return
        if shape is not None and len(shape) == 2 and shape[1] != n_outputs:
            needs = (f"{n_outputs} classes {self.classes_.tolist()[:10]} (one logit per class)"
                     if is_classifier(self) else f"{n_outputs} target(s) per row")
            raise ValueError(f"{type(self).__name__}: module gives {shape[1]} outputs per row, but y has {needs}")

    def _linear(self, fan_in: int, fan_out: int, rng) -> nn.Linear:
        """One affine layer; ``weight_init="mlp"`` draws weights and biases as scikit-learn's MLP does.

        That is U(−a, a) with a = √(f / (fan_in + fan_out)), f = 2 for ``"logistic"``
        and 6 otherwise (Glorot's bound) -- for the biases too, which nnlab's own
        initializers leave at zero.
        """
        if self.weight_init != "mlp":
            return nn.Linear(fan_in, fan_out, weight_init=self.weight_init, rng=rng, dtype=self._dtype)
        bound = math.sqrt((2.0 if self.activation == "logistic" else 6.0) / (fan_in + fan_out))
        draw = nn.init.uniform(-bound, bound)
        return nn.Linear(fan_in, fan_out, weight_init=draw, bias_init=draw, rng=rng, dtype=self._dtype)

    def _build_optimizer(self, model):
        """``optim.get(solver, ...)`` with the MLP settings the optimizer takes, then ``solver_kwargs``."""
        offered = {"lr": self.learning_rate_init, "momentum": self.momentum, "betas": (self.beta_1, self.beta_2),
                   "eps": self.epsilon, "nesterov": self.nesterovs_momentum and self.momentum > 0}
        wanted = optim.settings(self.solver)
        kwargs = {k: v for k, v in offered.items() if k in wanted}
        kwargs.update(self.solver_kwargs or {})
        return optim.get(self.solver, list(model.parameters()), **kwargs)

    def _schedule_callbacks(self) -> list:
        if self.schedule is None:
            return []
        fn = self.schedule
        if not callable(fn):
            kwargs = dict(self.schedule_kwargs or {})
            if "total" in schedules.settings(fn):
                kwargs.setdefault("total", self.max_iter)
            fn = schedules.get(fn, self.learning_rate_init, **kwargs)
        return [cb.LearningRateScheduler(fn)]

    def _loss(self, penalty_scale: float = 1.0):
        """The data loss plus MLP's penalty α/(2·n_batch)·Σ‖W‖² over the weights (not the biases).

        An nnlab Loss object, so that ``fit`` can also compute it per sample for
        ``sample_weight`` (``penalty_scale``: see :mod:`nnlab.sklearn._weights`).
        """
        cls = PenalizedClassLoss if is_classifier(self) else PenalizedLoss
        return cls(self._data_loss(), self.model_, self.alpha, penalty_scale)

    # ------------------------------------------------------------- fitting
    def _fit(self, X, y, incremental: bool, sample_weight=None):
        self._check_settings()
        first = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, y = self._validate_xy(X, y, reset=first)
        classes = self._target_classes(y, first)[1] if is_classifier(self) else None
        weights = training_weights(self, X, y, sample_weight, classes)  # checked before anything is changed
        y = self._encode_targets(y, first, weights)
        if first:
            self._rng = check_random_state(self.random_state)
            generator = np.random.default_rng(self._rng.randint(2**31 - 1))
            n_outputs = self._n_outputs(y)
            model = self._build_model(X.shape[1], n_outputs, generator)
            self._check_outputs(model, n_outputs)
            # the optimizer and schedule (solver_kwargs, schedule_kwargs) are built before model_ is set:
            # a refused setting must not leave an untrained model_ that predicts without NotFittedError
            optimizer, schedule = self._build_optimizer(model), self._schedule_callbacks()
            self.model_, self._optimizer = model, optimizer
            self.loss_curve_ = []
            self.best_loss_ = np.inf
            self._no_improvement_count = 0
            self.t_ = 0
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None
        else:
            schedule = self._schedule_callbacks()
            if not incremental or not hasattr(self, "_optimizer"):
                self._optimizer = self._build_optimizer(self.model_)
        validation = None
        if self.early_stopping:
            if incremental:
                raise ValueError("partial_fit does not support early_stopping=True")
            # MLPClassifier's rule: stratify only when its n_outputs_ is 1, i.e. binary labels (one binarized
            # column); a multiclass split is not stratified, so a class rarer than the split is no error.
            stratify = y if self._stratify and len(self.classes_) <= 2 else None
            arrays = (X, y) if weights is None else (X, y, weights)
            parts = train_test_split(*arrays, random_state=self._rng, test_size=self.validation_fraction,
                                     stratify=stratify)
            X, X_val, y, y_val = parts[:4]
            if len(X_val) < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of "
                                 "your dataset.")
            # MLP's rule: the validation score is weighted by the held-out rows' weights
            validation = (X_val, y_val, None if weights is None else parts[5])
            weights = None if weights is None else parts[4]
        n = len(X)
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` larger than the sample size. It is going to be clipped")
            batch_size = min(self.batch_size, n)
        weights, penalty_scale = rescaled(weights, type(self).__name__)
        rule = MLPEpochRule(self, n, validation)
        self.n_iter_ = 0
        history = train_fit(self.model_, self._loss(penalty_scale), self._optimizer, (X, y), epochs=1 if incremental else
                            self.max_iter, batch_size=batch_size, metrics=(), callbacks=[rule,
                            *schedule], seed=int(self._rng.randint(2**31 - 1)),
                            verbose=2 if self.verbose else 0, shuffle=self.shuffle, sample_weight=weights)
        if validation is not None:
            if rule.best_state is not None:
                self.model_.load_state_dict(rule.best_state)
            self.best_loss_ = None
        if history.stop_reason and rule.message is None:  # nnlab's DivergenceGuard stopped the run
            warnings.warn(f"{type(self).__name__}: {history.stop_reason}", ConvergenceWarning)
        elif not incremental and rule.message is None and self.n_iter_ == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning)
        return self

    def _validate_xy(self, X, y, reset):
        return validate_data(self, X, y, reset=reset, dtype=self._dtype, **self._y_checks)

    def _forward(self, X) -> np.ndarray:
        """The network's outputs for ``X`` as float64 (after the fitted-state and feature checks)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=_model_dtype(self.model_))
        return train_predict(self.model_, X).astype(np.float64, copy=False)

    # ------------------------------------------------------------- MLP's attributes, read from model_
    def _linears(self) -> list:
        """The fitted MLP's Linear layers in order (NotFittedError, an AttributeError, before fit)."""
        check_is_fitted(self, "model_")
        if self.module is not None:
            raise AttributeError(f"{type(self).__name__}: coefs_, intercepts_ and n_layers_ describe the built-in "
                                 "MLP; with module= read the trained network from model_")
        return [layer for layer in self.model_.modules() if isinstance(layer, nn.Linear)]

    @property
    def coefs_(self) -> list:
        """MLP's ``coefs_``: each layer's weights, shape (fan_in, fan_out) -- copies; training changes ``model_``."""
        return [layer.weight.data.copy() for layer in self._linears()]

    @property
    def intercepts_(self) -> list:
        """MLP's ``intercepts_``: each layer's biases, shape (fan_out,) -- copies."""
        return [layer.bias.data.copy() for layer in self._linears()]

    @property
    def n_layers_(self) -> int:
        """MLP's ``n_layers_``: the input layer, the hidden layers and the output layer."""
        return len(self._linears()) + 1

    @property
    def out_activation_(self) -> str:
        """MLP's ``out_activation_``: ``"softmax"`` for a classifier (binary too: one logit per class), else ``"identity"``."""
        check_is_fitted(self, "model_")
        return "softmax" if is_classifier(self) else "identity"

    # ------------------------------------------------------------- pickling
    def __getstate__(self):
        """Fitted attributes as they are, but each nnlab Module as the bytes of an nnlab model file.

        The file holds the architecture as JSON and the weights as safetensors; the
        optimizer's state is left out (a later ``partial_fit`` starts a new one).
        """
        state = dict(super().__getstate__())  # object's own __getstate__ returns the live __dict__
        state.pop("_optimizer", None)
        for key in ("model_", "module"):
            if isinstance(state.get(key), nn.Module):
                state[key] = {_MODEL_FILE: model_to_bytes(state[key])}
        return state

    def __setstate__(self, state):
        state = dict(state)
        for key in ("model_", "module"):
            value = state.get(key)
            if isinstance(value, dict) and set(value) == {_MODEL_FILE}:
                state[key] = model_from_bytes(value[_MODEL_FILE])
        super().__setstate__(state)


def _model_dtype(model):
    for p in model.parameters():
        return p.data.dtype
    return np.dtype(np.float32)
