"""LayerNorm's and GroupNorm's rows by the numba kernels of ``_numba_kernels.py``, for ``norms._normalized``
(InstanceNorm's batch statistics too: group norm with one channel a group, ``norms_more.instance_norm``).

The rows are (R, K) with K values each; the parameters come as P rows of K
(row r of the input takes parameter row r mod P): layer norm's weight is one
row (P = 1), group norm's per-channel weight is repeated over each channel's
positions into one row per group (P = num_groups).  Used under nnlab's kernel
rule (:mod:`nnlab._jit`) for C-contiguous rows; anything else takes the
NumPy reference (about twelve passes over the batch each way, against three
and two).  Forward and backward, float32, timeit best of 5 on a loaded 2-core
machine, reference → kernels: layer norm (128, 256) 280–440 → 128 µs,
(64, 32, 512) 38–54 → 8–17 ms; group norm (32, 64, 16, 16), 8 groups, 10–23 → 2.2–3.3 ms.
"""

from __future__ import annotations

import numpy as np

from .. import _jit

_NAMES = ("norm_rows_forward", "norm_rows_backward")
_found: dict = {}  # dtype -> (forward, backward), or None where a kernel did not compile


def _signature(name):
    def make(num, types):
        m, v = types.Array(num, 2, "C"), types.Array(num, 1, "C")
        return {"norm_rows_forward": (m, m, m, num, m, v, v),
                "norm_rows_backward": (m, m, v, v, m, m, m, m, types.boolean)}[name]
    return make


def kernels(Xr):
    """The kernels (forward, backward) for these rows, or None: take the NumPy reference."""
    if not (_jit.wanted(Xr.size) and Xr.flags.c_contiguous):
        return None
    dtype = Xr.dtype
    if dtype not in _found:
        _found[dtype] = _jit.kernels(_jit.OPS_KERNELS, _NAMES, Xr.size, dtype, _signature)
    return _found[dtype]


def forward(found, Xr, Wp, Bp, eps):
    """``(out, μ, s)`` of the rows; ``Wp``/``Bp`` are the (P, K) parameter rows."""
    R = Xr.shape[0]
    out = np.empty_like(Xr)
    mu, inv = np.empty(R, Xr.dtype), np.empty(R, Xr.dtype)
    found[0](Xr, Wp, Bp, Xr.dtype.type(eps), out, mu, inv)
    return out, mu, inv


def backward(found, g, Xr, mu, inv, Wp, rx):
    """``(dx or None, dW, dB)``, the parameter gradients as (P, K) rows."""
    g2 = np.ascontiguousarray(g.reshape(Xr.shape))
    gW, gB = np.zeros(Wp.shape, Xr.dtype), np.zeros(Wp.shape, Xr.dtype)
    gX = np.empty_like(Xr) if rx else np.empty((0, 0), Xr.dtype)
    found[1](g2, Xr, mu, inv, Wp, gX, gW, gB, rx)
    return (gX if rx else None), gW, gB
