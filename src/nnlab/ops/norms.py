"""Layer and group normalization, each one graph node with a fused analytic backward; torch's ``normalize``.

Both normalize rows: layer norm the trailing ``normalized_shape`` values of each
sample, group norm the channels and positions of each (sample, group) of an
(N, C, *) input.  Each row gets its mean μ and biased variance σ²,
x̂ = (x − μ)·s with s = 1/√(σ² + ε), then y = x̂·w + b with w, b broadcast over
the row's values (layer norm: elementwise over normalized_shape; group norm: one
value per channel).  Backward, with ĝ = g·w and K values a row:
dx = s·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), dw = Σ g·x̂ and db = Σ g over all but the
parameters' axes.  The NumPy passes keep x̂ (and s, one value a row) for the backward;
the kernels keep μ and s and recompute x̂ from x.

With numba (``nnlab[fast]``), C-contiguous rows of at least ``_jit.MIN_ELEMENTS``
values (or any size with ``NNLAB_JIT=1``) run the same formulas as two kernels
(``_norm_fast.py``; equal to these NumPy passes to rounding), 2–7x faster (timings there).
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_float, check_int
from ..errors import ConfigError
from ..tensor import as_floating, is_grad_enabled, make_result
from . import _norm_fast
from .elementwise import maximum
from .fused import _column_sums, _like, _row_sums
from .reduce import norm

__all__ = ["layer_norm", "group_norm", "normalize"]


def _param_sums(A, view):
    """Σ of ``A`` (shaped ``view``) over every axis but the parameters': (R, D) -> (D,), (N, C, S) -> (C,)."""
    if len(view) == 2:
        return _column_sums(A.reshape(view))
    n, c, s = view
    return _column_sums(_row_sums(A.reshape(n * c, s)).reshape(n, c))


def _param_rows(a, K, view, fill, dtype):
    """A parameter as the kernels' (P, K) rows (see ``_norm_fast.py``); ``fill`` (1 or 0) for an absent one."""
    if len(view) == 2:  # layer norm: one row
        return np.ascontiguousarray(a.reshape(1, K), dtype) if a is not None else np.full((1, K), fill, dtype)
    n, c, s = view
    groups = c * s // K
    per_channel = a.astype(dtype, copy=False) if a is not None else np.full(c, fill, dtype)
    return np.repeat(per_channel.reshape(groups, c // groups), s, axis=1)  # each channel's value over its positions


def _param_grad(rows_grad, view, shape):
    """The kernels' (P, K) parameter gradient in the parameter's shape (group norm: summed over each channel's positions)."""
    if len(view) == 2:
        return rows_grad.reshape(shape)
    return rows_grad.reshape(rows_grad.shape[0], -1, view[2]).sum(axis=2).reshape(shape)


def _kernel_pass(found, Xr, weight, bias, view, eps, rx, rw, rb):
    """The numba rows: ``(out, grads)``, ``grads(g) -> (dx rows or None, dw or None, db or None)``."""
    K, dtype = Xr.shape[1], Xr.dtype
    Wp = _param_rows(None if weight is None else weight.data, K, view, 1, dtype)
    Bp = _param_rows(None if bias is None else bias.data, K, view, 0, dtype)
    out, mu, inv = _norm_fast.forward(found, Xr, Wp, Bp, eps)

    def grads(g):
        gx, gW, gB = _norm_fast.backward(found, g, Xr, mu, inv, Wp, rx)
        return (gx, _param_grad(gW, view, weight.data.shape) if rw else None,
                _param_grad(gB, view, bias.data.shape) if rb else None)

    return out, grads


def _reference_pass(Xr, W, B, view, eps, recording, rx, rw, rb):
    """The NumPy rows, as :func:`_kernel_pass`; ``W``/``B`` are the parameters shaped to broadcast over ``view``."""
    dt = Xr.dtype.type
    rows = Xr.shape
    inv_k = dt(1.0 / rows[1])
    xhat = Xr - _row_sums(Xr) * inv_k
    inv = 1 / np.sqrt(_row_sums(np.square(xhat)) * inv_k + dt(eps))
    xhat *= inv
    xv = xhat.reshape(view)
    # Keep x̂ for the backward: the output is then a new array (an in-place write to it must not reach x̂).
    out = xv.copy() if recording and W is None else xv
    if W is not None:
        out = np.multiply(xv, W, out=None if recording else out)
    if B is not None:
        out += B

    def grads(g):
        gv = g.reshape(view)
        gw = _param_sums(gv * xv, view) if rw else None
        gb = _param_sums(gv, view) if rb else None
        gx = None
        if rx:
            gh = (gv * W if W is not None else gv).reshape(rows)
            t = gh * xhat
            m2 = _row_sums(t) * inv_k
            gx = np.multiply(xhat, -m2, out=t)  # s·(ĝ − x̂·mean(ĝ·x̂) − mean(ĝ)), in the buffer of ĝ·x̂
            gx += gh
            gx -= _row_sums(gh) * inv_k
            gx *= inv
        return gx, gw, gb

    return out, grads


def _normalized(x, weight, bias, rows, view, param_view, eps, owner):
    """The shared node: normalize ``x`` as ``rows`` (R, K), then scale and shift as ``view`` by (param_view)-shaped w, b."""
    like = weight if weight is not None else bias
    x = _like(x, like) if like is not None else x
    eps = check_float("eps", eps, 0.0, owner=owner)
    X = x.data
    Xr = X.reshape(rows)
    rx = x.requires_grad
    rw = weight is not None and weight.requires_grad
    rb = bias is not None and bias.requires_grad
    found = _norm_fast.kernels(Xr)
    if found is not None:
        out, grads = _kernel_pass(found, Xr, weight, bias, view, eps, rx, rw, rb)
    else:
        W = None if weight is None else weight.data.reshape(param_view)
        B = None if bias is None else bias.data.reshape(param_view)
        out, grads = _reference_pass(Xr, W, B, view, eps, is_grad_enabled() and (rx or rw or rb), rx, rw, rb)
    parents = (x,) + tuple(p for p in (weight, bias) if p is not None)

    def backward(g):
        gx, gw, gb = grads(g)
        result = (None if gx is None else gx.reshape(X.shape),)
        if weight is not None:
            result += (None if gw is None else gw.reshape(weight.data.shape),)
        if bias is not None:
            result += (None if gb is None else gb.reshape(bias.data.shape),)
        return result

    return make_result(out.reshape(X.shape), parents, backward)


def as_normalized_shape(normalized_shape, owner) -> tuple:
    """``normalized_shape`` as a tuple of ints >= 1 (an int is one axis, as torch's)."""
    if isinstance(normalized_shape, (int, np.integer)) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    if not isinstance(normalized_shape, (tuple, list)) or not normalized_shape:
        raise ConfigError(f"{owner}: normalized_shape must be an int or a non-empty list of ints, "
                          f"got {normalized_shape!r}")
    return tuple(check_int("normalized_shape", n, 1, owner=owner) for n in normalized_shape)


def _check_param(name, p, shape, owner):
    if p is not None and tuple(p.data.shape) != tuple(shape):
        raise ConfigError(f"{owner}: {name} must have shape {tuple(shape)}, got {tuple(p.data.shape)}")


def check_layer_input(shape, normalized_shape, owner="layer_norm") -> None:
    """Refuse an input whose trailing axes are not ``normalized_shape``."""
    k = len(normalized_shape)
    if len(shape) < k or tuple(shape[len(shape) - k:]) != tuple(normalized_shape):
        raise ConfigError(f"{owner}: normalized_shape={tuple(normalized_shape)} must equal the input's trailing "
                          f"shape, got input shape {tuple(shape)}")


def check_group_input(shape, num_groups, num_channels=None, owner="group_norm") -> None:
    """Refuse an input that is not (N, C, *) with C divisible by ``num_groups`` (and equal to ``num_channels``)."""
    if len(shape) < 2:
        raise ConfigError(f"{owner}: the input must be (N, C, *) with at least 2 axes, got input shape {tuple(shape)}")
    if num_channels is not None and shape[1] != num_channels:
        raise ConfigError(f"{owner}: expects {num_channels} channels on axis 1, got input shape {tuple(shape)}")
    if shape[1] % num_groups:
        raise ConfigError(f"{owner}: the input's channels ({shape[1]}) must be divisible by num_groups "
                          f"({num_groups}), got input shape {tuple(shape)}")


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """``torch.nn.functional.layer_norm``: normalize the trailing ``normalized_shape`` axes of each sample.

    ``weight`` and ``bias`` (Tensors of shape ``normalized_shape``, or None) scale and shift elementwise.

    >>> import nnlab
    >>> layer_norm(nnlab.tensor([[1.0, 3.0]]), 2).numpy().round(3).tolist()
    [[-1.0, 1.0]]
    """
    shape = as_normalized_shape(normalized_shape, "layer_norm")
    x = as_floating(x)
    check_layer_input(x.data.shape, shape)
    _check_param("weight", weight, shape, "layer_norm")
    _check_param("bias", bias, shape, "layer_norm")
    d = math.prod(shape)
    rows = (x.data.size // d, d)
    return _normalized(x, weight, bias, rows, rows, (d,), eps, "layer_norm")


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """``torch.nn.functional.group_norm``: normalize each group of C/num_groups channels of (N, C, *) per sample.

    ``weight`` and ``bias`` (Tensors of shape (C,), or None) scale and shift each channel.
    """
    num_groups = check_int("num_groups", num_groups, 1, owner="group_norm")
    x = as_floating(x)
    shape = x.data.shape
    check_group_input(shape, num_groups)
    n, c = shape[0], shape[1]
    _check_param("weight", weight, (c,), "group_norm")
    _check_param("bias", bias, (c,), "group_norm")
    s = math.prod(shape[2:])
    rows = (n * num_groups, (c // num_groups) * s)
    return _normalized(x, weight, bias, rows, (n, c, s), (c, 1), eps, "group_norm")


def normalize(x, p=2.0, dim=1, eps=1e-12):
    """``torch.nn.functional.normalize``: x / max(‖x‖_p, ε) along ``dim``.

    Composed of :func:`norm` and :func:`maximum` as torch composes it (``clamp_min``): the
    gradient is the same, ties at ε included (they go to the norm, as torch's clamp).
    """
    eps = check_float("eps", eps, 0.0, owner="normalize")
    x = as_floating(x)
    denominator = maximum(norm(x, ord=p, axis=dim, keepdims=True), x.data.dtype.type(eps))
    return x / denominator
