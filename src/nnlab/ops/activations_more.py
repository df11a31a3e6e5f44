"""PyTorch's remaining activations: logsigmoid, the shrinks, threshold, glu and rrelu (softmin is beside softmax).

Each is one node with its derivative beside it, with PyTorch's definitions and its
values at the kinks; ``nnlab.functional`` exports them.  Constants are converted to the
input's dtype, so float32 stays float32; an integer input computes in float32.
"""

from functools import partial

import numpy as np

from .. import random as _random
from .._checks import check_bool, check_float, check_int
from ..errors import ConfigError
from ..tensor import as_floating, make_result
from .activations import _sigmoid
from .shape import _axis

# PyTorch's RReLU bounds: slopes uniform on [1/8, 1/3] (Xu et al. 2015 use 1/8 to 1/3, i.e. 1/a for a in [3, 8]).
RRELU_LOWER = 1.0 / 8
RRELU_UPPER = 1.0 / 3


def logsigmoid(x):
    """log σ(x) = min(x, 0) − log(1 + e^(−|x|)), finite for every finite x; derivative σ(−x) = 1 − σ(x).

    The naive log(1 / (1 + e^(−x))) overflows to −inf below x ≈ −88 in float32; this form
    never exponentiates a positive number.

    >>> import nnlab
    >>> round(nnlab.functional.logsigmoid(nnlab.tensor(-200.0)).item(), 1)
    -200.0
    """
    x = as_floating(x)
    X = x.data
    out = np.minimum(X, 0) - np.log1p(np.exp(-np.abs(X)))
    return make_result(out, (x,), lambda g: (g * _sigmoid(-X),))


def _lambd(lambd, owner: str) -> float:
    return check_float("lambd", lambd, 0.0, owner=owner)


def hardshrink(x, lambd=0.5):
    """x where |x| > λ, 0 on [−λ, λ]; derivative 0 on [−λ, λ] (the ends too, as PyTorch), 1 outside."""
    lam = _lambd(lambd, "hardshrink")
    x = as_floating(x)
    X = x.data
    lam = X.dtype.type(lam)
    inside = (X >= -lam) & (X <= lam)  # written as the inside so that NaN passes through, as in PyTorch
    return make_result(np.where(inside, X.dtype.type(0), X), (x,), lambda g: (np.where(inside, 0, g),))


def softshrink(x, lambd=0.5):
    """x − λ above λ, x + λ below −λ, 0 between: x − clip(x, −λ, λ); derivative 1 outside [−λ, λ], 0 on it."""
    lam = _lambd(lambd, "softshrink")
    x = as_floating(x)
    X = x.data
    lam = X.dtype.type(lam)
    outside = (X < -lam) | (X > lam)
    return make_result(X - np.clip(X, -lam, lam), (x,), lambda g: (g * outside,))


def tanhshrink(x):
    """x − tanh(x); derivative tanh²(x)."""
    x = as_floating(x)
    X = x.data
    th = np.tanh(X)
    return make_result(X - th, (x,), lambda g: (g * th * th,))


def threshold(x, threshold, value):
    """x where x > ``threshold``, ``value`` elsewhere (PyTorch's ``F.threshold``); derivative 1[x > threshold]."""
    t = check_float("threshold", threshold, owner="threshold")
    v = check_float("value", value, owner="threshold")
    x = as_floating(x)
    X = x.data
    below = X <= X.dtype.type(t)  # the replaced side, so that NaN passes through, as in PyTorch
    return make_result(np.where(below, X.dtype.type(v), X), (x,), lambda g: (np.where(below, 0, g),))


def glu_axis(dim, shape, owner: str = "glu") -> int:
    """The axis GLU halves, in [0, ndim): ``dim`` checked against ``shape``, whose size there must be even."""
    dim = check_int("dim", dim, owner=owner)
    if not shape:
        raise ConfigError(f"{owner}: halves the input along dim {dim}, but got a 0-d tensor; give one with axes")
    axis = _axis(dim, len(shape), owner)
    if shape[axis] % 2:
        raise ConfigError(f"{owner}: halves the input along dim {dim} into a and b, so that axis must have an even "
                          f"size, but it has size {shape[axis]} (input shape {tuple(shape)})")
    return axis


def glu(x, dim=-1):
    """The gated linear unit a·σ(b), a the first and b the second half of x along ``dim``.

    Derivatives: σ(b) for a, a·σ(b)(1 − σ(b)) for b; the output has half x's size along ``dim``.
    """
    x = as_floating(x)
    X = x.data
    axis = glu_axis(dim, X.shape)
    a, b = np.split(X, 2, axis=axis)
    s = _sigmoid(b)
    out = a * s
    return make_result(out, (x,), lambda g: (np.concatenate([g * s, g * out * (1 - s)], axis=axis),))


def rrelu_bounds(lower, upper, owner: str) -> tuple:
    """(lower, upper), checked: 0 ≤ lower ≤ upper."""
    low = check_float("lower", lower, 0.0, owner=owner)
    return low, check_float("upper", upper, low, owner=owner)


def rrelu(x, lower=RRELU_LOWER, upper=RRELU_UPPER, training=False, *, rng=None):
    """x for x > 0, a·x otherwise (PyTorch's ``F.rrelu``; training is False by default there too).

    In training each element draws its own slope a ~ U(lower, upper) from ``rng`` (an int
    seed or a Generator; None: nnlab's global generator, so ``nnlab.seed`` makes a run
    repeat), for the global batch in a distributed run (:func:`nnlab.random.draw_for_batch`);
    the gradient is that slope.  In eval a is the mean slope (lower + upper)/2, a Leaky ReLU.

    >>> import nnlab
    >>> nnlab.functional.rrelu(nnlab.tensor([-2.0, 3.0]), 0.1, 0.3).numpy().tolist()
    [-0.4000000059604645, 3.0]
    """
    low, high = rrelu_bounds(lower, upper, "rrelu")
    training = check_bool("training", training, owner="rrelu")
    x = as_floating(x)
    X = x.data
    dt = X.dtype
    if training:
        draw = partial(_random.get_rng(rng).random, dtype=_random.draw_dtype(dt))
        u = _random.draw_for_batch(draw, X.shape, "rrelu")
        slope = (u * (high - low) + low).astype(dt, copy=False)
    else:
        slope = dt.type((low + high) / 2)
    d = np.where(X > 0, dt.type(1), slope)  # the derivative: 1, or the slope (at 0 too, as PyTorch)
    return make_result(X * d, (x,), lambda g: (g * d,))
