"""Losses and weight penalties; each loss is one graph node with an analytic backward.

Losses take the prediction as a Tensor (an ndarray is lifted) and the target
as an ndarray or Tensor, and return a 0-d Tensor (``reduction="mean"``, the
default, or ``"sum"``) or the per-element / per-example values
(``reduction="none"``).  Targets get no gradient except in ``mse_loss``,
``euclidean_loss`` and ``binary_cross_entropy_with_logits`` when the target
Tensor itself requires grad.

The class forms (``MSELoss()``, ``CrossEntropyLoss(label_smoothing=0.1)``, …)
are callables ``loss(output, target)`` for configs; :func:`get` builds one
by name.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_choice, check_float
from .errors import ConfigError, DataError
from .ops.fused import softmax_cross_entropy
from .tensor import Tensor, as_tensor, make_result

__all__ = [
    "mse_loss",
    "euclidean_loss",
    "cross_entropy",
    "binary_cross_entropy_with_logits",
    "nll_loss",
    "l1_penalty",
    "l2_penalty",
    "Loss",
    "MSELoss",
    "EuclideanLoss",
    "CrossEntropyLoss",
    "BCEWithLogitsLoss",
    "NLLLoss",
    "get",
]

_REDUCTIONS = ("mean", "sum", "none")


# ------------------------------------------------------------------ helpers
def _check_reduction(reduction, where):
    try:
        check_choice("reduction", reduction, _REDUCTIONS, owner=where)
    except ConfigError:  # check_choice's rule; the names stay unquoted, as tests/test_losses.py matches them
        raise ConfigError(f"{where}: reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}") from None


def _prediction(x) -> Tensor:
    return x if isinstance(x, Tensor) else as_tensor(x)


def _same_shape(pred: Tensor, target, where) -> Tensor:
    if not isinstance(target, Tensor) or (not target.requires_grad and target.data.dtype != pred.data.dtype):
        target = as_tensor(target.data if isinstance(target, Tensor) else target, like=pred)
    if target.data.shape != pred.data.shape:
        raise DataError(f"{where}: target shape {target.data.shape} does not match prediction shape {pred.data.shape}")
    return target


def _reduce(per: np.ndarray, reduction: str, count: int, dtype):
    """(output array, factor): the reduced loss and the factor d(output)/d(per) (None for "none")."""
    if reduction == "none":
        return per, None
    total = per.sum()
    if reduction == "sum":
        return np.asarray(total, dtype=dtype), dtype.type(1)
    return np.asarray(total / dtype.type(count) if count else np.nan, dtype=dtype), dtype.type(1.0 / max(count, 1))


def _upstream(g, factor):
    """The upstream gradient to multiply elementwise derivatives by."""
    return g if factor is None else g * factor


def _class_targets(target, lead_shape, classes, where) -> np.ndarray:
    """Integer class indices of ``lead_shape`` in [0, classes), or DataError."""
    y = np.asarray(target)
    if y.dtype.kind == "f":
        rounded = np.rint(y)
        if not np.array_equal(rounded, y):
            raise DataError(f"{where}: class targets must be whole numbers, got {y.ravel()[:5].tolist()}…")
        y = rounded.astype(np.int64)
    elif y.dtype.kind not in "iu":
        raise DataError(f"{where}: class targets must be integers, got dtype {y.dtype}")
    if y.shape != tuple(lead_shape):
        raise DataError(f"{where}: class targets of shape {y.shape} do not fit predictions of shape {lead_shape + (classes,)}")
    if y.size:
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= classes:
            bad = low if low < 0 else high
            raise DataError(f"{where}: class index {bad} is out of range for {classes} classes (0..{classes - 1})")
    return y


# -------------------------------------------------------------- regression
def mse_loss(pred, target, reduction="mean"):
    """Mean squared error mean((pred − target)²), equal to ``torch.nn.MSELoss``.

    >>> import nnlab
    >>> mse_loss(nnlab.tensor([1.0, 3.0]), [0.0, 1.0]).item()
    2.5
    """
    _check_reduction(reduction, "mse_loss")
    pred = _prediction(pred)
    target = _same_shape(pred, target, "mse_loss")
    diff = pred.data - target.data
    out, factor = _reduce(diff * diff, reduction, diff.size, diff.dtype)
    rp, rt = pred.requires_grad, target.requires_grad

    def backward(g):
        grad = diff * (_upstream(g, factor) * diff.dtype.type(2))
        return (grad if rp else None, -grad if rt else None)

    return make_result(out, (pred, target), backward)


def euclidean_loss(pred, target, reduction="mean"):
    """The seeds' Euclidean cost ½‖pred − target‖², summed over outputs, averaged over the batch.

    The batch is the first axis (N); the gradient is (pred − target)/N.
    ``reduction="sum"`` sums over the batch, ``"none"`` gives one value per example.

    >>> import nnlab
    >>> euclidean_loss(nnlab.tensor([[1.0, 2.0], [0.0, 0.0]]), [[0.0, 0.0], [0.0, 1.0]]).item()
    1.5
    """
    _check_reduction(reduction, "euclidean_loss")
    pred = _prediction(pred)
    target = _same_shape(pred, target, "euclidean_loss")
    diff = pred.data - target.data
    dt = diff.dtype.type
    half_sq = diff * diff * dt(0.5)
    n = diff.shape[0] if diff.ndim else 1
    per = half_sq.reshape(n, -1).sum(axis=1).reshape(diff.shape[:1]) if diff.ndim else half_sq
    out, factor = _reduce(per, reduction, n, diff.dtype)
    rp, rt = pred.requires_grad, target.requires_grad

    def backward(g):
        up = _upstream(g, factor)
        if factor is None and diff.ndim > 1:  # per-example upstream gradient, spread over the outputs
            up = np.reshape(up, diff.shape[:1] + (1,) * (diff.ndim - 1))
        grad = diff * up
        return (grad if rp else None, -grad if rt else None)

    return make_result(out, (pred, target), backward)


# ----------------------------------------------------------- classification
def cross_entropy(logits, target, label_smoothing=0.0, reduction="mean"):
    """Softmax cross-entropy from logits (classes on the last axis), fused and stable.

    ``target`` is integer class indices of shape ``logits.shape[:-1]``, or
    soft-target rows of ``logits.shape`` (usually probability distributions;
    any real rows work, with PyTorch's gradient softmax·Σq − q).
    ``label_smoothing`` ε follows the seeds: the true class gets 1 − ε and
    every other class ε/(K − 1) (soft rows q become q(1 − ε) + (1 − q)ε/(K − 1)).
    PyTorch spreads its ε over all K classes instead; the two agree when
    ε_torch = ε·K/(K − 1), e.g. ε = 0.1 with K = 10 is
    ``torch.nn.CrossEntropyLoss(label_smoothing=0.1111…)``.
    Gradient: (softmax(logits)·Σq − q)/N for the mean (softmax − q for probability rows).

    >>> import nnlab
    >>> round(cross_entropy(nnlab.tensor([[1000.0, 0.0]]), [0]).item(), 6)
    0.0
    """
    _check_reduction(reduction, "cross_entropy")
    logits = _prediction(logits)
    Z = logits.data
    if Z.ndim == 0:
        raise DataError("cross_entropy: logits need a class axis (shape (N, K))")
    K = Z.shape[-1]
    eps = _smoothing(label_smoothing, K, "cross_entropy")
    T = np.asarray(target.data if isinstance(target, Tensor) else target)
    if T.shape == Z.shape:  # probability rows (one-hot integer rows are allowed)
        soft = T.astype(Z.dtype, copy=False)
    else:
        soft = _class_targets(T, Z.shape[:-1], K, "cross_entropy")
    return softmax_cross_entropy(logits, soft, eps, reduction)


def _smoothing(value, classes, where) -> float:
    value = check_float("label_smoothing", value, 0.0, 1.0, owner=where)
    if value and classes < 2:
        raise ConfigError(f"{where}: label smoothing needs at least 2 classes, got {classes}")
    return value


def nll_loss(log_probs, target, reduction="mean"):
    """Negative log-likelihood −log p[target] from log-probabilities (e.g. ``log_softmax`` output)."""
    _check_reduction(reduction, "nll_loss")
    log_probs = _prediction(log_probs)
    L = log_probs.data
    if L.ndim == 0:
        raise DataError("nll_loss: log_probs need a class axis (shape (N, K))")
    K = L.shape[-1]
    y = _class_targets(np.asarray(target.data if isinstance(target, Tensor) else target), L.shape[:-1], K, "nll_loss")
    L2 = L.reshape(-1, K)
    rows, cols = np.arange(L2.shape[0]), y.reshape(-1)
    per = -L2[rows, cols]
    out, factor = _reduce(per.reshape(L.shape[:-1]), reduction, per.size, L.dtype)

    def backward(g):
        grad = np.zeros_like(L2)
        up = _upstream(g, factor)
        grad[rows, cols] = -(up.reshape(-1) if factor is None else up)
        return (grad.reshape(L.shape),)

    return make_result(out, (log_probs,), backward)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """Sigmoid and binary cross-entropy fused: max(x, 0) − x·t + log(1 + e^(−|x|)); gradient σ(x) − t.

    Equal to ``torch.nn.BCEWithLogitsLoss``; stable for any logits.

    >>> import nnlab
    >>> round(binary_cross_entropy_with_logits(nnlab.tensor([0.0]), [1.0]).item(), 4)
    0.6931
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    logits = _prediction(logits)
    target = _same_shape(logits, target, "binary_cross_entropy_with_logits")
    X, T = logits.data, target.data
    e = np.exp(-np.abs(X))
    per = np.maximum(X, 0) - X * T + np.log1p(e)
    out, factor = _reduce(per, reduction, per.size, X.dtype)
    rx, rt = logits.requires_grad, target.requires_grad

    def backward(g):
        up = _upstream(g, factor)
        sig = np.where(X >= 0, 1 / (1 + e), e / (1 + e)).astype(X.dtype, copy=False)
        return ((sig - T) * up if rx else None, -X * up if rt else None)

    return make_result(out, (logits, target), backward)


# ----------------------------------------------------------------- penalties
def _weights(params, weights_only: bool) -> list:
    """The tensors a penalty covers, each once.

    Tensors the caller names always count.  ``weights_only`` filters (keeps the
    weights by :func:`nnlab.nn.is_weight`) only what the caller did not pick one
    by one: a Module's parameters and ``named_parameters()`` pairs.
    """
    from .nn.module import Module
    from .nn.parameter import is_weight

    if isinstance(params, Module):
        params = [(None, p) for p in params.parameters()]
    elif isinstance(params, Tensor):
        params = [params]
    chosen, seen = [], set()
    for p in params:
        named = isinstance(p, tuple) and len(p) == 2 and isinstance(p[1], Tensor)
        if named:
            p = p[1]  # a (name, parameter) pair from named_parameters(), or a module's parameter
        if not isinstance(p, Tensor):
            raise ConfigError(f"a penalty takes a Module, Tensors or (name, Tensor) pairs, got {type(p).__name__}")
        if id(p) in seen or (named and weights_only and not is_weight(p)):
            continue
        seen.add(id(p))
        chosen.append(p)
    return chosen


def _penalty(params, value_fn, grad_fn):
    if not params:
        return as_tensor(np.zeros((), dtype=np.float32))
    dtype = params[0].data.dtype
    total = sum(float(value_fn(p.data)) for p in params)
    needs = [p.requires_grad for p in params]

    def backward(g):
        return tuple(grad_fn(p.data) * g if need else None for p, need in zip(params, needs))

    return make_result(np.asarray(total, dtype=dtype), tuple(params), backward)


def l2_penalty(params, alpha, weights_only=True):
    """The seeds' weight decay term α/2·Σ‖w‖² over weights (gradient α·w).

    ``params`` is a Module, ``named_parameters()`` pairs, or Tensors.  Of a
    Module or named pairs, only the weights count (:func:`nnlab.nn.is_weight`:
    the tensors with two or more dimensions — the matrices of Linear, Maxout and TiedLinear, the
    parameters named ``weight`` — so biases, BatchNorm's γ/β and PReLU's α
    (all vectors) are left out); pass ``weights_only=False`` to cover them too.
    Tensors passed directly always count, whatever their shape.  A tied weight
    counts once.

    >>> import nnlab
    >>> l2_penalty(nnlab.nn.Linear(2, 2, weight_init="ones"), alpha=0.5).item()
    1.0
    """
    a = float(alpha)
    params = _weights(params, weights_only)
    return _penalty(params, lambda W: 0.5 * a * np.vdot(W, W), lambda W: W * W.dtype.type(a))


def l1_penalty(params, alpha, weights_only=True):
    """α·Σ|w| over weights (gradient α·sign(w)); weights chosen as in :func:`l2_penalty`."""
    a = float(alpha)
    params = _weights(params, weights_only)
    return _penalty(params, lambda W: a * np.abs(W).sum(dtype=np.float64), lambda W: np.sign(W) * W.dtype.type(a))


# ------------------------------------------------------------- class forms
class Loss:
    """A loss with its settings bound: ``loss(output, target)``; ``config`` describes it as data."""

    name = ""
    _fn = None

    def __init__(self, reduction="mean"):
        _check_reduction(reduction, type(self).__name__)
        self.reduction = reduction
        self._settings = {}

    def __call__(self, output, target):
        return type(self)._fn(output, target, reduction=self.reduction, **self._settings)

    @property
    def config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction, **self._settings}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items() if k != "name")
        return f"{type(self).__name__}({args})"


class MSELoss(Loss):
    """Mean squared error, as ``torch.nn.MSELoss``."""

    name = "mse"
    _fn = staticmethod(mse_loss)


class EuclideanLoss(Loss):
    """½‖output − target‖² per example, averaged over the batch (the seeds' cost)."""

    name = "euclidean"
    _fn = staticmethod(euclidean_loss)


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy from logits; ``label_smoothing`` in the seeds' sense (see :func:`cross_entropy`)."""

    name = "cross_entropy"
    _fn = staticmethod(cross_entropy)

    def __init__(self, label_smoothing=0.0, reduction="mean"):
        _smoothing(label_smoothing, 2, "CrossEntropyLoss")
        super().__init__(reduction)
        self._settings = {"label_smoothing": float(label_smoothing)}


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy from logits, as ``torch.nn.BCEWithLogitsLoss``."""

    name = "bce_with_logits"
    _fn = staticmethod(binary_cross_entropy_with_logits)


class NLLLoss(Loss):
    """Negative log-likelihood from log-probabilities."""

    name = "nll"
    _fn = staticmethod(nll_loss)


_CLASSES = {cls.name: cls for cls in (MSELoss, EuclideanLoss, CrossEntropyLoss, BCEWithLogitsLoss, NLLLoss)}


def get(name, **settings) -> Loss:
    """A loss object by name (``"cross_entropy"``, ``"mse"``, …, or a class name such as ``"MSELoss"``).

    >>> get("cross_entropy", label_smoothing=0.1)
    CrossEntropyLoss(reduction='mean', label_smoothing=0.1)
    """
    if isinstance(name, Loss):
        return name
    by_class = {cls.__name__: cls for cls in _CLASSES.values()}
    cls = _CLASSES.get(name) or by_class.get(name)
    if cls is None:
        raise ConfigError(f"unknown loss {name!r}; choose one of {', '.join(sorted(_CLASSES))}")
    try:
        return cls(**settings)
    except TypeError as exc:
        raise ConfigError(f"loss {name!r}: bad settings {settings!r} ({exc})") from None
