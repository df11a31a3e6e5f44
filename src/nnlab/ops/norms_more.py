"""torch's ``instance_norm`` and ``rms_norm``, each one graph node with an analytic backward.

Instance norm normalizes every (sample, channel) of an (N, C, *spatial) input over
its positions: group norm with one channel a group, so the batch statistics take
:mod:`.norms`' fused node (and its numba kernels).  What group norm lacks is
torch's running statistics: with ``use_input_stats`` the per-(n, c) mean and
UNBIASED variance, averaged over the batch, move ``running_mean``/``running_var``
by ``momentum``; without it they normalize, y = (x − μ_run[c])·w[c]/√(σ²_run[c] + ε) + b[c].

RMS norm divides each sample's trailing ``normalized_shape`` values by their root
mean square: x̂ = x·s with s = 1/√(mean(x²) + ε), y = x̂·w.  Backward, with
ĝ = g·w and K values a row: dx = s·(ĝ − x̂·mean(ĝ·x̂)), dw = Σ g·x̂ over the rows.
``eps=None`` is torch's: the machine epsilon of the input's dtype.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_bool, check_float
from ..errors import ConfigError
from ..tensor import Tensor, as_floating, as_tensor, is_grad_enabled, make_result
from .fused import _column_sums, _like, _row_sums
from .norms import _check_param, _normalized, _param_sums, as_normalized_shape, check_layer_input

__all__ = ["instance_norm", "rms_norm"]


def _as_parameter(p, like):
    """A weight or bias as a Tensor (an array becomes a constant of the input's dtype), or None."""
    return None if p is None else as_tensor(p, like=like)


def _running_array(r, name, channels, owner):
    """A running statistic as the array updated in place (a Tensor's data), checked to be (C,)."""
    if r is None:
        return None
    array = r.data if isinstance(r, Tensor) else r
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
        raise ConfigError(f"{owner}: {name} must be a floating Tensor or ndarray of shape ({channels},) (it is "
                          f"updated in place), got {type(r).__name__}")
    if array.shape != (channels,):
        raise ConfigError(f"{owner}: {name} must have shape ({channels},), got {array.shape}")
    return array


def check_instance_input(shape, use_input_stats, owner="instance_norm") -> None:
    """Refuse an input that is not (N, C, *spatial), or one position a channel where the input gives the statistics."""
    if len(shape) < 3:
        raise ConfigError(f"{owner}: the input must be (N, C, *spatial) with at least one spatial axis, "
                          f"got input shape {tuple(shape)}")
    if use_input_stats and math.prod(shape[2:]) == 1:  # torch's message: a variance of one value is 0/0
        raise ConfigError(f"{owner}: expected more than 1 spatial element when training, got input shape "
                          f"{tuple(shape)}")


def _update_running(X3, running_mean, running_var, momentum):
    """torch's update: each statistic of (n, c) moves its copy by ``momentum``, the copies averaged over n."""
    if running_mean is not None:
        m = running_mean.dtype.type(momentum)
        running_mean *= 1 - m
        running_mean += m * X3.mean(axis=(0, 2)).astype(running_mean.dtype, copy=False)
    if running_var is not None:
        m = running_var.dtype.type(momentum)
        unbiased = X3.var(axis=2, ddof=1).mean(axis=0)  # ddof=1: torch's running variance is unbiased (S > 1 here)
        running_var *= 1 - m
        running_var += m * unbiased.astype(running_var.dtype, copy=False)


def _with_running_stats(x, weight, bias, running_mean, running_var, eps):
    """y = (x − μ_run)·w/√(σ²_run + ε) + b per channel of (N, C, S), one node."""
    X = x.data
    n, c = X.shape[0], X.shape[1]
    X3 = X.reshape(n, c, -1)
    dt = X.dtype.type
    inv = (1 / np.sqrt(running_var.astype(X.dtype, copy=False) + dt(eps)))[:, None]
    xc = X3 - running_mean.astype(X.dtype, copy=False)[:, None]
    W = None if weight is None else weight.data.reshape(c, 1)
    scale = inv if W is None else inv * W
    out = xc * scale
    if bias is not None:
        out += bias.data.reshape(c, 1)
    rx = x.requires_grad
    rw = weight is not None and weight.requires_grad
    if not (is_grad_enabled() and rw):
        xc = None  # only dw needs x − μ_run

    def backward(g):
        g3 = g.reshape(n, c, -1)
        result = ((g3 * scale).reshape(X.shape) if rx else None,)
        if weight is not None:
            result += (_param_sums(g3 * (xc * inv), (n, c, X3.shape[2])).reshape(weight.data.shape) if rw else None,)
        if bias is not None:
            result += (_param_sums(g3, (n, c, X3.shape[2])).reshape(bias.data.shape) if bias.requires_grad else None,)
        return result

    parents = (x,) + tuple(p for p in (weight, bias) if p is not None)
    return make_result(out.reshape(X.shape), parents, backward)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """``torch.nn.functional.instance_norm``: each (sample, channel) of (N, C, *spatial) normalized over its positions.

    ``weight`` and ``bias`` (C values, or None) scale and shift each channel.  With
    ``use_input_stats`` (the default) each instance's mean and biased variance normalize,
    and ``running_mean``/``running_var`` (C-value arrays or Tensors, or None) are updated
    in place as torch does: ``running = (1 − momentum)·running + momentum·stat``, ``stat``
    the batch average of the instances' means and unbiased variances.  With
    ``use_input_stats=False`` the running statistics normalize (both are needed).

    >>> import nnlab
    >>> instance_norm(nnlab.tensor([[[1.0, 3.0]]])).numpy().round(3).tolist()
    [[[-1.0, 1.0]]]
    """
    x = as_floating(input)
    use_input_stats = check_bool("use_input_stats", use_input_stats, owner="instance_norm")
    shape = x.data.shape
    check_instance_input(shape, use_input_stats)
    c = shape[1]
    weight, bias = _as_parameter(weight, x), _as_parameter(bias, x)
    _check_param("weight", weight, (c,), "instance_norm")
    _check_param("bias", bias, (c,), "instance_norm")
    running_mean = _running_array(running_mean, "running_mean", c, "instance_norm")
    running_var = _running_array(running_var, "running_var", c, "instance_norm")
    momentum = check_float("momentum", momentum, 0.0, 1.0, owner="instance_norm")
    eps = check_float("eps", eps, 0.0, owner="instance_norm")
    like = weight if weight is not None else bias
    x = _like(x, like) if like is not None else x
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ConfigError("instance_norm: use_input_stats=False normalizes with the running statistics: give "
                              "running_mean and running_var")
        return _with_running_stats(x, weight, bias, running_mean, running_var, eps)
    n, s = shape[0], math.prod(shape[2:])
    out = _normalized(x, weight, bias, (n * c, s), (n, c, s), (c, 1), eps, "instance_norm")
    if running_mean is not None or running_var is not None:
        _update_running(x.data.reshape(n, c, s), running_mean, running_var, momentum)
    return out


def rms_eps(eps, dtype, owner="rms_norm") -> float:
    """``eps`` checked, or torch's default for None: the machine epsilon of ``dtype`` (float32: 1.19e-07)."""
    return float(np.finfo(dtype).eps) if eps is None else check_float("eps", eps, 0.0, owner=owner)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``torch.nn.functional.rms_norm``: the trailing ``normalized_shape`` axes divided by their root mean square.

    y = x / √(mean(x²) + ε) · weight, the mean over the last ``len(normalized_shape)``
    axes of each sample; ``weight`` (of shape ``normalized_shape``, or None) scales
    elementwise; ``eps=None``: the machine epsilon of the input's dtype, as torch.

    >>> import nnlab
    >>> rms_norm(nnlab.tensor([[2.0, -2.0, 2.0, 2.0]]), 4).numpy().round(3).tolist()
    [[1.0, -1.0, 1.0, 1.0]]
    """
    shape = as_normalized_shape(normalized_shape, "rms_norm")
    x = as_floating(input)
    check_layer_input(x.data.shape, shape, "rms_norm")
    weight = _as_parameter(weight, x)
    _check_param("weight", weight, shape, "rms_norm")
    x = _like(x, weight) if weight is not None else x
    X = x.data
    dt = X.dtype.type
    eps = rms_eps(eps, X.dtype)
    k = math.prod(shape)
    Xr = X.reshape(-1, k)
    inv_k = dt(1.0 / k)
    inv = 1 / np.sqrt(_row_sums(np.square(Xr)) * inv_k + dt(eps))
    xhat = Xr * inv
    rx = x.requires_grad
    rw = weight is not None and weight.requires_grad
    W = None if weight is None else weight.data.reshape(k)
    # Keep x̂ for the backward: the output is then a new array (an in-place write to it must not reach x̂).
    out = (xhat.copy() if is_grad_enabled() and rx else xhat) if W is None else xhat * W

    def backward(g):
        gr = g.reshape(Xr.shape)
        gx = None
        if rx:
            gh = gr * W if W is not None else gr.copy()
            t = gh * xhat
            gh -= xhat * (_row_sums(t) * inv_k)  # s·(ĝ − x̂·mean(ĝ·x̂))
            gh *= inv
            gx = gh.reshape(X.shape)
        if weight is None:
            return (gx,)
        return gx, (_column_sums(gr * xhat).reshape(weight.data.shape) if rw else None)

    parents = (x,) if weight is None else (x, weight)
    return make_result(out.reshape(X.shape), parents, backward)
