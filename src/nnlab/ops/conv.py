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
    M, taps = N * int(np.prod(out_sp)), int(np.prod(kernel))

    Xp = pad(channels_last(X), pads)
    win = windows(Xp, kernel, stride, dilation, out_sp)  # (N, *out, *kernel, C)
    if G > 1:  # (N, *out, *kernel, G, Cg) → (N, *out, G, *kernel, Cg): each group's columns side by side
        win = np.moveaxis(win.reshape(win.shape[:-1] + (G, Cg)), -2, 1 + d)
    cols = win.reshape(M, G, taps * Cg)  # the im2col copy
    # Filters as (G, kernel·Cg, n_out), rows in the columns' (kernel offset, channel) order.
    Wm = np.moveaxis(Wd.reshape((G, n_out, Cg) + kernel), (1, 2), (-1, -2)).reshape(G, taps * Cg, n_out)
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
            if G == 1:
                gWm = _blas.matmul(cols[:, 0].T, g2)[None]
            else:
                gWm = np.matmul(cols.transpose(1, 2, 0), g3.transpose(1, 0, 2))  # (G, kernel·Cg, n_out)
            gW = np.moveaxis(gWm.reshape((G,) + kernel + (Cg, n_out)), (-1, -2), (1, 2)).reshape(Wd.shape)
        if rx:
            dcols = _groups_gemm(g3, Wm.transpose(0, 2, 1)).reshape((N,) + out_sp + (G,) + kernel + (Cg,))
            dXp = np.zeros(Xp.shape[:-1] + (G, Cg), dtype=X.dtype)
            lead = (slice(None),) * (2 + d)  # N, *out, G
            for offset, index in offsets(kernel, stride, dilation, out_sp):
                dXp[index] += dcols[lead + offset]
            dXp = dXp.reshape(Xp.shape)
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
