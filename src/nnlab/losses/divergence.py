"""Kullback-Leibler divergence between a target distribution and log-probabilities, as ``torch.nn.KLDivLoss``."""

from __future__ import annotations

import numpy as np

from .._checks import check_bool
from ..tensor import make_result
from ._common import REDUCTIONS, check_reduction, prediction, reduce, same_shape, upstream
from .base import Loss, register

KL_REDUCTIONS = REDUCTIONS + ("batchmean",)


def kl_div(input, target, reduction="mean", log_target=False):
    """KL divergence Σ t·(log t − x) of target t from log-probabilities x (e.g. ``log_softmax`` output).

    Gradient −t (the target's, when it requires grad: log t + 1 − x).  With
    ``log_target`` the target is given as log-probabilities s: eˢ·(s − x).  A target
    probability of 0 adds 0 (0·log 0 = 0).  ``reduction``: ``"batchmean"`` (the
    sum divided by the batch size, the true KL divergence per example),
    ``"sum"``, ``"none"``, or ``"mean"`` (PyTorch's default: over all elements,
    which divides the KL divergence by the number of classes too).

    >>> import nnlab, numpy as np
    >>> round(kl_div(nnlab.tensor(np.log([[0.5, 0.5]])), [[0.9, 0.1]], reduction="batchmean").item(), 4)
    0.3681
    """
    check_reduction(reduction, "kl_div", KL_REDUCTIONS)
    log_target = check_bool("log_target", log_target, owner="kl_div")
    input = prediction(input)
    target = same_shape(input, target, "kl_div")
    X, T = input.data, target.data
    if log_target:
        p = np.exp(T)  # the target's probabilities: the input's gradient is −p
        per = p * (T - X)
    else:
        p = T
        with np.errstate(divide="ignore", invalid="ignore"):  # log 0 = −inf, and 0·log 0 counts as 0
            log_t = np.log(T)
            per = np.where(T == 0, T.dtype.type(0), T * log_t) - T * X
    count = (X.shape[0] if X.ndim else 1) if reduction == "batchmean" else per.size
    out, factor = reduce(per, "mean" if reduction == "batchmean" else reduction, count, X.dtype)
    rx, rt = input.requires_grad, target.requires_grad

    def backward(g):
        up = upstream(g, factor)
        d_target = None
        if rt:
            d_target = (per + p) * up if log_target else (log_t + 1 - X) * up
        return (-p * up if rx else None, d_target)

    return make_result(out, (input, target), backward)


@register("kl_div", kl_div)
class KLDivLoss(Loss):
    """KL divergence from log-probabilities, as ``torch.nn.KLDivLoss`` (reductions include ``"batchmean"``)."""

    reductions = KL_REDUCTIONS

    def __init__(self, reduction="mean", log_target=False):
        super().__init__(reduction)
        self._settings = {"log_target": check_bool("log_target", log_target, owner="KLDivLoss")}
