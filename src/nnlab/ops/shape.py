"""Shape ops: reshape, transpose, indexing, concatenate, stack."""

import numpy as np

from ..tensor import Tensor, as_tensor, make_result
from .elementwise import astype, float_dtype


def reshape(a, *shape):
    """``reshape(2, 3)`` or ``reshape((2, 3))``, as in NumPy."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    source = a.data.shape
    return make_result(a.data.reshape(shape), (a,), lambda g: (g.reshape(source),))


def transpose(a, *axes):
    """Permute axes (reverse them when none are given), as ``ndarray.transpose``."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    ndim = a.data.ndim
    if not axes:
        axes = tuple(range(ndim))[::-1]
    # Negative axes are allowed (as in NumPy); the inverse permutation needs them normalized.
    inverse = tuple(np.argsort([ax % ndim for ax in axes])) if ndim else ()
    return make_result(a.data.transpose(axes), (a,), lambda g: (g.transpose(inverse),))


def _is_basic(index) -> bool:
    """Basic indices (ints, slices, None, Ellipsis) never select an element twice."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


def getitem(a, index):
    """``a[index]`` with NumPy semantics; the gradient is scattered back (repeated indices add up).

    As in NumPy, a basic index (ints, slices, None, ...) gives a view that shares ``a.data``.
    """
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(p.data if isinstance(p, Tensor) else p for p in index)
    X = a.data
    out = X[index]
    basic = _is_basic(index)

    def backward(g):
        grad = np.zeros(X.shape, dtype=X.dtype)
        if basic:
            grad[index] = g
        else:
            np.add.at(grad, index, g)  # repeated indices add up
        return (grad,)

    return make_result(out, (a,), backward)


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis; the gradient is split back at the seams."""
    tensors = _same_dtype(tensors)
    arrays = [t.data for t in tensors]
    out = np.concatenate(arrays, axis=axis)
    ax = axis % out.ndim
    bounds = np.cumsum([arr.shape[ax] for arr in arrays])[:-1]

    def backward(g):
        pieces = np.split(g, bounds, axis=ax)
        return tuple(p if t.requires_grad else None for p, t in zip(pieces, tensors))

    return make_result(out, tuple(tensors), backward)


def stack(tensors, axis=0):
    """Join tensors along a new axis."""
    tensors = _same_dtype(tensors)
    out = np.stack([t.data for t in tensors], axis=axis)
    ax = axis % out.ndim

    def backward(g):
        # Basic indexing: views into g, not copies.
        lead = (slice(None),) * ax
        return tuple(g[lead + (i,)] if t.requires_grad else None for i, t in enumerate(tensors))

    return make_result(out, tuple(tensors), backward)


def _same_dtype(tensors):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("need at least one tensor to join")
    like = next((t for t in tensors if isinstance(t, Tensor)), None)
    tensors = [as_tensor(t, like=like) for t in tensors]
    dtype = float_dtype(*[t.data.dtype for t in tensors])
    if any(t.data.dtype != dtype for t in tensors):
        tensors = [t if t.data.dtype == dtype else astype(t, dtype) for t in tensors]
    return tensors
