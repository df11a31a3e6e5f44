"""Negative log-likelihoods of counts and of real values: Poisson (a registered loss) and Gaussian (with a variance).

Both give the target a gradient when it is a Tensor that requires grad (torch
computes them from differentiable ops too), and the Gaussian's variance one.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_bool, check_float
from ..errors import DataError
from ..ops._broadcast import unbroadcast
from ..tensor import Tensor, as_tensor, make_result
from ._common import check_reduction, prediction, reduce, same_shape, upstream
from .base import Loss, MultiInputLoss, register

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def poisson_nll_loss(input, target, log_input=True, full=False, *, eps=1e-8, reduction="mean"):
    """Poisson negative log-likelihood of counts t with rate λ, as ``torch.nn.PoissonNLLLoss``.

    ``log_input`` (default): the input is log λ and the loss e^x − t·x; else the input
    is λ and the loss λ − t·log(λ + eps).  ``full`` adds Stirling's approximation of
    log t!, t·log t − t + ½·log(2πt), for the targets above 1 (torch's rule: 0 for t ≤ 1).
    ``eps`` and ``reduction`` are keyword-only (torch's positional order has the deprecated
    ``size_average`` between them).

    >>> import nnlab
    >>> round(poisson_nll_loss(nnlab.tensor([0.0, 1.0]), [1.0, 2.0]).item(), 4)
    0.8591
    """
    where = "poisson_nll_loss"
    check_reduction(reduction, where)
    log_input = check_bool("log_input", log_input, owner=where)
    full = check_bool("full", full, owner=where)
    eps = check_float("eps", eps, 0.0, owner=where)
    input = prediction(input)
    target = same_shape(input, target, where)
    X, T = input.data, target.data
    dt = X.dtype.type
    if log_input:
        rate = np.exp(X)
        per, dX, dT = rate - T * X, rate - T, -X
    else:
        log_rate = np.log(X + dt(eps))  # a negative rate gives NaN, as in torch
        per, dX, dT = X - T * log_rate, 1 - T / (X + dt(eps)), -log_rate
    if full:
        counted = T > 1
        safe = np.where(counted, T, dt(1))  # keeps log t finite where the term does not count
        log_t = np.log(safe)
        per = per + np.where(counted, T * log_t - T + dt(0.5) * np.log(dt(2 * math.pi) * safe), dt(0))
        dT = dT + np.where(counted, log_t + dt(0.5) / safe, dt(0))
    out, factor = reduce(per, reduction, per.size, X.dtype)
    rx, rt = input.requires_grad, target.requires_grad

    def backward(g):
        up = upstream(g, factor)
        return (dX * up if rx else None, dT * up if rt else None)

    return make_result(out, (input, target), backward)


def _variance(var, input, where):
    """``var`` as a Tensor in the input's dtype, in a shape that broadcasts to the input's (torch's rules)."""
    X = input.data
    if not isinstance(var, Tensor) and np.ndim(var) == 0 and not isinstance(var, np.ndarray):
        v = check_float("var", var, owner=where)
        if v < 0:
            raise DataError(f"{where}: var must be >= 0, got {var!r}")
        return as_tensor(np.full(X.shape, v, dtype=X.dtype))
    var = var if isinstance(var, Tensor) and (var.requires_grad or var.data.dtype == X.dtype) else \
        as_tensor(var.data if isinstance(var, Tensor) else np.asarray(var), like=input)
    shape = var.data.shape
    if shape != X.shape:
        if shape == X.shape[:-1]:  # one variance per row of the last axis (homoscedastic along it)
            var = var.reshape(shape + (1,))
        elif not (len(shape) == X.ndim and sum(v for x, v in zip(X.shape, shape) if x != v) == 1):
            raise DataError(f"{where}: var of shape {shape} does not fit the input's shape {X.shape}: give var "
                            f"the input's shape, the input's shape without its last axis {X.shape[:-1]}, or the "
                            "input's shape with one axis of size 1")
    if np.any(var.data < 0):
        raise DataError(f"{where}: var must be >= 0, got {var.data[var.data < 0].ravel()[:3].tolist()}")
    return var


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Gaussian negative log-likelihood ½(log v + (x − t)²/v) of target t under mean x and variance v.

    As ``torch.nn.GaussianNLLLoss``: ``var`` is a Tensor of the input's shape (one
    variance per value), of the input's shape without the last axis or with one axis
    of size 1 (shared along it), or a number; it is clamped below at ``eps`` with
    the gradient passing as if it were not (torch clamps in ``no_grad``).  ``full``
    adds ½·log 2π.  Negative variances are refused.

    >>> import nnlab
    >>> round(gaussian_nll_loss(nnlab.tensor([0.0, 1.0]), [1.0, 1.0], 1.0).item(), 4)
    0.25
    """
    where = "gaussian_nll_loss"
    check_reduction(reduction, where)
    full = check_bool("full", full, owner=where)
    eps = check_float("eps", eps, 0.0, owner=where)
    input = prediction(input)
    target = same_shape(input, target, where)
    var = _variance(var, input, where)
    X, T = input.data, target.data
    dt = X.dtype.type
    V = np.maximum(var.data, dt(eps))
    d = X - T
    d_over_v = d / V
    per = dt(0.5) * (np.log(V) + d * d_over_v)
    if full:
        per = per + dt(_HALF_LOG_2PI)
    out, factor = reduce(per, reduction, per.size, X.dtype)
    rx, rt, rv = input.requires_grad, target.requires_grad, var.requires_grad

    def backward(g):
        up = upstream(g, factor)
        dX = d_over_v * up
        dV = unbroadcast(dt(0.5) * (1 / V - d_over_v * d_over_v) * up, var.data.shape) if rv else None
        return (dX if rx else None, -dX if rt else None, dV)

    return make_result(out, (input, target, var), backward)


@register("poisson_nll", poisson_nll_loss)
class PoissonNLLLoss(Loss):
    """Poisson negative log-likelihood, as ``torch.nn.PoissonNLLLoss`` (``log_input``, ``full``, ``eps``)."""

    def __init__(self, log_input=True, full=False, *, eps=1e-8, reduction="mean"):
        super().__init__(reduction)
        where = "PoissonNLLLoss"
        self._settings = {"log_input": check_bool("log_input", log_input, owner=where),
                          "full": check_bool("full", full, owner=where), "eps": check_float("eps", eps, 0.0, owner=where)}


class GaussianNLLLoss(MultiInputLoss):
    """Gaussian negative log-likelihood, ``loss(input, target, var)``, as ``torch.nn.GaussianNLLLoss``."""

    _fn = staticmethod(gaussian_nll_loss)

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction)
        where = "GaussianNLLLoss"
        self._settings = {"full": check_bool("full", full, owner=where), "eps": check_float("eps", eps, 0.0, owner=where)}
