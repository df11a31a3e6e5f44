"""Indexing ops: ``x[index]`` with NumPy's rules, gather, scatter, scatter_add, take_along_axis, repeat_interleave.

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

from ..tensor import Tensor, add_methods, as_tensor, make_result
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


def _scatter_operands(a, axis, index, src, owner):
    """(a, src, the places written, src's part that is written) for scatter and scatter_add, with torch's checks:
    ``index`` and ``src`` have ``a``'s number of dimensions, ``index`` is no larger than ``src`` anywhere nor than
    ``a`` off ``axis``, and its values lie in [0, a.shape[axis]).  A number as ``src`` (scatter's ``value``) is
    written everywhere ``index`` points."""
    from .elementwise import _pair
    from .sorting import check_dim

    number = not isinstance(src, (Tensor, np.ndarray, list, tuple))
    if number and isinstance(a, Tensor) and a.data.dtype.kind in "iub":  # an integer tensor keeps its dtype (zeros(n, dtype=int64).scatter_(...))
        src = Tensor(src, dtype=a.data.dtype)  # (as_tensor would make a constant float32)
    a, src = _pair(a, src)
    I = _integer_index(index, owner)
    X, S = a.data, src.data
    if I.ndim != X.ndim or not (number or S.ndim == X.ndim):
        raise IndexError(f"{owner}: input, index and src need one number of dimensions, got "
                         f"{X.shape}, {I.shape}, {S.shape}")
    ax = check_dim(axis, X.ndim, owner)
    too_big = [d for d in range(I.ndim) if (not number and I.shape[d] > S.shape[d])
               or (d != ax and I.shape[d] > X.shape[d])]
    if too_big:
        raise IndexError(f"{owner}: index of shape {I.shape} is larger than src {S.shape} or, off dim {ax}, than the "
                         f"input {X.shape} (dimension {too_big[0]})")
    outside = (I < 0) | (I >= X.shape[ax]) if X.ndim else (I != 0)
    if outside.any():
        raise IndexError(f"{owner}: index {I[outside].ravel()[0]} is out of bounds for dim {axis} with size "
                         f"{X.shape[ax] if X.ndim else 1} (allowed: 0 to {(X.shape[ax] if X.ndim else 1) - 1})")
    where = _mesh(I.shape, ax, I) if X.ndim else ()
    used = () if number else tuple(slice(0, n) for n in I.shape)
    return a, src, where, used


def _scatter(a, axis, index, src, owner, adds):
    a, src, where, used = _scatter_operands(a, axis, index, src, owner)
    X, S = a.data, src.data
    out = X.copy()
    if adds:
        np.add.at(out, where, S[used])  # repeated places add up
    else:
        out[where] = S[used]
    ra, rs = a.requires_grad, src.requires_grad

    def backward(g):
        ga = gs = None
        if ra:
            ga = g if adds else g.copy()
            if not adds:
                ga[where] = 0  # the overwritten places pass nothing to the input
        if rs:  # every place written from src sends its gradient there (torch's rule, repeated indices too)
            gs = np.zeros(S.shape, dtype=S.dtype)
            gs[used] = g[where]
        return ga, gs

    backward.__qualname__ = f"{owner}.<locals>.backward"
    return make_result(out, (a, src), backward)


def scatter(input, dim, index, src):
    """``torch.scatter``: a copy of ``input`` with out[index[i][j]][j] = src[i][j] for ``dim=0`` (and so on).

    ``src`` is a tensor (its leading part of ``index``'s shape is used) or a number.  Where ``index``
    repeats a place, one of the values lands there (torch leaves which one open; here the last).
    Gradients: the upstream gradient for ``input`` except at the written places, and for ``src``
    the upstream gradient at the place each element went to (torch's rule, repeated places too).

    >>> import nnlab
    >>> nnlab.scatter(nnlab.zeros(2, 3), 1, [[2], [0]], nnlab.tensor([[5.0], [7.0]])).tolist()
    [[0.0, 0.0, 5.0], [7.0, 0.0, 0.0]]
    """
    return _scatter(input, dim, index, src, "scatter", adds=False)


def scatter_add(input, dim, index, src):
    """``torch.scatter_add``: a copy of ``input`` with out[index[i][j]][j] += src[i][j] for ``dim=0``.

    ``index`` and ``src`` have ``input``'s number of dimensions; ``src`` may be
    larger than ``index`` (its leading part is used).  Gradients: the upstream
    gradient for ``input``, the gathered upstream gradient for ``src``.

    >>> import nnlab
    >>> out = nnlab.scatter_add(nnlab.zeros(3), 0, [0, 2, 0], nnlab.tensor([1.0, 2.0, 3.0]))
    >>> out.numpy().tolist()
    [4.0, 0.0, 2.0]
    """
    if not isinstance(src, (Tensor, np.ndarray, list, tuple)):
        raise TypeError(f"scatter_add: src must be a tensor (of the input's dimensions), got {src!r}")
    return _scatter(input, dim, index, src, "scatter_add", adds=True)


def _repeat_counts(repeats, n):
    """``repeats`` as one non-negative count per element along the axis (one count serves them all)."""
    if isinstance(repeats, (bool, np.bool_)):
        raise TypeError(f"repeat_interleave: repeats must be an integer or a tensor of integers, got {repeats!r}")
    counts = _as_index(repeats) if isinstance(repeats, Tensor) else np.asarray(repeats)
    if counts.dtype.kind not in "iu" or counts.ndim > 1:
        raise TypeError(f"repeat_interleave: repeats must be an integer or a 1-D tensor of integers, got {repeats!r}")
    if counts.ndim == 1 and counts.size not in (1, n):
        raise ValueError(f"repeat_interleave: repeats has {counts.size} counts for a dim of size {n} "
                         f"(give one count, or {n})")
    if (counts < 0).any():
        raise ValueError(f"repeat_interleave: repeats must be non-negative, got {counts.min()}")
    return np.broadcast_to(counts.reshape(-1), (n,))


def repeat_interleave(input, repeats, dim=None, *, output_size=None):
    """``torch.repeat_interleave``: each element repeated ``repeats`` times along ``dim`` (the flattened
    input when None); ``repeats`` is one count or one per element.  The gradient adds up each element's copies.

    >>> import nnlab
    >>> nnlab.tensor([[1.0, 2.0]]).repeat_interleave(nnlab.tensor([1, 2]), dim=1).tolist()
    [[1.0, 2.0, 2.0]]
    """
    from .shape import reshape
    from .sorting import check_dim

    a = as_tensor(input)
    if dim is None or a.data.ndim == 0:
        if dim is not None:
            check_dim(dim, 0, "repeat_interleave")
        a, ax = reshape(a, (-1,)), 0
    else:
        ax = check_dim(dim, a.data.ndim, "repeat_interleave")
    X = a.data
    counts = _repeat_counts(repeats, X.shape[ax])
    if output_size is not None and output_size != counts.sum():
        raise ValueError(f"repeat_interleave: output_size={output_size!r} but the repeats add up to {counts.sum()}")
    source = np.repeat(np.arange(X.shape[ax]), counts)
    shape, dtype = X.shape, X.dtype

    def backward(g):
        moved = np.moveaxis(g, ax, 0)
        grad = np.zeros((shape[ax],) + moved.shape[1:], dtype=dtype)
        np.add.at(grad, source, moved)  # each element gets the sum over its copies
        return (np.moveaxis(grad, 0, ax),)

    return make_result(np.repeat(X, counts, axis=ax), (a,), backward)


add_methods(gather, scatter, scatter_add, take_along_axis, repeat_interleave)
