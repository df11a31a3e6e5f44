"""BatchNorm's training pass by the numba kernels of ``_numba_kernels.py``, for ``fused.batch_norm``.

The same formulas as the NumPy reference in ``fused.batch_norm``: three passes
over the batch forward (the running statistics updated inside, with the
reference's operations) and two backward, instead of about seven NumPy passes
each way.  Used under nnlab's kernel rule (:mod:`nnlab._jit`) for C-contiguous
batches; anything else takes the reference.
"""

from __future__ import annotations

import numpy as np

from .. import _jit

_NAMES = ("bn_forward", "bn_backward", "bn_sums")
_found: dict = {}  # dtype -> (forward, backward, sums), or None where a kernel did not compile


def _signature(name):
    def make(num, types):
        m, v = types.Array(num, 2, "C"), types.Array(num, 1, "C")
        flag = types.boolean
        return {"bn_forward": (m, v, v, num, num, m, m, v, v, num, num, num, flag),
                "bn_sums": (m, m, m, v, num, v, v, flag),
                "bn_backward": (m, m, m, v, v, v, num, m, v, v, flag)}[name]
    return make


def kernels(X2, G, B):
    """The kernels (forward, backward, sums) for this batch, or None: take the NumPy reference."""
    if not (_jit.wanted(X2.size) and X2.flags.c_contiguous and G.flags.c_contiguous and B.flags.c_contiguous):
        return None
    dtype = X2.dtype
    if dtype not in _found:
        _found[dtype] = _jit.kernels(_jit.OPS_KERNELS, _NAMES, X2.size, dtype, _signature)
    return _found[dtype]


def _running(r, dtype):
    """A running-statistics array the kernel can update in place, or None (the caller updates it)."""
    return r is not None and r.dtype == dtype and r.ndim == 1 and r.flags.c_contiguous


def forward(found, X2, G, B, eps, inv_n, running_mean, running_var, momentum, relu=False):
    """``(out, μ, σ², s, γs, running_mean, running_var)``; the running arrays returned are those still to update."""
    dtype = X2.dtype
    dt = dtype.type
    n, C = X2.shape
    stats = np.empty((4, C), dtype)
    out = np.empty_like(X2)
    empty = stats[0, :0]
    rm = running_mean if _running(running_mean, dtype) else None
    rv = running_var if _running(running_var, dtype) else None
    m = dt(momentum)
    found[0](X2, G, B, eps, inv_n, out, stats, empty if rm is None else rm, empty if rv is None else rv,
             1 - m, m, m * dt(n / (n - 1)), relu)
    mu, var, inv, scale = stats
    return (out, mu, var, inv, scale, running_mean if rm is None else None, running_var if rv is None else None)


def backward(found, g, X2, mu, inv, scale, inv_n, rx, rg, rb, Y=None):
    """(dx, dγ, dβ) of the training pass from Σg and Σ g·(x − μ); ``Y``: the fused ReLU's output, whose mask g takes first."""
    g2 = np.ascontiguousarray(g.reshape(X2.shape))
    relu = Y is not None
    Y = g2 if Y is None else Y
    sums = np.empty((2,) + mu.shape, mu.dtype)
    sum_g, dot = sums
    gX = None
    if rx:
        gX = np.empty_like(X2)
        found[1](g2, Y, X2, mu, inv, scale, inv_n, gX, sum_g, dot, relu)
        gX = gX.reshape(g.shape)
    else:
        found[2](g2, Y, X2, mu, inv_n - inv_n, sum_g, dot, relu)
    return gX, dot * inv if rg else None, sum_g if rb else None
