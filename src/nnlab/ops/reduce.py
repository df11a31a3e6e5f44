"""Reductions with NumPy's ``axis`` and ``keepdims`` keywords."""

import numpy as np

from ..tensor import make_result


def _axes(axis, ndim):
    """Normalized tuple of reduced axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted(ax % ndim if ndim else ax for ax in axis))


def _expand(g, shape, axes, keepdims):
    """Broadcast a reduced gradient back to ``shape`` (a read-only view, no copy)."""
    if not keepdims and axes:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


def sum(a, axis=None, keepdims=False):
    X = a.data
    axes = _axes(axis, X.ndim)
    out = np.asarray(X.sum(axis=axis, keepdims=keepdims))
    return make_result(out, (a,), lambda g: (_expand(g, X.shape, axes, keepdims),))


def mean(a, axis=None, keepdims=False):
    X = a.data
    axes = _axes(axis, X.ndim)
    count = 1
    for ax in axes:
        count *= X.shape[ax]
    out = np.asarray(X.mean(axis=axis, keepdims=keepdims))
    scale = X.dtype.type(1.0 / count) if count else X.dtype.type(np.nan)
    return make_result(out, (a,), lambda g: (_expand(g * scale, X.shape, axes, keepdims),))


def max(a, axis=None, keepdims=False):
    """Maximum over ``axis``.

    Tie rule: the whole gradient goes to the first maximal element of each
    reduced block, in C order of the reduced axes (the one ``argmax`` picks).
    PyTorch differs: ``torch.max(x)`` and ``torch.amax`` split a tie's gradient
    evenly; ``torch.max(x, dim)`` sends it to the index it returns.

    >>> import nnlab
    >>> x = nnlab.tensor([1.0, 3.0, 3.0], requires_grad=True)
    >>> x.max().backward()
    >>> x.grad.tolist()
    [0.0, 1.0, 0.0]
    """
    X = a.data
    axes = _axes(axis, X.ndim)
    out = np.asarray(X.max(axis=axis, keepdims=keepdims))

    def backward(g):
        kept = [ax for ax in range(X.ndim) if ax not in axes]
        # Move the reduced axes last and flatten them so one argmax finds the first maximum.
        moved = np.transpose(X, kept + list(axes))
        lead = moved.shape[: len(kept)]
        flat = moved.reshape(lead + (-1,))
        first = np.argmax(flat, axis=-1)
        grad_flat = np.zeros(flat.shape, dtype=X.dtype)
        np.put_along_axis(grad_flat, first[..., None], np.reshape(g, lead + (1,)), axis=-1)
        grad_moved = grad_flat.reshape(moved.shape)
        return (np.transpose(grad_moved, np.argsort(kept + list(axes))),)

    return make_result(out, (a,), backward)
