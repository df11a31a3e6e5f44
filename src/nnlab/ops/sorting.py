"""Sorting and order statistics with torch's names and results: sort, argsort, topk, kthvalue, median.

Each op picks elements of its input along ``dim``; a picked value's gradient goes back to the position
it was picked from (the returned index) and every other position gets 0 -- except the median of the
whole tensor, whose gradient torch shares evenly among the elements equal to it.  Indices are int64
tensors without gradient.

Ties: equal values keep their order in every op (a stable sort, torch's ``stable=True``), whatever
``stable`` says -- torch leaves the order of ties unspecified without it, nnlab gives the reproducible
one.  NaN sorts above every number, as in torch (last ascending, first descending; ``median`` returns
NaN for a slice that holds one).
"""

from collections import namedtuple

import numpy as np

from .._checks import check_bool, check_int
from ..tensor import add_methods, as_tensor, make_result
from .shape import _axis, reshape

# torch.return_types.sort and the rest: tuples that also name their parts.
SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])
KthvalueResult = namedtuple("kthvalue", ["values", "indices"])
MedianResult = namedtuple("median", ["values", "indices"])


def check_dim(dim, ndim, owner) -> int:
    """``dim`` (an integer in [−ndim, ndim), 0 or −1 for a 0-d tensor) as an axis in [0, ndim); the errors name ``dim``."""
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{owner}: dim must be an integer, got {dim!r}")
    return _axis(dim, ndim, owner, "dim")


def _order(X, ax, descending):
    """Indices that sort ``X`` along ``ax``, equal values in their first-come order."""
    if not descending:
        return np.argsort(X, axis=ax, kind="stable")
    # Reverse, sort stably, reverse back: ties stay first-come and NaN comes first.  Negating instead would
    # leave NaN last and cannot order unsigned integers.
    flipped = np.argsort(np.flip(X, ax), axis=ax, kind="stable")
    return (X.shape[ax] - 1) - np.flip(flipped, ax)


def _picked(a, I, ax, owner):
    """``a``'s values at the indices ``I`` along ``ax``; the gradient goes back to those positions.

    The indices of one slice along ``ax`` are distinct (a permutation or part of one), so writing the
    gradient is enough: nothing needs adding up.
    """
    X = a.data
    shape, dtype = X.shape, X.dtype

    def backward(g):
        grad = np.zeros(shape, dtype=dtype)
        np.put_along_axis(grad, I, g, ax)
        return (grad,)

    backward.__qualname__ = f"{owner}.<locals>.backward"  # grad_fn.name() says SortBackward, TopkBackward, ...
    return make_result(np.take_along_axis(X, I, ax), (a,), backward)


def _indices(I):
    return make_result(I, (), None)


def _as_vector(a, dim, owner):
    """A 0-d tensor as one element along axis 0 (torch sorts it as such); (tensor, axis, was 0-d)."""
    ax = check_dim(dim, a.data.ndim, owner)
    if a.data.ndim == 0:
        return reshape(a, (1,)), 0, True
    return a, ax, False


def _unvector(result, scalar):
    return type(result)(*(reshape(t, ()) for t in result)) if scalar else result


def sort(input, dim=-1, descending=False, stable=False):
    """``torch.sort``: the values along ``dim`` in order, and the indices they came from.

    Ties keep their order (``stable`` makes no difference: see the module's note).

    >>> import nnlab
    >>> values, indices = nnlab.sort(nnlab.tensor([3.0, 1.0, 2.0]), descending=True)
    >>> values.tolist(), indices.tolist()
    ([3.0, 2.0, 1.0], [0, 2, 1])
    """
    check_bool("descending", descending, owner="sort")
    check_bool("stable", stable, owner="sort")
    a, ax, scalar = _as_vector(as_tensor(input), dim, "sort")
    I = _order(a.data, ax, descending)
    return _unvector(SortResult(_picked(a, I, ax, "sort"), _indices(I)), scalar)


def argsort(input, dim=-1, descending=False, stable=False):
    """``torch.argsort``: the indices of :func:`sort` (int64, no gradient).

    >>> import nnlab
    >>> nnlab.tensor([[2.0, 1.0, 2.0]]).argsort(dim=1).tolist()
    [[1, 0, 2]]
    """
    check_bool("descending", descending, owner="argsort")
    check_bool("stable", stable, owner="argsort")
    X = as_tensor(input).data
    ax = check_dim(dim, X.ndim, "argsort")
    return _indices(_order(X.reshape(X.shape or (1,)), ax, descending).reshape(X.shape))  # records no graph


def topk(input, k, dim=-1, largest=True, sorted=True):
    """``torch.topk``: the ``k`` largest (``largest=False``: smallest) values along ``dim`` and their indices.

    The values always come in order (largest first, or smallest first), which ``sorted=False`` allows too.

    >>> import nnlab
    >>> nnlab.tensor([1.0, 4.0, 2.0, 5.0]).topk(2).indices.tolist()
    [3, 1]
    """
    check_bool("largest", largest, owner="topk")
    check_bool("sorted", sorted, owner="topk")
    a, ax, scalar = _as_vector(as_tensor(input), dim, "topk")
    k = check_int("k", k, 0, a.data.shape[ax], owner="topk")
    I = np.take(_order(a.data, ax, largest), np.arange(k), axis=ax)
    return _unvector(TopkResult(_picked(a, I, ax, "topk"), _indices(I)), scalar)


def _reduced(result, ax, keepdim, scalar):
    """Drop the picked axis (one element long) unless ``keepdim``."""
    if scalar:
        return _unvector(result, True)
    if keepdim:
        return result
    shape = result.values.data.shape[:ax] + result.values.data.shape[ax + 1:]
    return type(result)(*(reshape(t, shape) for t in result))


def kthvalue(input, k, dim=-1, keepdim=False):
    """``torch.kthvalue``: the ``k``-th smallest value along ``dim`` (``k`` counts from 1) and its index.

    >>> import nnlab
    >>> v, i = nnlab.kthvalue(nnlab.tensor([[5.0, 1.0, 3.0]]), 2)
    >>> v.tolist(), i.tolist()
    ([3.0], [2])
    """
    check_bool("keepdim", keepdim, owner="kthvalue")
    a, ax, scalar = _as_vector(as_tensor(input), dim, "kthvalue")
    if a.data.shape[ax] == 0:
        raise ValueError(f"kthvalue: k={k!r} is out of range: dim {dim} of the input (shape {a.data.shape}) is empty")
    k = check_int("k", k, 1, a.data.shape[ax], owner="kthvalue")
    I = np.take(_order(a.data, ax, False), [k - 1], axis=ax)
    return _reduced(KthvalueResult(_picked(a, I, ax, "kthvalue"), _indices(I)), ax, keepdim, scalar)


def median(input, dim=None, keepdim=False):
    """``torch.median``: the lower median (the ⌊(n−1)/2⌋-th smallest value; NaN if the values hold one).

    Without ``dim``: the median of all elements as a 0-d tensor, its gradient shared evenly among the
    elements equal to it (torch's rule).  With ``dim``: the named tuple (values, indices) along ``dim``,
    each gradient going to the returned index.

    >>> import nnlab
    >>> x = nnlab.tensor([[4.0, 1.0, 3.0, 2.0]])
    >>> x.median().item(), x.median(dim=1).indices.tolist()
    (2.0, [3])
    """
    check_bool("keepdim", keepdim, owner="median")
    a = as_tensor(input)
    if dim is None:
        if keepdim:
            raise TypeError("median: keepdim=True needs a dim (the median of all elements is one value)")
        return _median_of_all(a)
    a, ax, scalar = _as_vector(a, dim, "median")
    X = a.data
    n = X.shape[ax]
    if n == 0:
        raise ValueError(f"median: dim {dim} of the input (shape {X.shape}) is empty, it has no median")
    order = _order(X, ax, False)
    pick = np.full(X.shape[:ax] + (1,) + X.shape[ax + 1:], (n - 1) // 2)
    if X.dtype.kind == "f":  # a slice holding NaN: its first NaN, which sorts just after the numbers
        numbers = np.sum(~np.isnan(X), axis=ax, keepdims=True)
        pick = np.where(numbers < n, numbers, pick)
    I = np.take_along_axis(order, pick, ax)
    return _reduced(MedianResult(_picked(a, I, ax, "median"), _indices(I)), ax, keepdim, scalar)


def _median_of_all(a):
    X = a.data
    flat = np.sort(X.reshape(-1))
    if flat.size == 0 or (X.dtype.kind == "f" and np.isnan(flat[-1])):
        out = np.asarray(np.nan, dtype=X.dtype if X.dtype.kind == "f" else np.float32)
    else:
        out = np.asarray(flat[(flat.size - 1) // 2])

    def backward(g):
        # torch's evenly_distribute_backward: every element equal to the median (NaN: every NaN) shares it.
        ties = np.isnan(X) if np.isnan(out) else X == out
        return (np.where(ties, g / X.dtype.type(max(int(ties.sum()), 1)), X.dtype.type(0)),)

    backward.__qualname__ = "median.<locals>.backward"
    return make_result(out, (a,), backward)


add_methods(sort, argsort, topk, kthvalue, median)
