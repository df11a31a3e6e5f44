"""Activation functions and softmax family, each a graph node with an analytic backward.

The notes' activations live here; the further ones PyTorch users reach for
(softplus, GELU, SiLU, …) in :mod:`nnlab.ops.activations` and the rest of torch's
(logsigmoid, the shrinks, threshold, glu, rrelu) in :mod:`nnlab.ops.activations_more`, exported here too, as are
torch's ``layer_norm``, ``group_norm`` and ``normalize`` (:mod:`nnlab.ops.norms`), ``instance_norm`` and
``rms_norm`` (:mod:`nnlab.ops.norms_more`).
"""

import numpy as np

from ._checks import check_float
from .errors import ConfigError
from .ops.reduce import _axes, dim_keywords
from .tensor import as_floating, as_tensor, make_result
from .ops.activations import _rectify, _relu_grad
from .ops.activations import (  # noqa: F401  (re-exported)
    celu, gelu, hardsigmoid, hardswish, hardtanh, mish, relu6, selu, silu, softplus, softsign,
)
from .ops.activations_more import (  # noqa: F401  (re-exported)
    glu, hardshrink, logsigmoid, rrelu, softshrink, tanhshrink, threshold,
)
from .ops.norms import group_norm, layer_norm, normalize  # noqa: F401  (re-exported, torch's F.layer_norm, ...)
from .ops.norms_more import instance_norm, rms_norm  # noqa: F401  (re-exported, torch's F.instance_norm, F.rms_norm)
from .ops.resize import interpolate  # noqa: F401  (re-exported, torch's F.interpolate)


def sigmoid(x):
    """σ(x) = 1 / (1 + e^(−x)), computed without overflow; σ' = σ(1 − σ)."""
    x = as_floating(x)
    X = x.data
    z = np.exp(-np.abs(X))  # in (0, 1]: never overflows
    out = np.where(X >= 0, 1, z).astype(X.dtype, copy=False)  # numerator: 1 for x >= 0, e^x below
    out /= 1 + z

    def backward(g):
        d = 1 - out
        d *= out
        d *= g
        return (d,)

    return make_result(out, (x,), backward)


def tanh(x):
    """tanh(x); backward 1 − tanh²(x)."""
    x = as_floating(x)
    out = np.tanh(x.data)
    return make_result(out, (x,), lambda g: (g * (1 - out * out),))


def relu(x):
    """max(0, x); the derivative is 1[x > 0] (0 at x = 0, as in PyTorch)."""
    x = as_tensor(x)  # an integer input stays integer, as torch.relu
    X = x.data
    return make_result(_rectify(X), (x,), lambda g: (_relu_grad(g, X),))


def leaky_relu(x, alpha=0.01, *, negative_slope=None):
    """max(αx, x) for 0 ≤ α < 1: the seeds' Leaky ReLU with α = 0.01 (torch's keyword ``negative_slope``)."""
    if negative_slope is not None:
        if alpha != 0.01:
            raise TypeError("leaky_relu: give alpha= or torch's negative_slope=, not both")
        alpha = negative_slope
    x = as_floating(x)
    X = x.data
    a = X.dtype.type(check_float("alpha", alpha, 0.0, 1.0, high_open=True, owner="leaky_relu"))
    positive = X > 0
    out = np.where(positive, X, a * X)
    return make_result(out, (x,), lambda g: (np.where(positive, g, a * g),))


def elu(x, alpha=1.0):
    """x for x > 0, α(eˣ − 1) for x ≤ 0; derivative α·eˣ on the negative side.

    The notes print "ae^x − 1", which jumps at 0 for a ≠ 1: read as α(eˣ − 1), as
    Clevert et al. and PyTorch define it (both agree at the default α = 1).
    """
    x = as_floating(x)
    X = x.data
    a = X.dtype.type(alpha)
    positive = X > 0
    negative_part = a * np.expm1(np.minimum(X, 0))
    out = np.where(positive, X, negative_part)
    return make_result(out, (x,), lambda g: (np.where(positive, g, g * (negative_part + a)),))


def _softmax_array(X, axis):
    shifted = X - X.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    e /= e.sum(axis=axis, keepdims=True)
    return e


def input_scale(temperature=None, beta=None, owner="softmax") -> float:
    """The factor the softmax family multiplies its input by: 1/T for ``temperature=T``, β for ``beta=β``.

    ``temperature`` follows PyTorch code, Hinton's distillation and the
    textbooks (T > 1 flattens); ``beta`` is the notes' β ("temperature",
    multiplying the input; a larger β sharpens).  Give at most one.

    >>> input_scale(temperature=2.0), input_scale(beta=3.0), input_scale()
    (0.5, 3.0, 1.0)
    """
    if temperature is not None and beta is not None:
        raise ConfigError(
            f"{owner}: give temperature= (divides the input, T > 1 flattens) or beta= "
            f"(the notes' β, multiplies the input), not both; got temperature={temperature!r}, beta={beta!r}"
        )
    if temperature is not None:
        return 1.0 / check_float("temperature", temperature, 0.0, low_open=True, owner=owner)
    if beta is not None:
        return check_float("beta", beta, 0.0, low_open=True, owner=owner)
    return 1.0


def softmax(x, axis=-1, temperature=None, *, beta=None, dim=None):
    """softmax(x / T) along ``axis`` (``temperature=T``), or the notes' softmax(β·x) (``beta=β``).

    z_i = exp(β x_i) / Σ_k exp(β x_k) with β = 1/T; the default is the usual
    softmax.  T > 1 (β < 1) flattens the distribution, T < 1 sharpens it.
    (The notes write exp(−βx), treating x as energies; nnlab takes logits, so
    the sign is dropped.)  Giving both keywords is an error.
    Backward: ∂z_i/∂x_j = β z_i (δ_ij − z_j).

    >>> import nnlab
    >>> [round(p, 4) for p in softmax(nnlab.tensor([0.0, 2.0]), temperature=2.0).numpy().tolist()]
    [0.2689, 0.7311]
    >>> [round(p, 4) for p in softmax(nnlab.tensor([0.0, 2.0]), beta=2.0).numpy().tolist()]
    [0.018, 0.982]
    """
    axis = dim_keywords(None if axis == -1 else axis, False, dim, None, "softmax")[0] if dim is not None else axis
    x = as_floating(x)
    X = x.data
    scale = input_scale(temperature, beta)
    b = X.dtype.type(scale)
    out = _softmax_array(X * b if scale != 1.0 else X, axis)

    def backward(g):
        inner = (g * out).sum(axis=axis, keepdims=True)
        grad = g - inner  # a fresh array: finish it in place
        grad *= out
        if scale != 1.0:
            grad *= b
        return (grad,)

    return make_result(out, (x,), backward)


def softmin(x, axis=-1, temperature=None, *, beta=None, dim=None):
    """softmax(−x / T) along ``axis`` (``dim=``, PyTorch's name): the smallest entry gets the largest share.

    ``temperature`` and ``beta`` as in :func:`softmax`, which computes it from −x.

    >>> import nnlab
    >>> [round(p, 4) for p in softmin(nnlab.tensor([0.0, 2.0])).numpy().tolist()]
    [0.8808, 0.1192]
    """
    axis = dim_keywords(None if axis == -1 else axis, False, dim, None, "softmin")[0] if dim is not None else axis
    input_scale(temperature, beta, "softmin")  # checked here, so that an error names softmin
    return softmax(-as_floating(x), axis, temperature, beta=beta)


def log_softmax(x, axis=-1, temperature=None, *, beta=None, dim=None):
    """log softmax(β·x) = β·x − logsumexp(β·x), with β = 1/T as in :func:`softmax`; stable for large logits.

    >>> import nnlab
    >>> round(float(log_softmax(nnlab.tensor([0.0, 0.0])).numpy()[0]), 4)
    -0.6931
    """
    axis = dim_keywords(None if axis == -1 else axis, False, dim, None, "log_softmax")[0] if dim is not None else axis
    x = as_floating(x)
    X = x.data
    scale = input_scale(temperature, beta, "log_softmax")
    b = X.dtype.type(scale)
    out = X * b if scale != 1.0 else X
    out = out - out.max(axis=axis, keepdims=True)
    out -= np.log(np.exp(out).sum(axis=axis, keepdims=True))  # fresh array: shift it in place

    def backward(g):
        grad = g - np.exp(out) * g.sum(axis=axis, keepdims=True)
        if scale != 1.0:
            grad *= b
        return (grad,)

    return make_result(out, (x,), backward)


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """log Σ exp(x) over ``axis``, shifted by the maximum so ±1000 neither overflows nor gives NaN; −inf over no values."""
    axis, keepdims = dim_keywords(axis, keepdims, dim, keepdim, "logsumexp")
    x = as_floating(x)
    X = x.data
    axes = _axes(axis, X.ndim)
    m = X.max(axis=axes, keepdims=True, initial=-np.inf)  # initial: an empty axis reduces to −inf, not an error
    m = np.where(np.isfinite(m), m, 0).astype(X.dtype, copy=False)
    s = np.exp(X - m).sum(axis=axes, keepdims=True)
    with np.errstate(divide="ignore"):  # all -inf: log(0) = -inf is the answer
        out_keep = np.log(s) + m
    out = out_keep if keepdims else np.squeeze(out_keep, axis=axes)

    def backward(g):
        if not keepdims:
            g = np.expand_dims(g, axes)
        return (g * np.exp(X - out_keep),)

    return make_result(np.asarray(out), (x,), backward)
