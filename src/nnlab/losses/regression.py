"""Regression losses: mean squared error, the seeds' Euclidean cost, Huber and smooth L1.

Each is one graph node; the target gets a gradient only when it is a Tensor that requires grad.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_float
from ..tensor import make_result
from ._common import check_reduction, prediction, reduce, same_shape, upstream
from .base import Loss, register


def _difference(pred, target, reduction, where):
    """(pred, target, pred − target) after the checks every regression loss makes."""
    check_reduction(reduction, where)
    pred = prediction(pred)
    target = same_shape(pred, target, where)
    return pred, target, pred.data - target.data


def _elementwise_node(pred, target, per, derivative, reduction):
    """The node of a loss Σ f(pred − target): ``per`` = f(d), ``derivative`` = f'(d), both of d's shape."""
    out, factor = reduce(per, reduction, per.size, per.dtype)
    rp, rt = pred.requires_grad, target.requires_grad

    def backward(g):
        grad = derivative * upstream(g, factor)
        return (grad if rp else None, -grad if rt else None)

    return make_result(out, (pred, target), backward)


def mse_loss(pred, target, reduction="mean"):
    """Mean squared error mean((pred − target)²), equal to ``torch.nn.MSELoss``.

    >>> import nnlab
    >>> mse_loss(nnlab.tensor([1.0, 3.0]), [0.0, 1.0]).item()
    2.5
    """
    pred, target, diff = _difference(pred, target, reduction, "mse_loss")
    return _elementwise_node(pred, target, diff * diff, diff * diff.dtype.type(2), reduction)


def l1_loss(pred, target, reduction="mean"):
    """Mean absolute error mean(|pred − target|), equal to ``torch.nn.L1Loss``; gradient sign(pred − target) (0 at 0).

    >>> import nnlab
    >>> l1_loss(nnlab.tensor([1.0, 3.0]), [0.0, 1.0]).item()
    1.5
    """
    pred, target, diff = _difference(pred, target, reduction, "l1_loss")
    return _elementwise_node(pred, target, np.abs(diff), np.sign(diff), reduction)


def euclidean_loss(pred, target, reduction="mean"):
    """The seeds' Euclidean cost ½‖pred − target‖², summed over outputs, averaged over the batch.

    The batch is the first axis (N); the gradient is (pred − target)/N.
    ``reduction="sum"`` sums over the batch, ``"none"`` gives one value per example.

    >>> import nnlab
    >>> euclidean_loss(nnlab.tensor([[1.0, 2.0], [0.0, 0.0]]), [[0.0, 0.0], [0.0, 1.0]]).item()
    1.5
    """
    pred, target, diff = _difference(pred, target, reduction, "euclidean_loss")
    dt = diff.dtype.type
    half_sq = diff * diff * dt(0.5)
    n = diff.shape[0] if diff.ndim else 1
    per = half_sq.reshape(n, -1).sum(axis=1).reshape(diff.shape[:1]) if diff.ndim else half_sq
    out, factor = reduce(per, reduction, n, diff.dtype)
    rp, rt = pred.requires_grad, target.requires_grad

    def backward(g):
        up = upstream(g, factor)
        if factor is None and diff.ndim > 1:  # per-example upstream gradient, spread over the outputs
            up = np.reshape(up, diff.shape[:1] + (1,) * (diff.ndim - 1))
        grad = diff * up
        return (grad if rp else None, -grad if rt else None)

    return make_result(out, (pred, target), backward)


def _quadratic_then_linear(diff, width, quadratic, slope):
    """(f(d), f'(d)) of f = quadratic·d²/2 for |d| < width, slope·(|d| − width/2) beyond (continuous at |d| = width)."""
    dt = diff.dtype.type
    size = np.abs(diff)
    inner = size < dt(width)
    per = np.where(inner, diff * diff * dt(0.5 * quadratic), (size - dt(0.5 * width)) * dt(slope))
    derivative = np.where(inner, diff * dt(quadratic), np.sign(diff) * dt(slope))
    return per, derivative


def huber_loss(pred, target, reduction="mean", delta=1.0):
    """Huber loss: ½d² for |d| < δ, δ(|d| − δ/2) beyond (d = pred − target); gradient d, clipped to ±δ.

    Equal to ``torch.nn.HuberLoss(delta=δ)``; quadratic near the target, linear (robust to outliers) far from it.

    >>> import nnlab
    >>> huber_loss(nnlab.tensor([0.5, 3.0]), [0.0, 0.0], delta=1.0).item()
    1.3125
    """
    delta = check_float("delta", delta, 0.0, low_open=True, owner="huber_loss")
    pred, target, diff = _difference(pred, target, reduction, "huber_loss")
    return _elementwise_node(pred, target, *_quadratic_then_linear(diff, delta, 1.0, delta), reduction)


def smooth_l1_loss(pred, target, reduction="mean", beta=1.0):
    """Smooth L1: ½d²/β for |d| < β, |d| − β/2 beyond; gradient d/β, clipped to ±1 (β = 0: L1 loss).

    Equal to ``torch.nn.SmoothL1Loss(beta=β)``; the Huber loss with δ = β divided by β.

    >>> import nnlab
    >>> smooth_l1_loss(nnlab.tensor([0.5, 3.0]), [0.0, 0.0], beta=1.0).item()
    1.3125
    """
    beta = check_float("beta", beta, 0.0, owner="smooth_l1_loss")
    pred, target, diff = _difference(pred, target, reduction, "smooth_l1_loss")
    # beta = 0: the quadratic zone |d| < 0 is empty, so its scale never counts
    return _elementwise_node(pred, target, *_quadratic_then_linear(diff, beta, 1.0 / beta if beta else 0.0, 1.0),
                             reduction)


@register("mse", mse_loss)
class MSELoss(Loss):
    """Mean squared error, as ``torch.nn.MSELoss``."""


@register("l1", l1_loss)
class L1Loss(Loss):
    """Mean absolute error, as ``torch.nn.L1Loss``."""


@register("euclidean", euclidean_loss)
class EuclideanLoss(Loss):
    """½‖output − target‖² per example, averaged over the batch (the seeds' cost)."""


@register("huber", huber_loss)
class HuberLoss(Loss):
    """Huber loss with threshold ``delta``, as ``torch.nn.HuberLoss``."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self._settings = {"delta": check_float("delta", delta, 0.0, low_open=True, owner="HuberLoss")}


@register("smooth_l1", smooth_l1_loss)
class SmoothL1Loss(Loss):
    """Smooth L1 loss with threshold ``beta``, as ``torch.nn.SmoothL1Loss``."""

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self._settings = {"beta": check_float("beta", beta, 0.0, owner="SmoothL1Loss")}
