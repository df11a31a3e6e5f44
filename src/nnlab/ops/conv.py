"""Convolution: im2col through a strided view, one GEMM, col2im by accumulation.

The notes' parameter sharing: the same filter is applied at every position,
y[n, o, p] = b[o] + Σ_{c,k} W[o, c, k] · x[n, c, s·p + d·k − pad] (cross-correlation,
as in PyTorch).  Forward: the windows of the padded input are a zero-copy
strided view (N, *out, *kernel, C); one reshape copies them into the column
matrix (N·positions, kernel·C) and one GEMM with the filters gives the output.
Backward: dW = colsᵀ·g (one GEMM), db = Σ g, and — only when the input
requires grad (never for a data batch) — dcols = g·Wᵀ (one GEMM) scattered
back by adding each kernel offset's slab into the padded input gradient
(col2im: kernel-size vectorized adds, no loop over positions or samples).

Groups split the channels into G independent convolutions; the G GEMMs run
as one batched ``matmul``.
"""

from __future__ import annotations

import numpy as np

from .. import _blas

from ..errors import ConfigError
from ..tensor import as_tensor, make_result
from ._windows import (
    channels_first,
    channels_last,
    check_input,
    interior,
    offsets,
    output_shape,
    pad,
    resolve_padding,
    spatial_tuple,
    windows,
)
from .fused import _column_sums, _like


def _groups_gemm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(M, G, k) @ (G, k, n) → (M, G, n): one GEMM when G is 1, one batched matmul otherwise."""
    if A.shape[1] == 1:
        return _blas.matmul(A[:, 0], B[0])[:, None]
    return np.matmul(A.transpose(1, 0, 2), B).transpose(1, 0, 2)


def columns(Xp: np.ndarray, kernel, stride, dilation, out_sp, G: int) -> np.ndarray:
    """The im2col copy of a padded channels-last array: (N·positions, G, kernel·Cg), each group's columns side by side."""
    d, Cg = len(kernel), Xp.shape[-1] // G
    win = windows(Xp, kernel, stride, dilation, out_sp)  # (N, *out, *kernel, C)
    if G > 1:  # (N, *out, *kernel, G, Cg) → (N, *out, G, *kernel, Cg)
        win = np.moveaxis(win.reshape(win.shape[:-1] + (G, Cg)), -2, 1 + d)
    return win.reshape(Xp.shape[0] * int(np.prod(out_sp)), G, int(np.prod(kernel)) * Cg)


def filter_matrix(Wd: np.ndarray, G: int) -> np.ndarray:
    """Filters (C_out, Cg, *kernel) as (G, kernel·Cg, C_out/G), rows in the columns' (kernel offset, channel) order."""
    n_out, Cg, kernel = Wd.shape[0] // G, Wd.shape[1], tuple(Wd.shape[2:])
    return np.moveaxis(Wd.reshape((G, n_out, Cg) + kernel), (1, 2), (-1, -2)).reshape(G, -1, n_out)


def filter_grad(cols: np.ndarray, g3: np.ndarray, shape: tuple) -> np.ndarray:
    """The filters' gradient (``shape``) from the columns and the output gradient (M, G, C_out/G): colsᵀ·g."""
    G, n_out = g3.shape[1:]
    if G == 1:
        gWm = _blas.matmul(cols[:, 0].T, g3[:, 0])[None]
    else:
        gWm = np.matmul(cols.transpose(1, 2, 0), g3.transpose(1, 0, 2))  # (G, kernel·Cg, n_out)
    kernel = tuple(shape[2:])
    return np.moveaxis(gWm.reshape((G,) + kernel + (shape[1], n_out)), (-1, -2), (1, 2)).reshape(shape)


def col2im(g3: np.ndarray, Wm: np.ndarray, padded_shape: tuple, kernel, stride, dilation, out_sp) -> np.ndarray:
    """g·Wᵀ scattered back onto a zero channels-last array of ``padded_shape``: each kernel offset's slab added."""
    G, Cg = Wm.shape[0], padded_shape[-1] // Wm.shape[0]
    N = padded_shape[0]
    dcols = _groups_gemm(g3, Wm.transpose(0, 2, 1)).reshape((N,) + tuple(out_sp) + (G,) + tuple(kernel) + (Cg,))
    dXp = np.zeros(tuple(padded_shape[:-1]) + (G, Cg), dtype=g3.dtype)
    lead = (slice(None),) * (2 + len(kernel))  # N, *out, G
    for offset, index in offsets(kernel, stride, dilation, out_sp):
        dXp[index] += dcols[lead + offset]
    return dXp.reshape(padded_shape)


def conv(x, W, b=None, stride=1, padding=0, dilation=1, groups=1):
    """N-dimensional convolution of x (N, C, *S) with filters W (C_out, C/groups, *kernel) and bias b (C_out,).

    ``stride`` and ``dilation`` are ints or one int per spatial axis;
    ``padding`` an int, a tuple, ``"valid"`` (no padding) or ``"same"``
    (stride 1; the odd element of an even kernel's padding goes to the end,
    as in PyTorch).  Zero padding.  Output (N, C_out, *out), a channels-first
    view of channels-last memory.

    >>> import numpy as np, nnlab
    >>> x = nnlab.tensor(np.arange(5.0).reshape(1, 1, 5))
    >>> conv(x, nnlab.tensor([[[1.0, 0.0, -1.0]]]), padding=1).data.tolist()
    [[[-1.0, -2.0, -2.0, -2.0, 3.0]]]
    """
    owner = f"conv{W.data.ndim - 2}d"
    x = _like(as_tensor(x, like=W), W)
    X, Wd = x.data, W.data
    d = Wd.ndim - 2
    check_input(X, d, owner)
    G = groups
    C_out, Cg = Wd.shape[:2]
    kernel = tuple(Wd.shape[2:])
    if X.shape[1] != Cg * G or C_out % G:
        raise ConfigError(
            f"{owner}: input has {X.shape[1]} channels; filters of shape {Wd.shape} with groups={G} "
            f"need {Cg * G} (and out channels divisible by groups)"
        )
    stride = spatial_tuple("stride", stride, d, 1, owner)
    dilation = spatial_tuple("dilation", dilation, d, 1, owner)
    pads = resolve_padding(padding, kernel, dilation, stride, owner)
    n_out = C_out // G
    N, spatial = X.shape[0], X.shape[2:]
    out_sp = output_shape(spatial, kernel, stride, dilation, pads, owner)
    M = N * int(np.prod(out_sp))

    Xp = pad(channels_last(X), pads)
    cols = columns(Xp, kernel, stride, dilation, out_sp, G)
    Wm = filter_matrix(Wd, G)
    out = _groups_gemm(cols, Wm).reshape(M, C_out)
    if b is not None:
        out += b.data
    rx, rw = x.requires_grad, W.requires_grad
    rb = b is not None and b.requires_grad

    def backward(g):
        g2 = channels_last(g).reshape(M, C_out)
        g3 = g2.reshape(M, G, n_out)
        gb = _column_sums(g2) if rb else None
        gW = gX = None
        if rw:
            gW = filter_grad(cols, g3, Wd.shape)
        if rx:
            dXp = col2im(g3, Wm, Xp.shape, kernel, stride, dilation, out_sp)
            gX = channels_first(dXp[interior(spatial, pads)])
        return (gX, gW) if b is None else (gX, gW, gb)

    parents = (x, W) if b is None else (x, W, b)
    return make_result(channels_first(out.reshape((N,) + out_sp + (C_out,))), parents, backward)


def conv1d(x, W, b=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of (N, C, L) with W (C_out, C/groups, k); see :func:`conv`."""
    _check_rank(W, 3, "conv1d")
    return conv(x, W, b, stride, padding, dilation, groups)


def conv2d(x, W, b=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of (N, C, H, W) with W (C_out, C/groups, kh, kw); see :func:`conv`."""
    _check_rank(W, 4, "conv2d")
    return conv(x, W, b, stride, padding, dilation, groups)


def _check_rank(W, ndim: int, owner: str) -> None:
    if W.data.ndim != ndim:
        raise ConfigError(f"{owner}: filters must have {ndim} axes (out, in/groups, kernel…), got shape {W.shape}")
