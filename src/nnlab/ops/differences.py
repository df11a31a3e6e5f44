"""Running products and differences along one axis, with torch's names: cumprod, diff.

The running sums (``cumsum``, ``logcumsumexp``) live in ``reduce.py`` with NumPy's ``axis``; these
two take torch's ``dim`` (``cumprod`` needs one, as in torch).
"""

import numpy as np

from .._checks import check_int
from ..tensor import add_methods, as_tensor, make_result
from .shape import concatenate
from .sorting import check_dim


def _reverse_cumsum(x, ax):
    return np.flip(np.cumsum(np.flip(x, ax), axis=ax), ax)


def _cumprod_grad(X, out, g, ax):
    """∂L/∂x_j = Σ_{i≥j} g_i·Π_{k≤i, k≠j} x_k, exact also where x holds zeros.

    Before a slice's first zero (everywhere when it has none) that is Σ_{i≥j} g_i·out_i / x_j.  At the
    first zero z it is Π_{k<z} x_k · Σ_{i≥z} g_i·Π_{z<k≤i} x_k, computed without dividing; after z every
    product holds x_z = 0 (torch's cumprod_backward makes the same split).
    """
    n = X.shape[ax]
    dt = X.dtype.type
    if X.size == 0:
        return np.zeros(X.shape, dtype=X.dtype)
    zero = X == 0
    position = np.arange(n).reshape([n if d == ax else 1 for d in range(X.ndim)])
    first = np.where(zero.any(axis=ax, keepdims=True), np.argmax(zero, axis=ax, keepdims=True), n)
    grad = _reverse_cumsum(g * out, ax) / np.where(zero, dt(1), X)
    if first.min() == n:
        return grad
    before = np.prod(np.where(position < first, X, dt(1)), axis=ax, keepdims=True)
    after = np.cumprod(np.where(position <= first, dt(1), X), axis=ax)
    at_zero = before * np.sum(np.where(position >= first, g * after, dt(0)), axis=ax, keepdims=True)
    return np.where(position < first, grad, np.where(position == first, at_zero, dt(0)))


def cumprod(input, dim):
    """``torch.cumprod``: out_i = Π_{j≤i} x_j along ``dim``; the gradient is exact where x holds zeros.

    >>> import nnlab
    >>> x = nnlab.tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> y = x.cumprod(0)
    >>> y.sum().backward()
    >>> y.tolist(), x.grad.tolist()
    ([2.0, 0.0, 0.0], [1.0, 8.0, 0.0])
    """
    a = as_tensor(input)
    ax = check_dim(dim, a.data.ndim, "cumprod")
    shape = a.data.shape
    X = a.data.reshape(shape or (1,))  # a 0-d tensor as one element, as torch
    out = np.cumprod(X, axis=ax)

    def backward(g):
        return (_cumprod_grad(X, out, g.reshape(X.shape), ax).reshape(shape),)

    return make_result(out.reshape(shape), (a,), backward)


def _difference_adjoint(g, ax):
    """The transpose of one forward difference (out_i = x_{i+1} − x_i): grad_j = g_{j−1} − g_j."""
    pads = [(1, 1) if d == ax else (0, 0) for d in range(g.ndim)]
    return -np.diff(np.pad(g, pads), axis=ax)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """``torch.diff``: the ``n``-th forward difference out_i = x_{i+1} − x_i along ``dim`` (``n`` times over),
    after joining ``prepend`` and ``append`` (tensors of the input's dimensions) to its ends.

    >>> import nnlab
    >>> nnlab.tensor([1.0, 4.0, 9.0, 16.0]).diff().tolist(), nnlab.diff(nnlab.tensor([1.0, 4.0, 9.0]), n=2).tolist()
    ([3.0, 5.0, 7.0], [2.0])
    """
    a = as_tensor(input)
    n = check_int("n", n, 0, owner="diff")
    if a.data.ndim == 0:
        raise ValueError("diff: input must have at least one dimension, got a 0-d tensor")
    ax = check_dim(dim, a.data.ndim, "diff")
    ends = {name: as_tensor(end, like=a) for name, end in (("prepend", prepend), ("append", append)) if end is not None}
    for name, end in ends.items():
        if end.data.ndim != a.data.ndim:
            raise ValueError(f"diff: {name} must have the input's {a.data.ndim} dimensions, got shape {end.data.shape}")
    if ends:
        a = concatenate([t for t in (ends.get("prepend"), a, ends.get("append")) if t is not None], axis=ax)
    X = a.data
    out = np.diff(X, n, axis=ax) if n else X.copy()
    shape = X.shape

    def backward(g):
        if out.shape[ax] == 0:  # n ≥ the length: nothing is left, nothing depends on x
            return (np.zeros(shape, dtype=g.dtype),)
        for _ in range(n):
            g = _difference_adjoint(g, ax)
        return (g,)

    return make_result(out, (a,), backward)


add_methods(cumprod, diff)
