"""Shape ops: reshape, transpose and the other axis views, joins, pieces, padding."""

import numpy as np

from ..tensor import Tensor, add_methods, as_tensor, make_result
from ._broadcast import unbroadcast
from .elementwise import astype, float_dtype
from . import reduce as _reduce


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


def concatenate(tensors, axis=0, *, dim=None):
    """Join tensors along an existing axis (``torch.cat``'s ``dim``); the gradient is split back at the seams."""
    axis = _dim(axis, 0, dim, "concatenate")
    tensors = _same_dtype(tensors)
    arrays = [t.data for t in tensors]
    out = np.concatenate(arrays, axis=axis)
    ax = axis % out.ndim
    bounds = np.cumsum([arr.shape[ax] for arr in arrays])[:-1]

    def backward(g):
        pieces = np.split(g, bounds, axis=ax)
        return tuple(p if t.requires_grad else None for p, t in zip(pieces, tensors))

    return make_result(out, tuple(tensors), backward)


def stack(tensors, axis=0, *, dim=None):
    """Join tensors along a new axis."""
    axis = _dim(axis, 0, dim, "stack")
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


# ------------------------------------------------------------------ views of the axes
def _dim(axis, default, dim, owner):
    """``axis`` or torch's ``dim`` keyword (an axis left at its default counts as not given)."""
    if dim is None:
        return axis
    return _reduce.dim_keywords(None if axis == default else axis, False, dim, None, owner)[0]


def _axis(axis, ndim, owner, name="axis"):
    """``axis`` in [0, ndim), or an AxisError (an IndexError and a ValueError) naming the valid range
    (``name`` is the argument the message names: torch's ops call it ``dim``).

    A 0-d tensor takes axis 0 or −1, as in PyTorch; out-of-range axes are refused (as PyTorch and NumPy),
    never wrapped around.
    """
    n = max(ndim, 1)
    if not -n <= axis < n:
        raise np.exceptions.AxisError(f"{owner}: {name} {axis} is out of range for a {ndim}-d tensor "
                                      f"(expected one in [{-n}, {n - 1}])")
    return int(axis) % n


def _sizes(args):
    """``f(2, 3)`` or ``f((2, 3))``."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)


def squeeze(a, axis=None, *, dim=None):
    """Drop size-1 axes (all of them, or those in ``axis``; a listed axis of another size is kept, as PyTorch).

    >>> import nnlab
    >>> nnlab.zeros(1, 2, 1).squeeze().shape, nnlab.zeros(1, 2, 1).squeeze(1).shape
    ((2,), (1, 2, 1))
    """
    axis = _dim(axis, None, dim, "squeeze")
    shape = a.data.shape
    if axis is None:
        drop = {d for d, n in enumerate(shape) if n == 1}
    else:
        parts = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        axes = [_axis(ax, len(shape), "squeeze") for ax in parts]
        drop = {ax for ax in axes if shape and shape[ax] == 1}
    return reshape(a, tuple(n for d, n in enumerate(shape) if d not in drop))


def unsqueeze(a, axis=None, *, dim=None):
    """Insert a size-1 axis at ``axis`` (−1 appends), as ``torch.unsqueeze``."""
    axis = _dim(axis, None, dim, "unsqueeze")
    if axis is None:
        raise TypeError("unsqueeze: give the position of the new axis (axis= or dim=)")
    return reshape(a, np.expand_dims(a.data, axis).shape)


def flatten(a, start_axis=0, end_axis=-1, *, start_dim=None, end_dim=None):
    """Merge axes ``start_axis`` … ``end_axis`` into one (a 0-d tensor becomes shape (1,)), as ``torch.flatten``
    (whose names ``start_dim``/``end_dim`` work too)."""
    start_axis = _dim(start_axis, 0, start_dim, "flatten")
    end_axis = _dim(end_axis, -1, end_dim, "flatten")
    shape = a.data.shape
    s, e = _axis(start_axis, len(shape), "flatten"), _axis(end_axis, len(shape), "flatten")
    if s > e:
        raise ValueError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis}")
    if not shape:
        return reshape(a, (1,))
    return reshape(a, shape[:s] + (-1,) + shape[e + 1 :])


def unflatten(a, axis, sizes):
    """Split axis ``axis`` into ``sizes`` (one entry may be −1), as ``torch.unflatten``."""
    shape = a.data.shape
    ax = _axis(axis, len(shape), "unflatten")
    return reshape(a, shape[:ax] + tuple(sizes) + shape[ax + 1 :])


def permute(a, *axes):
    """Reorder the axes: ``permute(2, 0, 1)`` (every axis named), as ``torch.permute``."""
    axes = _sizes(axes)
    if sorted(ax % max(a.data.ndim, 1) for ax in axes) != list(range(a.data.ndim)):
        raise ValueError(f"permute needs each of the {a.data.ndim} axes once, got {axes}")
    return transpose(a, axes)


def swapaxes(a, axis1, axis2):
    """Exchange two axes (``torch.swapaxes`` / ``transpose(x, d0, d1)``)."""
    ndim = a.data.ndim
    axis1, axis2 = _axis(axis1, ndim, "swapaxes"), _axis(axis2, ndim, "swapaxes")
    if not ndim:
        return transpose(a)
    axes = list(range(ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(a, axes)


def expand(a, *sizes):
    """Broadcast to ``sizes`` without copying (−1 keeps an axis), as ``torch.Tensor.expand``; gradients sum back."""
    sizes = _sizes(sizes)
    shape = a.data.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise ValueError(f"expand: {len(sizes)} sizes for a {len(shape)}-d tensor (give at least one per axis)")
    if -1 in sizes[:lead]:
        raise ValueError(f"expand: size -1 (keep the axis) on new leading axis {sizes.index(-1)} of {sizes}; "
                         "a new axis needs its size")
    target = tuple(n if n != -1 else shape[d - lead] for d, n in enumerate(sizes))
    out = np.broadcast_to(a.data, target)
    return make_result(out, (a,), lambda g: (unbroadcast(g, shape),))


def tile(a, reps):
    """Repeat the whole tensor ``reps`` times along each axis (``np.tile``; ``reps`` may be shorter or longer)."""
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    X = a.data
    out = np.tile(X, reps)
    n = max(len(reps), X.ndim)
    reps_full = (1,) * (n - len(reps)) + reps
    src = (1,) * (n - X.ndim) + X.shape

    def backward(g):
        # Each output axis is (repeat, source) pairs: sum over the repeat half.
        split = g.reshape(tuple(x for pair in zip(reps_full, src) for x in pair))
        return (split.sum(axis=tuple(range(0, 2 * n, 2))).reshape(X.shape),)

    return make_result(out, (a,), backward)


def repeat(a, *repeats):
    """``torch.Tensor.repeat``: tile with one count per axis (at least ``ndim`` counts; extra ones add leading axes)."""
    repeats = _sizes(repeats)
    if len(repeats) < a.data.ndim:
        raise ValueError(f"repeat needs at least {a.data.ndim} counts (one per axis), got {repeats}")
    return tile(a, repeats)


def flip(a, axis=None, *, dims=None):
    """Reverse the order along ``axis`` (all axes when None; torch's ``dims``); the gradient flips back."""
    axis = _dim(axis, None, None if dims is None else tuple(np.atleast_1d(dims)), "flip")
    return make_result(np.flip(a.data, axis), (a,), lambda g: (np.flip(g, axis),))


def roll(a, shifts, axis=None, *, dims=None):
    """Shift elements cyclically (over the flattened tensor when ``axis`` is None, as NumPy and PyTorch)."""
    axis = _dim(axis, None, dims, "roll")
    back = tuple(-s for s in shifts) if isinstance(shifts, (tuple, list)) else -shifts
    return make_result(np.roll(a.data, shifts, axis), (a,), lambda g: (np.roll(g, back, axis),))


def _triangle(a, k, keep):
    X = a.data
    mask = keep(np.ones(X.shape[-2:], dtype=bool), k)
    return make_result(np.where(mask, X, X.dtype.type(0)), (a,), lambda g: (np.where(mask, g, g.dtype.type(0)),))


def tril(a, diagonal=0):
    """The lower triangle of the last two axes (elements above ``diagonal`` set to 0)."""
    return _triangle(a, diagonal, np.tril)


def triu(a, diagonal=0):
    """The upper triangle of the last two axes (elements below ``diagonal`` set to 0)."""
    return _triangle(a, diagonal, np.triu)


# --------------------------------------------------------------------- pieces, padding
def split(a, split_size_or_sections, axis=0, *, dim=None):
    """``torch.split``: pieces of ``split_size`` along ``axis`` (the last may be smaller), or of the listed sizes."""
    axis = _dim(axis, 0, dim, "split")
    axis = _axis(axis, a.data.ndim, "split")
    n = a.data.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size < 1:
            raise ValueError(f"split size must be at least 1, got {size}")
        sizes = [min(size, n - start) for start in range(0, n, size)]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split sizes {sizes} do not add up to the axis length {n}")
    lead = (slice(None),) * axis
    starts = np.cumsum([0] + sizes[:-1])
    from .indexing import getitem

    return tuple(getitem(a, lead + (slice(int(s), int(s) + k),)) for s, k in zip(starts, sizes))


def chunk(a, chunks, axis=0, *, dim=None):
    """``torch.chunk``: at most ``chunks`` pieces of ⌈n/chunks⌉ along ``axis``."""
    axis = _dim(axis, 0, dim, "chunk")
    n = a.data.shape[_axis(axis, a.data.ndim, "chunk")]
    return split(a, max(1, -(-n // chunks)), axis)


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}


def pad(a, pad, mode="constant", value=0.0):
    """``torch.nn.functional.pad``: ``pad`` lists (before, after) pairs from the LAST axis backwards.

    Modes ``constant`` (filled with ``value``), ``reflect`` (mirror without the
    edge) and ``replicate`` (repeat the edge).  Backward: the interior for
    constant padding; otherwise every output element's gradient goes back to
    the input element it copies.

    >>> import nnlab
    >>> nnlab.pad(nnlab.tensor([1.0, 2.0, 3.0]), (2, 1), mode="reflect").numpy().tolist()
    [3.0, 2.0, 1.0, 2.0, 3.0, 2.0]
    """
    from .._checks import check_choice

    check_choice("mode", mode, tuple(_PAD_MODES), owner="pad")
    X = a.data
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > X.ndim or min(pad, default=0) < 0:
        raise ValueError(f"pad needs (before, after) pairs of non-negative sizes for at most {X.ndim} axes, got {pad}")
    pairs = [(0, 0)] * (X.ndim - len(pad) // 2) + [(pad[i], pad[i + 1]) for i in range(len(pad) - 2, -1, -2)]
    if mode == "constant":
        out = np.pad(X, pairs, mode="constant", constant_values=X.dtype.type(value))
        inner = tuple(slice(b, b + n) for (b, _), n in zip(pairs, X.shape))
        return make_result(out, (a,), lambda g: (g[inner],))
    out = np.pad(X, pairs, mode=_PAD_MODES[mode])
    source = np.pad(np.arange(X.size).reshape(X.shape), pairs, mode=_PAD_MODES[mode])

    def backward(g):
        return (np.bincount(source.ravel(), weights=g.ravel(), minlength=X.size).astype(X.dtype).reshape(X.shape),)

    return make_result(out, (a,), backward)


add_methods(squeeze, unsqueeze, flatten, unflatten, permute, swapaxes, expand, repeat, tile, flip, roll, tril, triu, split, chunk)
