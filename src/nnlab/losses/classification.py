"""Multi-class losses: softmax cross-entropy from logits and negative log-likelihood, with class weights and ignore_index.

Classes are on the last axis (PyTorch puts them on axis 1 for inputs of more than
two dimensions).  Targets are integer class indices or, for ``cross_entropy``,
rows of target probabilities; targets never get a gradient.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_float
from ..data.encoding import one_hot
from ..errors import ConfigError, DataError
from ..ops.fused import softmax_cross_entropy
from ..tensor import make_result
from ._common import (check_ignore_index, check_reduction, check_weight, class_targets, class_weights, prediction,
                      reduce, target_array, upstream)
from .base import Loss, register

__all__ = ["cross_entropy", "nll_loss", "one_hot", "CrossEntropyLoss", "NLLLoss"]


def _smoothing(value, classes, where) -> float:
    value = check_float("label_smoothing", value, 0.0, 1.0, owner=where)
    if value and classes < 2:
        raise ConfigError(f"{where}: label smoothing needs at least 2 classes, got {classes}")
    return value


def _checked(pred, reduction, weight, ignore_index, where, what):
    """(prediction Tensor, class-weight vector or None, ignore_index) after the checks both losses make."""
    check_reduction(reduction, where)
    pred = prediction(pred)
    if pred.data.ndim == 0:
        raise DataError(f"{where}: {what} need a class axis (shape (N, K))")
    return pred, class_weights(weight, pred.data.shape[-1], pred.data.dtype, where), check_ignore_index(ignore_index, where)


def cross_entropy(logits, target, label_smoothing=0.0, reduction="mean", *, weight=None, ignore_index=None):
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

    ``weight`` (one number per class, PyTorch's keyword) makes the loss of a row
    −Σ_c w_c q_c log softmax(z)_c; the mean of class-index targets divides by the sum
    of the weights of the targets, Σ_n w[y_n] (PyTorch's rule), soft targets by N.
    ``ignore_index`` (class-index targets only): rows with that target add nothing
    and are not counted in the mean.  PyTorch's default is −100; here the default
    None ignores nothing, so an out-of-range target is always an error.

    >>> import nnlab
    >>> round(cross_entropy(nnlab.tensor([[1000.0, 0.0]]), [0]).item(), 6)
    0.0
    >>> round(cross_entropy(nnlab.tensor([[0.0, 0.0], [5.0, 0.0]]), [1, -1], ignore_index=-1).item(), 4)
    0.6931
    """
    logits, w, ignore_index = _checked(logits, reduction, weight, ignore_index, "cross_entropy", "logits")
    Z = logits.data
    K = Z.shape[-1]
    eps = _smoothing(label_smoothing, K, "cross_entropy")
    T = target_array(target)
    soft = T.shape == Z.shape  # probability rows (one-hot integer rows are allowed)
    if T.ndim == Z.ndim and not soft:  # class indices have one axis less: these are rows of the wrong width
        raise DataError(f"cross_entropy: target rows of shape {T.shape} do not fit logits of shape {Z.shape} "
                        f"(rows of probabilities need shape {Z.shape}, class indices shape {Z.shape[:-1]})")
    if soft and ignore_index is not None:
        raise DataError("cross_entropy: ignore_index applies to class-index targets, not to rows of probabilities")
    if soft:
        q = T.astype(Z.dtype, copy=False)
        if w is None:
            return softmax_cross_entropy(logits, q, eps, reduction)
        if eps:
            q = q * Z.dtype.type(1 - eps * K / (K - 1)) + Z.dtype.type(eps / (K - 1))
        return _weighted(logits, q * w, Z.size // K, reduction)
    y, kept = class_targets(T, Z.shape[:-1], K, "cross_entropy", ignore_index)
    if w is None and kept is None:
        return softmax_cross_entropy(logits, y, eps, reduction)
    # the seeds' smoothed one-hot rows, weighted per class, zero for ignored rows
    dt = Z.dtype.type
    q = np.full(Z.shape, dt(eps / (K - 1)) if eps else dt(0), dtype=Z.dtype)
    np.put_along_axis(q, y[..., None], dt(1 - eps), axis=-1)
    row_weight = np.ones(y.shape, dtype=Z.dtype) if w is None else w[y]
    if kept is not None:
        q[~kept] = 0
        row_weight = row_weight * kept
    return _weighted(logits, q if w is None else q * w, row_weight.sum(dtype=np.float64), reduction)


def _weighted(logits, a, denominator, reduction):
    """−Σ_c a_c log softmax(z)_c per row (gradient softmax·Σa − a); the mean divides by ``denominator``.

    The fused node already computes exactly this for soft rows; only the mean's divisor differs.
    """
    total = softmax_cross_entropy(logits, a, 0.0, "none" if reduction == "none" else "sum")
    if reduction != "mean":
        return total
    dt = logits.data.dtype.type
    return total * (dt(1.0 / denominator) if denominator else dt(np.nan))


def nll_loss(log_probs, target, reduction="mean", *, weight=None, ignore_index=None):
    """Negative log-likelihood −w[y]·log p[y] from log-probabilities (e.g. ``log_softmax`` output).

    ``weight`` and ``ignore_index`` as in :func:`cross_entropy` (the mean divides by
    the summed weights of the counted targets); equal to ``torch.nn.NLLLoss``.

    >>> import nnlab, numpy as np
    >>> round(nll_loss(nnlab.tensor(np.log([[0.5, 0.5], [0.9, 0.1]])), [0, 1], weight=[1.0, 3.0]).item(), 4)
    1.9002
    """
    log_probs, w, ignore_index = _checked(log_probs, reduction, weight, ignore_index, "nll_loss", "log_probs")
    L = log_probs.data
    K = L.shape[-1]
    y, kept = class_targets(target_array(target), L.shape[:-1], K, "nll_loss", ignore_index)
    L2 = L.reshape(-1, K)
    rows, cols = np.arange(L2.shape[0]), y.reshape(-1)
    scale = None if w is None else w[cols]  # the weight of each row's target, 0 for ignored rows
    if kept is not None:
        scale = (np.ones(cols.shape, dtype=L.dtype) if scale is None else scale) * kept.reshape(-1)
    per = -L2[rows, cols] if scale is None else -L2[rows, cols] * scale
    out, factor = reduce(per.reshape(L.shape[:-1]), reduction, per.size if scale is None else scale.sum(dtype=np.float64),
                         L.dtype)

    def backward(g):
        grad = np.zeros_like(L2)
        up = upstream(g, factor)
        up = up.reshape(-1) if factor is None else up
        grad[rows, cols] = -up if scale is None else -(up * scale)
        return (grad.reshape(L.shape),)

    return make_result(out, (log_probs,), backward)


class _ClassWeighted(Loss):
    """Shared by the class forms that take ``weight`` and ``ignore_index``."""

    class_targets = True

    def __init__(self, reduction="mean", weight=None, ignore_index=None):
        super().__init__(reduction)
        where = type(self).__name__
        weight = check_weight(weight, where)
        self._settings = {"weight": None if weight is None else list(weight),
                          "ignore_index": check_ignore_index(ignore_index, where)}


@register("cross_entropy", cross_entropy)
class CrossEntropyLoss(_ClassWeighted):
    """Softmax cross-entropy from logits; ``label_smoothing`` in the seeds' sense (see :func:`cross_entropy`)."""

    def __init__(self, label_smoothing=0.0, reduction="mean", *, weight=None, ignore_index=None):
        _smoothing(label_smoothing, 2, "CrossEntropyLoss")
        super().__init__(reduction, weight, ignore_index)
        self._settings = {"label_smoothing": float(label_smoothing), **self._settings}


@register("nll", nll_loss)
class NLLLoss(_ClassWeighted):
    """Negative log-likelihood from log-probabilities, as ``torch.nn.NLLLoss``."""

    def __init__(self, reduction="mean", *, weight=None, ignore_index=None):
        super().__init__(reduction, weight, ignore_index)
