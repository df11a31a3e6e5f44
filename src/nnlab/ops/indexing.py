"""Indexing ops: ``x[index]`` with NumPy's rules, gather, scatter_add, take_along_axis.

Index rules (NumPy's, which PyTorch mostly shares).  An index may hold nnlab
tensors: integer and boolean tensors are used as they are, and a floating
tensor holding whole numbers (nnlab tensors are float32 by default, so
``x[nnlab.tensor([0, 2])]`` is common) is converted to int64; a fractional
value is an IndexError.  Where PyTorch differs:

* a *list* holding tensors or arrays, ``x[[i, j]]``, is one index array on the
  first axis (NumPy), while PyTorch 2.x still reads it as the tuple ``x[i, j]``
  (deprecated there); write ``x[i, j]`` for the tuple meaning;
* negative slice steps (``x[::-1]``) work, as in NumPy; PyTorch refuses them.

Advanced indices separated by a slice (``x[i, :, j]``) put the broadcast index
axes first in both.
"""

import numpy as np

from ..tensor import Tensor, add_methods, make_result
from ._broadcast import unbroadcast


def whole_numbers(arr: np.ndarray):
    """(an int64 copy of the float array ``arr``, its first value that is not a whole number or None).

    nnlab tensors are float32 by default, so a float tensor of whole numbers may index (here) or
    look up embeddings (``nn.Embedding``).
    """
    with np.errstate(invalid="ignore"):  # NaN and inf cast to some integer: they differ from it and are reported
        whole = arr.astype(np.int64)
    if np.array_equal(whole, arr):
        return whole, None
    return whole, arr[whole != arr].ravel()[0].item()


def _as_index(part):
    """One part of an index with nnlab tensors replaced by integer or boolean arrays."""
    if isinstance(part, Tensor):
        arr = part.data
        if arr.dtype.kind == "f":
            arr, bad = whole_numbers(arr)
            if bad is not None:
                raise IndexError(f"a floating tensor used as an index must hold whole numbers, got {bad!r}")
        return arr
    if isinstance(part, list) and any(isinstance(p, (Tensor, list)) for p in part):
        return [_as_index(p) for p in part]
    return part


def _is_basic(index) -> bool:
    """Basic indices (ints, slices, None, Ellipsis) never select an element twice."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


def getitem(a, index):
    """``a[index]`` with NumPy semantics; the gradient is scattered back (repeated indices add up).

    As in NumPy, a basic index (ints, slices, None, ...) gives a view that shares ``a.data``.

    >>> import nnlab
    >>> nnlab.tensor([10.0, 20.0, 30.0])[nnlab.tensor([2, 0])].numpy().tolist()
    [30.0, 10.0]
    """
    index = tuple(_as_index(p) for p in index) if isinstance(index, tuple) else _as_index(index)
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


def _integer_index(index, owner) -> np.ndarray:
    arr = _as_index(index) if isinstance(index, Tensor) else np.asarray(index)
    if arr.dtype.kind not in "iu":
        raise IndexError(f"{owner}: index must hold integers, got dtype {arr.dtype}")
    return arr


def _mesh(shape, axis, index):
    """The full index tuple that picks ``index`` along ``axis`` and every position elsewhere."""
    parts = list(np.indices(shape, sparse=True))
    parts[axis] = index
    return tuple(parts)


def take_along_axis(a, indices, axis):
    """``np.take_along_axis``: out[..., i, ...] = a[..., indices[..., i, ...], ...] along ``axis``.

    ``indices`` has ``a``'s number of dimensions and broadcasts against it
    elsewhere; the gradient adds up at repeated indices.

    >>> import nnlab
    >>> x = nnlab.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> nnlab.take_along_axis(x, [[1], [0]], axis=1).numpy().tolist()
    [[2.0], [3.0]]
    """
    I = _integer_index(indices, "take_along_axis")
    X = a.data
    ax = axis % X.ndim
    out = np.take_along_axis(X, I, ax)

    def backward(g):
        wide = tuple(X.shape[d] if d == ax else out.shape[d] for d in range(X.ndim))
        grad = np.zeros(wide, dtype=X.dtype)
        np.add.at(grad, _mesh(out.shape, ax, np.broadcast_to(I, out.shape)), g)
        return (unbroadcast(grad, X.shape),)

    return make_result(out, (a,), backward)


def _leading(shape, axis, ndim):
    """Slices that cut an array to ``shape`` on every axis but ``axis`` (PyTorch's index may be smaller)."""
    return tuple(slice(None) if d == axis else slice(0, shape[d]) for d in range(ndim))


def gather(a, axis, index):
    """``torch.gather``: out[i][j] = a[index[i][j]][j] for ``axis=0`` (and so on).

    ``index`` has ``a``'s number of dimensions and may be smaller than ``a`` on
    the other axes (never larger); the gradient adds up at repeated indices.

    >>> import nnlab
    >>> x = nnlab.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> x.gather(1, [[0, 0], [1, 0]]).numpy().tolist()
    [[1.0, 1.0], [4.0, 3.0]]
    """
    I = _integer_index(index, "gather")
    X = a.data
    if I.ndim != X.ndim:
        raise IndexError(f"gather: index needs {X.ndim} dimensions like the input, got shape {I.shape}")
    ax = axis % X.ndim
    cut = _leading(I.shape, ax, X.ndim)
    out = np.take_along_axis(X[cut], I, ax)

    def backward(g):
        grad = np.zeros(X.shape, dtype=X.dtype)
        np.add.at(grad, _mesh(I.shape, ax, I), g)
        return (grad,)

    return make_result(out, (a,), backward)


def scatter_add(a, axis, index, src):
    """``torch.scatter_add``: a copy of ``a`` with out[index[i][j]][j] += src[i][j] for ``axis=0``.

    ``index`` and ``src`` have ``a``'s number of dimensions; ``src`` may be
    larger than ``index`` (its leading part is used).  Gradients: the upstream
    gradient for ``a``, the gathered upstream gradient for ``src``.

    >>> import nnlab
    >>> out = nnlab.scatter_add(nnlab.zeros(3), 0, [0, 2, 0], nnlab.tensor([1.0, 2.0, 3.0]))
    >>> out.numpy().tolist()
    [4.0, 0.0, 2.0]
    """
    from .elementwise import _pair

    a, src = _pair(a, src)
    I = _integer_index(index, "scatter_add")
    X, S = a.data, src.data
    if not I.ndim == X.ndim == S.ndim:
        raise IndexError(f"scatter_add: input, index and src need one number of dimensions, got "
                         f"{X.shape}, {I.shape}, {S.shape}")
    ax = axis % X.ndim
    where = _mesh(I.shape, ax, I)
    used = tuple(slice(0, n) for n in I.shape)
    out = X.copy()
    np.add.at(out, where, S[used])
    ra, rs = a.requires_grad, src.requires_grad

    def backward(g):
        gs = None
        if rs:
            gs = np.zeros(S.shape, dtype=S.dtype)
            gs[used] = g[where]
        return (g if ra else None, gs)

    return make_result(out, (a, src), backward)


add_methods(gather, scatter_add, take_along_axis)
