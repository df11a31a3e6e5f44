"""Elementwise ops with NumPy broadcasting.

Constants (Python numbers, NumPy scalars, integer arrays) take the dtype of the
tensor they meet, so a float32 graph stays float32 under NumPy 2's promotion rules.
"""

import numpy as np

from ..tensor import DEFAULT_DTYPE, Tensor, as_tensor, make_result
from ._broadcast import unbroadcast


def float_dtype(*dtypes) -> np.dtype:
    """The floating dtype a mix of operands computes in.

    Integer (or bool) operands never decide it: they are converted to the
    floating operands' dtype, so an integer tensor cannot turn a float32 graph
    into float64.  Floating operands of different precision promote as in
    NumPy (float32 with float64 is the user's explicit mix).  All non-floating:
    float32.
    """
    floats = [d for d in dtypes if d.kind == "f"]
    if not floats:
        return np.dtype(DEFAULT_DTYPE)
    return np.result_type(*floats)


def _pair(a, b):
    """Both operands as Tensors of one floating dtype."""
    if isinstance(a, Tensor):
        b = as_tensor(b, like=a)
    elif isinstance(b, Tensor):
        a = as_tensor(a, like=b)
    else:
        a = as_tensor(a)
        b = as_tensor(b, like=a)
    if a.data.dtype != b.data.dtype:
        dtype = float_dtype(a.data.dtype, b.data.dtype)
        a = a if a.data.dtype == dtype else astype(a, dtype)
        b = b if b.data.dtype == dtype else astype(b, dtype)
    return a, b


def add(a, b):
    a, b = _pair(a, b)
    ra, rb = a.requires_grad, b.requires_grad
    sa, sb = a.data.shape, b.data.shape

    def backward(g):
        return (unbroadcast(g, sa) if ra else None, unbroadcast(g, sb) if rb else None)

    return make_result(a.data + b.data, (a, b), backward)


def sub(a, b):
    a, b = _pair(a, b)
    ra, rb = a.requires_grad, b.requires_grad
    sa, sb = a.data.shape, b.data.shape

    def backward(g):
        return (unbroadcast(g, sa) if ra else None, unbroadcast(-g, sb) if rb else None)

    return make_result(a.data - b.data, (a, b), backward)


def mul(a, b):
    a, b = _pair(a, b)
    A, B = a.data, b.data
    ra, rb = a.requires_grad, b.requires_grad

    def backward(g):
        return (unbroadcast(g * B, A.shape) if ra else None, unbroadcast(g * A, B.shape) if rb else None)

    return make_result(A * B, (a, b), backward)


def div(a, b):
    a, b = _pair(a, b)
    A, B = a.data, b.data
    ra, rb = a.requires_grad, b.requires_grad
    out = A / B

    def backward(g):
        gA = g / B
        return (unbroadcast(gA, A.shape) if ra else None, unbroadcast(-gA * out, B.shape) if rb else None)

    return make_result(out, (a, b), backward)


def neg(a):
    return make_result(-a.data, (a,), lambda g: (-g,))


def power(a, exponent):
    """``a ** p`` for a scalar exponent p: d/da = p·a^(p−1) (0 for p = 0, also at a = 0)."""
    if isinstance(exponent, Tensor) or np.ndim(exponent) != 0:
        raise TypeError("Tensor ** exponent needs a scalar exponent; use exp(b * log(a)) for a tensor exponent")
    X = a.data
    p = X.dtype.type(exponent)
    out = X**p

    def backward(g):
        if p == 0:  # a**0 is constant; p·a^(−1) would give 0·inf = NaN at a = 0
            return (np.zeros_like(X),)
        d = X + X if p == 2 else p * X ** (p - 1)
        d *= g  # d is a fresh array: scale it in place
        return (d,)

    return make_result(out, (a,), backward)


def rpower(base, a):
    """``base ** a`` for a scalar base > 0: d/da = base^a · ln(base)."""
    if np.ndim(base) != 0:
        raise TypeError("scalar ** Tensor needs a scalar base")
    base = a.data.dtype.type(base)
    out = base**a.data
    log_base = np.log(base)
    return make_result(out, (a,), lambda g: (g * out * log_base,))


def exp(a):
    out = np.exp(a.data)
    return make_result(out, (a,), lambda g: (g * out,))


def log(a):
    X = a.data
    return make_result(np.log(X), (a,), lambda g: (g / X,))


def sqrt(a):
    out = np.sqrt(a.data)
    return make_result(out, (a,), lambda g: (g / (2 * out),))


def absolute(a):
    X = a.data
    return make_result(np.abs(X), (a,), lambda g: (g * np.sign(X),))


def clip(a, low=None, high=None):
    """Clip to [low, high]; the gradient passes where low <= a <= high (as torch.clamp)."""
    X = a.data
    dtype = X.dtype.type
    low_ = None if low is None else dtype(low)
    high_ = None if high is None else dtype(high)
    out = np.clip(X, low_, high_)

    def backward(g):
        if low_ is None:
            keep = X <= high_ if high_ is not None else None
        else:
            keep = X >= low_ if high_ is None else (X >= low_) & (X <= high_)
        return (g if keep is None else g * keep,)

    return make_result(out, (a,), backward)


def maximum(a, b):
    """Elementwise max (the seeds' Max module): the gradient goes to the larger input, ties to ``a``.

    PyTorch's ``torch.maximum`` splits a tie's gradient in half instead.
    """
    a, b = _pair(a, b)
    first = a.data >= b.data
    return _select(first, a, b)


def minimum(a, b):
    """Elementwise min: the gradient goes to the smaller input, ties to ``a``."""
    a, b = _pair(a, b)
    first = a.data <= b.data
    return _select(first, a, b)


def where(condition, a, b):
    """``a`` where ``condition`` holds, else ``b``; each gets the gradient of the places it filled."""
    a, b = _pair(a, b)
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    return _select(cond, a, b)


def _select(mask, a, b):
    A, B = a.data, b.data
    ra, rb = a.requires_grad, b.requires_grad
    out = np.where(mask, A, B)

    def backward(g):
        zero = g.dtype.type(0)
        ga = unbroadcast(np.where(mask, g, zero), A.shape) if ra else None
        gb = unbroadcast(np.where(mask, zero, g), B.shape) if rb else None
        return ga, gb

    return make_result(out, (a, b), backward)


def astype(a, dtype):
    """Differentiable dtype conversion (the gradient is converted back)."""
    source = a.data.dtype
    return make_result(a.data.astype(dtype), (a,), lambda g: (g.astype(source),))
