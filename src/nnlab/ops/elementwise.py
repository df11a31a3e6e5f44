"""Elementwise ops with NumPy broadcasting.

Constants (Python numbers, NumPy scalars, integer arrays) take the dtype of the
tensor they meet, so a float32 graph stays float32 under NumPy 2's promotion rules.
"""

import numpy as np

from ..errors import ConfigError
from ..tensor import DEFAULT_DTYPE, Tensor, add_methods, as_floating, as_tensor, make_result
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
    if a.data.dtype.kind != "f":  # true division of integers: float32, not NumPy's float64
        a, b = as_floating(a), as_floating(b)
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
    """``a ** p``.  A scalar p: d/da = p·a^(p−1) (0 for p = 0, also at a = 0).

    A tensor (or array) exponent broadcasts with ``a``; then also
    d/dp = a^p·ln a (0 where a = 0, as PyTorch).
    """
    if isinstance(exponent, Tensor) or np.ndim(exponent) != 0:
        return _tensor_power(a, exponent)
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


def _tensor_power(a, b):
    a, b = _pair(a, b)
    A, B = a.data, b.data
    ra, rb = a.requires_grad, b.requires_grad
    out = A**B

    def backward(g):
        gA = gB = None
        with np.errstate(divide="ignore", invalid="ignore"):  # the masked places
            if ra:
                gA = unbroadcast(g * np.where(B == 0, 0, B * A ** (B - 1)), A.shape)
            if rb:
                gB = unbroadcast(_d_exponent(g, out, A, B), B.shape)
        return gA, gB

    return make_result(out, (a, b), backward)


def _d_exponent(g, out, A, B):
    """g·a^b·ln a, the exponent's gradient; 0 where a = 0 and b ≥ 0 (PyTorch's rule: a^b is constant 0
    or 1 there, and out·ln a would be 0·(−inf) = NaN); a = 0, b < 0 keeps inf·(−inf) = −inf as PyTorch."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((A == 0) & (B >= 0), 0, g * out * np.log(A))


def rpower(base, a):
    """``base ** a`` for a scalar base ≥ 0: d/da = base^a · ln(base) (0 for base 0 and a ≥ 0, as PyTorch);
    an array base goes through :func:`power`."""
    if np.ndim(base) != 0:
        return _tensor_power(base, a)
    base = a.data.dtype.type(base)
    out = base**a.data
    return make_result(out, (a,), lambda g: (_d_exponent(g, out, base, a.data),))


def exp(a):
    a = as_floating(a)
    out = np.exp(a.data)
    return make_result(out, (a,), lambda g: (g * out,))


def log(a):
    a = as_floating(a)
    X = a.data
    return make_result(np.log(X), (a,), lambda g: (g / X,))


def sqrt(a):
    a = as_floating(a)
    out = np.sqrt(a.data)
    return make_result(out, (a,), lambda g: (g / (2 * out),))


def absolute(a):
    X = a.data
    return make_result(np.abs(X), (a,), lambda g: (g * np.sign(X),))


def log1p(a):
    """log(1 + a), exact for small a; derivative 1/(1 + a)."""
    a = as_floating(a)
    X = a.data
    return make_result(np.log1p(X), (a,), lambda g: (g / (1 + X),))


def expm1(a):
    """eˣ − 1, exact for small x; derivative eˣ = out + 1."""
    a = as_floating(a)
    out = np.expm1(a.data)
    return make_result(out, (a,), lambda g: (g * (out + 1),))


def rsqrt(a):
    """1/√a; derivative −½·a^(−3/2) = −out³/2."""
    a = as_floating(a)
    out = 1 / np.sqrt(a.data)
    return make_result(out, (a,), lambda g: (g * (out * out * out) * out.dtype.type(-0.5),))


def log2(a):
    a = as_floating(a)
    X = a.data
    inv_ln2 = X.dtype.type(1 / np.log(2))
    return make_result(np.log2(X), (a,), lambda g: (g / X * inv_ln2,))


def exp2(a):
    a = as_floating(a)
    out = np.exp2(a.data)
    ln2 = out.dtype.type(np.log(2))
    return make_result(out, (a,), lambda g: (g * out * ln2,))


def sin(a):
    a = as_floating(a)
    X = a.data
    return make_result(np.sin(X), (a,), lambda g: (g * np.cos(X),))


def cos(a):
    a = as_floating(a)
    X = a.data
    return make_result(np.cos(X), (a,), lambda g: (g * -np.sin(X),))


def _constant(out):
    """A result without a gradient (piecewise-constant ops and tests; PyTorch returns a zero gradient)."""
    return make_result(np.asarray(out), (), None)


def sign(a):
    """−1, 0 or 1; no gradient (its derivative is 0 wherever it exists)."""
    return _constant(np.sign(a.data))


def floor(a):
    """Round down; no gradient."""
    return _constant(np.floor(a.data))


def ceil(a):
    """Round up; no gradient."""
    return _constant(np.ceil(a.data))


def round(a, decimals=0):
    """Round half to even (as PyTorch and NumPy); no gradient.

    >>> import nnlab
    >>> nnlab.tensor([0.5, 1.5, -2.5]).round().numpy().tolist()
    [0.0, 2.0, -2.0]
    """
    return _constant(np.round(a.data, decimals))


def isnan(a):
    """Boolean tensor, True where the value is NaN; no gradient."""
    return _constant(np.isnan(a.data))


def isinf(a):
    """Boolean tensor, True where the value is ±inf; no gradient."""
    return _constant(np.isinf(a.data))


def lerp(start, end, weight):
    """start + weight·(end − start), as ``torch.lerp``; ``weight`` is a number or a tensor.

    >>> import nnlab
    >>> nnlab.lerp(nnlab.tensor([0.0, 10.0]), nnlab.tensor([1.0, 20.0]), 0.5).numpy().tolist()
    [0.5, 15.0]
    """
    return add(start, mul(weight, sub(end, start)))


def clip(a, low=None, high=None):
    """Clip to [low, high]; the gradient passes where low <= a <= high (as torch.clamp).

    At least one bound is needed (PyTorch refuses ``clamp(None, None)`` too).
    """
    if low is None and high is None:
        raise ConfigError("clip: give at least one of min (low) and max (high); got min=None, max=None")
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

    PyTorch's ``torch.maximum`` splits a tie's gradient in half instead.  A NaN on either side gives
    NaN, and there both inputs get the gradient (as PyTorch).
    """
    a, b = _pair(a, b)
    return _extremum(a, b, a.data >= b.data)


def minimum(a, b):
    """Elementwise min: the gradient goes to the smaller input, ties to ``a``; NaN as :func:`maximum`."""
    a, b = _pair(a, b)
    return _extremum(a, b, a.data <= b.data)


def _extremum(a, b, first):
    # A comparison with NaN is False, which would pick b even when a is the NaN: take a there too, so
    # NaN propagates from either side as in NumPy and PyTorch; PyTorch's backward sends g to both inputs there.
    nan_a = np.isnan(a.data)
    return _select(first | nan_a, a, b, both=nan_a | np.isnan(b.data))


def where(condition, a, b):
    """``a`` where ``condition`` holds, else ``b``; each gets the gradient of the places it filled."""
    a, b = _pair(a, b)
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    return _select(cond, a, b)


def _select(mask, a, b, both=None):
    """``a`` where ``mask`` holds, else ``b``; the gradient follows the choice, except where ``both`` holds."""
    A, B = a.data, b.data
    ra, rb = a.requires_grad, b.requires_grad
    out = np.where(mask, A, B)

    def backward(g):
        zero = g.dtype.type(0)
        ga = unbroadcast(np.where(mask if both is None else mask | both, g, zero), A.shape) if ra else None
        gb = unbroadcast(np.where(mask if both is None else mask & ~both, zero, g), B.shape) if rb else None
        return ga, gb

    return make_result(out, (a, b), backward)


def astype(a, dtype):
    """Differentiable dtype conversion (the gradient is converted back)."""
    source = a.data.dtype
    return make_result(a.data.astype(dtype), (a,), lambda g: (g.astype(source),))


add_methods(sign, floor, ceil, round, sin, cos, log2, exp2, log1p, expm1, rsqrt, isnan, isinf, lerp)
