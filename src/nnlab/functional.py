"""Activation functions and softmax family, each a graph node with an analytic backward."""

import numpy as np

from .ops.reduce import _axes
from .tensor import Tensor, as_tensor, make_result


def _t(x) -> Tensor:
    return as_tensor(x)


def sigmoid(x):
    """σ(x) = 1 / (1 + e^(−x)), computed without overflow; σ' = σ(1 − σ)."""
    x = _t(x)
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
    x = _t(x)
    out = np.tanh(x.data)
    return make_result(out, (x,), lambda g: (g * (1 - out * out),))


# ``np.maximum(X, 0)`` runs NumPy's loop for a broadcast scalar, which is not vectorised:
# 10.7 µs at 128×256 float32, where ``np.maximum`` of two arrays of one shape takes 2.3 µs
# with the same results (−0.0 → +0.0, NaN kept, −inf → 0).  ReLU compares against zeros
# of the input's shape: views of one read-only buffer per dtype, grown on demand up to
# _ZEROS_MAX elements (4 MiB of float32); a larger input takes the scalar route.
_ZEROS_MAX = 1 << 20
_zeros_buffers = {}


def _zeros_like_readonly(X):
    """Zeros of X's shape and dtype, a read-only view of a shared buffer, or None above _ZEROS_MAX."""
    size = X.size
    if size > _ZEROS_MAX:
        return None
    buf = _zeros_buffers.get(X.dtype)
    if buf is None or buf.size < size:
        buf = np.zeros(min(_ZEROS_MAX, max(size, 2 * (0 if buf is None else buf.size))), X.dtype)
        buf.flags.writeable = False
        _zeros_buffers[X.dtype] = buf
    return buf[:size].reshape(X.shape)


def relu(x):
    """max(0, x); the derivative is 1[x > 0] (0 at x = 0, as in PyTorch)."""
    x = _t(x)
    X = x.data
    zeros = _zeros_like_readonly(X)
    out = np.maximum(X, 0 if zeros is None else zeros)
    return make_result(out, (x,), lambda g: (g * (X > 0),))


def leaky_relu(x, alpha=0.01):
    """max(αx, x) for 0 ≤ α < 1: the seeds' Leaky ReLU with α = 0.01."""
    x = _t(x)
    X = x.data
    a = X.dtype.type(alpha)
    positive = X > 0
    out = np.where(positive, X, a * X)
    return make_result(out, (x,), lambda g: (np.where(positive, g, a * g),))


def elu(x, alpha=1.0):
    """x for x > 0, α(eˣ − 1) for x ≤ 0; derivative α·eˣ on the negative side."""
    x = _t(x)
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


def softmax(x, axis=-1, temperature=1.0):
    """softmax(β·x) along ``axis``, with the seeds' β passed as ``temperature``.

    z_i = exp(β x_i) / Σ_k exp(β x_k); β = 1 is the usual softmax, a larger β
    sharpens it.  (The seeds write exp(−βx), treating x as energies; nnlab takes
    logits, so the sign is dropped.  For a divide-by-T temperature, pass 1/T.)
    Backward: ∂z_i/∂x_j = β z_i (δ_ij − z_j).
    """
    x = _t(x)
    X = x.data
    beta = X.dtype.type(temperature)
    out = _softmax_array(X * beta if temperature != 1.0 else X, axis)

    def backward(g):
        inner = (g * out).sum(axis=axis, keepdims=True)
        grad = g - inner  # a fresh array: finish it in place
        grad *= out
        if temperature != 1.0:
            grad *= beta
        return (grad,)

    return make_result(out, (x,), backward)


def log_softmax(x, axis=-1):
    """x − logsumexp(x); stable for large logits."""
    x = _t(x)
    X = x.data
    out = X - X.max(axis=axis, keepdims=True)
    out -= np.log(np.exp(out).sum(axis=axis, keepdims=True))  # fresh array: shift it in place

    def backward(g):
        return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)

    return make_result(out, (x,), backward)


def logsumexp(x, axis=None, keepdims=False):
    """log Σ exp(x) over ``axis``, shifted by the maximum so ±1000 neither overflows nor gives NaN."""
    x = _t(x)
    X = x.data
    axes = _axes(axis, X.ndim)
    m = X.max(axis=axes, keepdims=True)
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
