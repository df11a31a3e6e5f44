"""Pooling over strided windows: max (gradient routed to the arg-max), average, adaptive average.

Max and average pooling walk the kernel offsets (kernel-size vectorized
steps, no loop over positions or samples), each reading the (N, *out, C)
slab of the padded channels-last input that the offset covers.  Max pooling's
forward computes only the maximum (``np.maximum``: a NaN in a window gives a
NaN, as in PyTorch); its backward finds each window's winner as the first
element equal to the maximum.  With numba (``nnlab[fast]``, see :mod:`nnlab._jit`)
non-overlapping 1-D and 2-D max pooling of large batches runs as one pass
forward and one backward (``_numba_pool.py``) with the same rules and bits.

Max-pooling ties: the whole gradient of a window goes to its *first*
maximal element in row-major kernel order (a later element must be strictly
greater to win), which is also PyTorch's CPU rule.  Where windows overlap,
an element that wins several windows receives the sum of their gradients.
Padding of max pooling is −∞ (never wins), of average pooling zeros that
count in the divisor by default (PyTorch's ``count_include_pad=True``).

The PyTorch options ``ceil_mode``, ``dilation`` (max), ``count_include_pad``
and ``divisor_override`` (average) take the same offset walk: ceil mode pads
the high side further (−∞ or 0) so the last window fits, dilation spaces the
offsets, and a non-constant divisor is a per-position array.  The numba
kernels run for undilated max pooling, ceil mode included.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from .. import _jit
from .._checks import check_bool, check_int
from ..errors import ConfigError
from ..tensor import as_tensor, make_result
from ._windows import (
    channels_first,
    channels_last,
    covering_pads,
    interior,
    offsets,
    output_shape,
    pad,
    resolve_padding,
    spatial_tuple,
)


def _setup(x, kernel_size, stride, padding, owner, dilation=1, ceil_mode=False):
    """The input, its array, the kernel, stride and dilation tuples, the padding, the padding that covers
    every window (more than ``pads`` only in ceil mode) and the output's spatial shape."""
    x = as_tensor(x)
    X = x.data
    if X.ndim < 3:
        raise ConfigError(f"{owner} expects input of shape (N, C, *spatial), got shape {X.shape}")
    d = len(kernel_size) if isinstance(kernel_size, (tuple, list)) else X.ndim - 2
    if X.ndim != d + 2:
        raise ConfigError(f"{owner}: a {d}-D kernel {kernel_size!r} needs input (N, C, *{d} axes), got {X.shape}")
    kernel = spatial_tuple("kernel_size", kernel_size, d, 1, owner)
    stride = kernel if stride is None else spatial_tuple("stride", stride, d, 1, owner)
    dilation = spatial_tuple("dilation", dilation, d, 1, owner)
    ceil_mode = check_bool("ceil_mode", ceil_mode, owner=owner)
    pads = resolve_padding(padding, kernel, dilation, stride, owner)
    if any(lo > k // 2 or hi > k // 2 for (lo, hi), k in zip(pads, kernel)):
        raise ConfigError(f"{owner}: padding must be at most half the kernel size {kernel}, got {padding!r}")
    out_sp = output_shape(X.shape[2:], kernel, stride, dilation, pads, owner, ceil_mode)
    cover = covering_pads(X.shape[2:], kernel, stride, dilation, pads, out_sp)
    return x, X, kernel, stride, dilation, pads, cover, out_sp


def max_pool(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Maximum over each window: y[n, c, p] = max_k x[n, c, s·p + d·k − pad]; stride defaults to the kernel.

    ``ceil_mode`` rounds the output size up (PyTorch's rule); the part of a last window beyond the
    padded input is −∞ like the padding.

    >>> import nnlab
    >>> max_pool(nnlab.tensor([[[1.0, 3.0, 2.0, 5.0]]]), 2).data.tolist()
    [[[3.0, 5.0]]]
    """
    x, X, kernel, stride, dilation, _, pads, out_sp = _setup(x, kernel_size, stride, padding, "max_pool",
                                                             dilation, ceil_mode)
    Xp = pad(channels_last(X), pads, -np.inf)
    kernels = _pool_kernels(Xp, kernel, stride, dilation)
    if kernels is not None:
        return _max_pool_by_kernels(x, X, Xp, kernels, kernel, stride, pads, out_sp)
    slab_index = [index for _, index in offsets(kernel, stride, dilation, out_sp)]
    # The maximum alone in the forward: one copy and kernel-size − 1 in-place maximum passes.  The
    # winners (which element each gradient goes to) are found in the backward from Xp and the
    # output, so a forward without backward (evaluation) never pays for them.
    out = Xp[slab_index[0]].copy()
    for index in slab_index[1:]:
        np.maximum(out, Xp[index], out=out)
    overlap = any(s < dl * (k - 1) + 1 for s, k, dl in zip(stride, kernel, dilation))

    def backward(g):
        gcl = channels_last(g)
        dXp = np.zeros(Xp.shape, dtype=X.dtype)
        taken = hit = None
        for index in slab_index:
            slab = Xp[index]
            if taken is None:  # the first maximal element of a window in row-major kernel order wins
                hit = slab == out
                taken = hit.copy()
            else:
                np.equal(slab, out, out=hit)
                np.greater(hit, taken, out=hit)  # equal to the maximum and no earlier winner
                np.logical_or(taken, hit, out=taken)
            if overlap:  # an element may win several windows: their gradients add
                dXp[index] += gcl * hit
            else:
                np.multiply(gcl, hit, out=dXp[index])
        return (channels_first(dXp[interior(X.shape[2:], pads)]),)

    return make_result(channels_first(out), (x,), backward)


_KERNELS = "nnlab.ops._numba_pool"


def _pool_kernels(Xp, kernel, stride, dilation=None):
    """The numba forward and backward (``_numba_pool``) for non-overlapping, undilated 1-D or 2-D windows, or None."""
    if (len(kernel) > 2 or any(s < k for s, k in zip(stride, kernel)) or any(dl != 1 for dl in dilation or ())
            or not _jit.wanted(Xp.size)):
        return None

    def signature(name):
        def make(num, types):
            c, i = types.Array(num, 4, "C"), types.intp
            return (c, i, i, i, i, c) if name == "max_pool_forward" else (c, c, c, i, i, i, i, num, c)
        return make

    return _jit.kernels(_KERNELS, ("max_pool_forward", "max_pool_backward"), Xp.size, Xp.dtype, signature)


def _as_2d(A):
    """A 1-D pool's (N, L, C) array as the 2-D (N, 1, L, C) view."""
    return A[:, None] if A.ndim == 3 else A


def _max_pool_by_kernels(x, X, Xp, kernels, kernel, stride, pads, out_sp):
    forward, backward_kernel = kernels
    (kh, kw), (sh, sw) = ((1,) + kernel, (1,) + stride) if len(kernel) == 1 else (kernel, stride)
    Xp = np.ascontiguousarray(Xp)  # channels-last memory already after a conv or a ReLU: no copy then
    out = np.empty((X.shape[0],) + out_sp + (X.shape[1],), dtype=X.dtype)
    forward(_as_2d(Xp), kh, kw, sh, sw, _as_2d(out))

    # windows that tile the padded input leave nothing for a zero fill to do: the kernel writes every element
    tiled = all(o * s == n and s == k for o, s, n, k in zip(out_sp, stride, Xp.shape[1:-1], kernel))

    def backward(g):
        dXp = (np.empty if tiled else np.zeros)(Xp.shape, dtype=X.dtype)
        gcl = np.ascontiguousarray(channels_last(g), dtype=X.dtype)
        backward_kernel(_as_2d(Xp), _as_2d(out), _as_2d(gcl), kh, kw, sh, sw, X.dtype.type(0), _as_2d(dXp))
        return (channels_first(dXp[interior(X.shape[2:], pads)]),)

    return make_result(channels_first(out), (x,), backward)


def avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
             divisor_override=None):
    """Mean over each window; stride defaults to the kernel.  The divisor follows PyTorch:

    ``divisor_override`` if given; else, with ``count_include_pad`` (the default), the window's elements
    inside the padded input (the kernel size, except for a ceil-mode window that overhangs it); else
    only its elements inside the input.

    >>> import nnlab
    >>> avg_pool(nnlab.tensor([[[1.0, 3.0, 2.0, 6.0]]]), 2).data.tolist()
    [[[2.0, 4.0]]]
    >>> avg_pool(nnlab.tensor([[[1.0, 3.0, 2.0]]]), 2, padding=1, count_include_pad=False).data.tolist()
    [[[1.0, 2.5]]]
    """
    x, X, kernel, stride, _, pads, cover, out_sp = _setup(x, kernel_size, stride, padding, "avg_pool",
                                                          ceil_mode=ceil_mode)
    include = check_bool("count_include_pad", count_include_pad, owner="avg_pool")
    Xp = pad(channels_last(X), cover)
    scale = _avg_scale(X, kernel, stride, pads, cover, out_sp, include, divisor_override)
    out = None
    for _, index in offsets(kernel, stride, (1,) * len(kernel), out_sp):
        out = Xp[index].copy() if out is None else np.add(out, Xp[index], out=out)
    out *= scale

    def backward(g):
        share = channels_last(g) * scale
        dXp = np.zeros(Xp.shape, dtype=X.dtype)
        for _, index in offsets(kernel, stride, (1,) * len(kernel), out_sp):
            dXp[index] += share
        return (channels_first(dXp[interior(X.shape[2:], cover)]),)

    return make_result(channels_first(out), (x,), backward)


def check_divisor(divisor_override, owner: str):
    """``divisor_override``: None or a nonzero integer (PyTorch takes a negative one too)."""
    if divisor_override is None:
        return None
    if check_int("divisor_override", divisor_override, owner=owner) == 0:
        raise ConfigError(f"{owner}: divisor_override must be a nonzero integer or None, got 0")
    return int(divisor_override)


def _avg_scale(X, kernel, stride, pads, cover, out_sp, include_pad, divisor_override):
    """1 / divisor of each window: a scalar when every window has the same, else a (1, *out, 1) array."""
    dtype = X.dtype.type
    if divisor_override is not None:
        return dtype(1.0 / check_divisor(divisor_override, "avg_pool"))
    if include_pad and cover == pads:  # the default options: every window inside the padded input
        return dtype(1.0 / np.prod(kernel))
    counts = []
    for size, k, s, (lo, hi), o in zip(X.shape[2:], kernel, stride, pads, out_sp):
        start = np.arange(o) * s - lo
        end = np.minimum(start + k, size + hi)  # a ceil-mode window's overhang past the padding never counts
        counts.append(np.minimum(end, size) - np.maximum(start, 0) if not include_pad else end - start)
    divisor = functools.reduce(np.multiply.outer, counts)
    return (1.0 / divisor).astype(X.dtype)[None, ..., None]


def bin_edges(size: int, out: int) -> list:
    """PyTorch's adaptive bins along one axis: bin i spans [⌊i·S/O⌋, ⌈(i+1)·S/O⌉)."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def _bins(size: int, out: int, dtype) -> np.ndarray:
    """The (out, size) averaging matrix of adaptive pooling over :func:`bin_edges`' bins."""
    A = np.zeros((out, size), dtype=dtype)
    for i, (lo, hi) in enumerate(bin_edges(size, out)):  # over output bins (a handful), building a constant matrix
        A[i, lo:hi] = 1.0 / (hi - lo)
    return A


def _adaptive_input(x, output_size, owner: str):
    """(x as a Tensor of shape (N, C, *spatial), the output size per spatial axis) for an adaptive pool."""
    x = as_tensor(x)
    d = x.data.ndim - 2
    if d < 1:
        raise ConfigError(f"{owner} expects input of shape (N, C, *spatial), got shape {x.data.shape}")
    return x, spatial_tuple("output_size", output_size, d, 1, owner)


def adaptive_avg_pool(x, output_size):
    """Average over ``output_size`` bins per spatial axis (1 = global average pooling).

    Separable: along each spatial axis the input is multiplied by a fixed
    (out, size) averaging matrix; the backward multiplies by its transpose.

    >>> import nnlab
    >>> adaptive_avg_pool(nnlab.tensor([[[1.0, 3.0, 2.0, 6.0]]]), 1).data.tolist()
    [[[3.0]]]
    """
    x, sizes = _adaptive_input(x, output_size, "adaptive_avg_pool")
    X = x.data
    spatial = X.shape[2:]
    axes = tuple(range(2, X.ndim))
    if all(o == 1 for o in sizes):
        scale = X.dtype.type(1.0 / np.prod(spatial))
        out = X.sum(axis=axes, keepdims=True) * scale

        def backward(g):
            return (np.broadcast_to(g * scale, X.shape).copy(),)

        return make_result(out, (x,), backward)
    mats = [_bins(s, o, X.dtype) for s, o in zip(spatial, sizes)]
    return separable(x, mats)


def separable(x, mats: list):
    """x (N, C, *S) times a fixed (out, S_k) matrix along each spatial axis k; the backward uses the transposes."""
    axes = range(2, 2 + len(mats))

    def along(Z, transpose):
        for axis, A in zip(axes, mats):
            Z = np.moveaxis(np.moveaxis(Z, axis, -1) @ (A if transpose else A.T), -1, axis)
        return Z

    return make_result(along(x.data, False), (x,), lambda g: (along(g, True),))


def adaptive_max_pool(x, output_size):
    """Maximum over ``output_size`` bins per spatial axis (PyTorch's bins); the gradient goes to each bin's winner.

    The winner is the bin's first maximal element in row-major order (a NaN wins,
    as NumPy's argmax finds it), as PyTorch's CPU kernel.  The forward loops over
    the output bins (a handful per axis), each step vectorized over samples and
    channels; the backward is one scatter-add of the winners' flat indices.

    >>> import nnlab
    >>> adaptive_max_pool(nnlab.tensor([[[1.0, 3.0, 2.0, 6.0, 0.0]]]), 2).data.tolist()
    [[[3.0, 6.0]]]
    """
    x, sizes = _adaptive_input(x, output_size, "adaptive_max_pool")
    X = x.data
    spatial = X.shape[2:]
    if any(s < 1 for s in spatial):
        raise ConfigError(f"adaptive_max_pool: input of shape {X.shape} has an empty spatial axis")
    lead = X.shape[:2]
    out = np.empty(lead + sizes, dtype=X.dtype)
    winner = np.empty(lead + sizes, dtype=np.int64)  # flat index into the spatial axes
    grid = np.arange(int(np.prod(spatial))).reshape(spatial)
    edges = [bin_edges(s, o) for s, o in zip(spatial, sizes)]
    for position in itertools.product(*(range(o) for o in sizes)):
        region = tuple(slice(*edges[k][i]) for k, i in enumerate(position))
        block = X[(Ellipsis,) + region].reshape(lead + (-1,))
        best = np.argmax(block, axis=-1)
        out[(Ellipsis,) + position] = np.take_along_axis(block, best[..., None], -1)[..., 0]
        winner[(Ellipsis,) + position] = grid[region].ravel()[best]

    def backward(g):
        rows = int(np.prod(lead))
        flat = (winner.reshape(rows, -1) + np.arange(rows)[:, None] * grid.size).ravel()
        gx = np.bincount(flat, weights=g.reshape(-1), minlength=rows * grid.size)
        return (gx.astype(X.dtype, copy=False).reshape(X.shape),)

    return make_result(out, (x,), backward)
