"""Transposed convolution: the gradient of a convolution with respect to its input, as a forward op.

A convolution with filters W (C_in, C_out/G, *kernel) maps (N, C_out, *O) to
(N, C_in, *S); its transpose maps (N, C_in, *S) back to (N, C_out, *O) with
O = (S − 1)·s − 2·pad + d·(k − 1) + output_padding + 1 (PyTorch's rule;
``output_padding`` picks one of the s sizes that the convolution maps to S).
So the forward is the convolution's input gradient — x·Wᵀ (one GEMM), then
col2im onto the padded output — and the backward is the convolution itself:
dx = conv(g, W) (im2col of the padded g, one GEMM) and dW = colsᵀ·x.  All three
steps are :mod:`nnlab.ops.conv`'s helpers, so the two ops share their layout.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..tensor import as_tensor, make_result
from ._windows import channels_first, channels_last, check_input, interior, pad, spatial_tuple
from .conv import _check_rank, _groups_gemm, col2im, columns, filter_grad, filter_matrix
from .fused import _column_sums, _like


def transposed_shape(spatial, kernel, stride, padding, output_padding, dilation, owner: str) -> tuple:
    """PyTorch's output size per axis, refusing an output_padding not below the stride or dilation (as torch)."""
    out = []
    for size, k, s, p, op, dl in zip(spatial, kernel, stride, padding, output_padding, dilation):
        if op >= s and op >= dl:
            raise ConfigError(f"{owner}: output_padding must be smaller than either stride or dilation, got "
                              f"output_padding={tuple(output_padding)}, stride={tuple(stride)}, "
                              f"dilation={tuple(dilation)}")
        n = (size - 1) * s - 2 * p + dl * (k - 1) + op + 1
        if n < 1:
            raise ConfigError(f"{owner}: input of spatial size {tuple(spatial)} gives an empty output with "
                              f"kernel {tuple(kernel)}, stride {tuple(stride)} and padding {tuple(padding)}")
        out.append(n)
    return tuple(out)


def conv_transpose(x, W, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """N-d transposed convolution of x (N, C_in, *S) with W (C_in, C_out/groups, *kernel), bias b (C_out,).

    PyTorch's ``conv_transpose{1,2}d`` (argument order included): ``padding`` is
    an int or tuple (it removes d·(k − 1) − padding … from each side of the full
    output); no ``"same"``.

    >>> import numpy as np, nnlab
    >>> x = nnlab.tensor(np.array([[[1.0, 2.0]]]))
    >>> conv_transpose(x, nnlab.tensor([[[1.0, 1.0, 1.0]]]), stride=2).data.tolist()
    [[[1.0, 1.0, 3.0, 2.0, 2.0]]]
    """
    d = W.data.ndim - 2
    owner = f"conv_transpose{d}d"
    x = _like(as_tensor(x, like=W), W)
    X, Wd = x.data, W.data
    check_input(X, d, owner)
    G = groups
    C_in, Cg = Wd.shape[:2]
    kernel = tuple(Wd.shape[2:])
    if X.shape[1] != C_in or C_in % G:
        raise ConfigError(f"{owner}: input has {X.shape[1]} channels; filters of shape {Wd.shape} with groups={G} "
                          f"need {C_in} (divisible by groups)")
    stride = spatial_tuple("stride", stride, d, 1, owner)
    dilation = spatial_tuple("dilation", dilation, d, 1, owner)
    padding = spatial_tuple("padding", padding, d, 0, owner)
    output_padding = spatial_tuple("output_padding", output_padding, d, 0, owner)
    N, spatial = X.shape[0], X.shape[2:]
    out_sp = transposed_shape(spatial, kernel, stride, padding, output_padding, dilation, owner)
    pads = tuple((p, p) for p in padding)
    C_out, M = Cg * G, N * int(np.prod(spatial))
    padded = (N,) + tuple(o + 2 * p for o, p in zip(out_sp, padding)) + (C_out,)
    Wm = filter_matrix(Wd, G)  # (G, kernel·Cg, C_in/G): the convolution's filters, C_out ↔ C_in swapped
    x3 = np.ascontiguousarray(channels_last(X)).reshape(M, G, C_in // G)
    Yp = col2im(x3, Wm, padded, kernel, stride, dilation, spatial)
    Y = Yp[interior(out_sp, pads)]
    if b is not None:
        Y = Y + b.data
    rx, rw = x.requires_grad, W.requires_grad
    rb = b is not None and b.requires_grad

    def backward(g):
        gcl = channels_last(g)
        cols = columns(pad(gcl, pads), kernel, stride, dilation, spatial, G) if (rx or rw) else None
        gX = channels_first(_groups_gemm(cols, Wm).reshape((N,) + spatial + (C_in,))) if rx else None
        gW = filter_grad(cols, x3, Wd.shape) if rw else None
        gb = _column_sums(np.ascontiguousarray(gcl).reshape(-1, C_out)) if rb else None
        return (gX, gW) if b is None else (gX, gW, gb)

    parents = (x, W) if b is None else (x, W, b)
    return make_result(channels_first(Y), parents, backward)


def conv_transpose1d(x, W, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution of (N, C_in, L) with W (C_in, C_out/groups, k); see :func:`conv_transpose`."""
    _check_rank(W, 3, "conv_transpose1d")
    return conv_transpose(x, W, b, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(x, W, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution of (N, C_in, H, W) with W (C_in, C_out/groups, kh, kw); see :func:`conv_transpose`."""
    _check_rank(W, 4, "conv_transpose2d")
    return conv_transpose(x, W, b, stride, padding, output_padding, groups, dilation)
