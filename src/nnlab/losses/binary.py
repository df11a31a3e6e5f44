"""Binary cross-entropy: from logits (sigmoid fused in, stable) and from probabilities.

The target gets a gradient only when it is a Tensor that requires grad.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..tensor import make_result
from ._common import check_reduction, element_weights, prediction, reduce, same_shape, upstream
from .base import Loss, register

_LOG_FLOOR = -100.0  # PyTorch clamps each log at −100, so p = 0 or 1 gives a finite loss
_GRAD_EPS = 1e-12  # and divides the gradient by max(p(1 − p), 1e-12)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """Sigmoid and binary cross-entropy fused: max(x, 0) − x·t + log(1 + e^(−|x|)); gradient σ(x) − t.

    Equal to ``torch.nn.BCEWithLogitsLoss``; stable for any logits.

    >>> import nnlab
    >>> round(binary_cross_entropy_with_logits(nnlab.tensor([0.0]), [1.0]).item(), 4)
    0.6931
    """
    check_reduction(reduction, "binary_cross_entropy_with_logits")
    logits = prediction(logits)
    target = same_shape(logits, target, "binary_cross_entropy_with_logits")
    X, T = logits.data, target.data
    e = np.exp(-np.abs(X))
    per = np.maximum(X, 0) - X * T + np.log1p(e)
    out, factor = reduce(per, reduction, per.size, X.dtype)
    rx, rt = logits.requires_grad, target.requires_grad

    def backward(g):
        up = upstream(g, factor)
        sig = np.where(X >= 0, 1 / (1 + e), e / (1 + e)).astype(X.dtype, copy=False)
        return ((sig - T) * up if rx else None, -X * up if rt else None)

    return make_result(out, (logits, target), backward)


def binary_cross_entropy(probs, target, reduction="mean", *, weight=None):
    """Binary cross-entropy on probabilities: −w·(t·log p + (1 − t)·log(1 − p)); gradient w·(p − t)/(p(1 − p)).

    Equal to ``torch.nn.BCELoss``, including its guards: each log is floored at −100
    and p(1 − p) at 1e-12, so p = 0 or 1 stays finite.  ``weight`` (broadcast to
    the input's shape) rescales each element's loss; the mean is over all elements.
    Prefer :func:`binary_cross_entropy_with_logits` on a sigmoid's input: it is exact
    where the sigmoid rounds to 0 or 1.

    >>> import nnlab
    >>> round(binary_cross_entropy(nnlab.tensor([0.5, 0.9]), [1.0, 1.0]).item(), 4)
    0.3993
    """
    check_reduction(reduction, "binary_cross_entropy")
    probs = prediction(probs)
    target = same_shape(probs, target, "binary_cross_entropy")
    P, T = probs.data, target.data
    if P.size and not (P.min() >= 0 and P.max() <= 1):
        raise DataError("binary_cross_entropy: the input must hold probabilities in [0, 1] "
                        "(for logits use binary_cross_entropy_with_logits)")
    dt = P.dtype.type
    w = None if weight is None else element_weights(weight, P, "binary_cross_entropy")
    with np.errstate(divide="ignore"):
        log_p, log_q = np.maximum(np.log(P), dt(_LOG_FLOOR)), np.maximum(np.log1p(-P), dt(_LOG_FLOOR))
    per = -(T * log_p + (1 - T) * log_q)
    if w is not None:
        per = per * w
    out, factor = reduce(per, reduction, per.size, P.dtype)
    rp, rt = probs.requires_grad, target.requires_grad

    def backward(g):
        up = upstream(g, factor) if w is None else upstream(g, factor) * w
        dP = (P - T) / np.maximum(P * (1 - P), dt(_GRAD_EPS)) * up if rp else None
        return (dP, (log_q - log_p) * up if rt else None)

    return make_result(out, (probs, target), backward)


@register("bce_with_logits", binary_cross_entropy_with_logits)
class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy from logits, as ``torch.nn.BCEWithLogitsLoss``."""


@register("bce", binary_cross_entropy)
class BCELoss(Loss):
    """Binary cross-entropy on probabilities, as ``torch.nn.BCELoss`` (``weight``: per-element rescaling)."""

    def __init__(self, reduction="mean", *, weight=None):
        super().__init__(reduction)
        self._settings = {"weight": None if weight is None else np.asarray(weight, dtype=float).tolist()}
