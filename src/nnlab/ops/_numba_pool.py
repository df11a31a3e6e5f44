"""numba kernels of max pooling over channels-last arrays (imported only through :mod:`nnlab._jit`).

The NumPy reference in :mod:`nnlab.ops.pool` walks the kernel offsets: the
forward is one copy plus kernel-size − 1 ``np.maximum`` passes over strided
slabs, the backward four passes per offset (equal, greater, or, multiply) to
find each window's first maximal element.  Here each is one pass over the
windows of an (N, H, W, C) array (a 1-D pool is the 2-D one with H = 1), for
windows that do not overlap (stride ≥ kernel on every axis; overlapping
windows keep the reference, whose sums of several windows' gradients have an
order of their own).  The rules and the bits are the reference's: a NaN in a
window makes the maximum NaN and sends its gradient nowhere; the gradient
goes to the first element equal to the maximum in row-major kernel order, and
every other element of a window gets g·0 (±0, NaN for an infinite g).
"""

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def max_pool_forward(Xp, kh, kw, sh, sw, out):
    """out[n, p, q, c] = max over the window at (p·sh, q·sw) of Xp; NaN wins (as ``np.maximum``)."""
    N, P, Q, C = out.shape
    for n in range(N):
        for p in range(P):
            for q in range(Q):
                h0, w0 = p * sh, q * sw
                for c in range(C):
                    out[n, p, q, c] = Xp[n, h0, w0, c]
                for i in range(kh):
                    for j in range(kw):
                        if i == 0 and j == 0:
                            continue
                        for c in range(C):
                            v, top = Xp[n, h0 + i, w0 + j, c], out[n, p, q, c]
                            out[n, p, q, c] = v if (v > top) | (v != v) else top


@_jit
def max_pool_backward(Xp, out, g, kh, kw, sh, sw, zero, dXp):
    """Each window's gradient to its first element equal to the maximum; g·0 to the window's other elements.

    ``dXp`` must be zero outside the windows (the rows and columns that no window
    covers); inside them every element is written.  The channel loop is the
    innermost, over contiguous memory, with one "winner found" flag per channel.
    """
    N, P, Q, C = out.shape
    found = np.zeros(C, dtype=np.bool_)
    for n in range(N):
        for p in range(P):
            for q in range(Q):
                h0, w0 = p * sh, q * sw
                found[:] = False
                for i in range(kh):
                    for j in range(kw):
                        for c in range(C):  # branch-free selects, so the loop vectorizes
                            gv = g[n, p, q, c]
                            hit = (Xp[n, h0 + i, w0 + j, c] == out[n, p, q, c]) & ~found[c]
                            dXp[n, h0 + i, w0 + j, c] = gv if hit else gv * zero
                            found[c] |= hit
