"""numba kernels of the hot ops (imported only through :mod:`nnlab._jit`: importing this module imports numba).

- ``relu_backward``: g·1[y > 0] in one pass, for ``activations._relu_grad``: the
  bits of the reference ``g * (y > 0)`` (g where y > 0, else g·0: NaN stays NaN,
  a negative g gives −0), without its boolean mask and second pass.
- ``bn_forward`` / ``bn_backward`` / ``bn_sums``: BatchNorm in training mode over a
  C-contiguous (n, C) batch, the formulas of ``fused.batch_norm`` in three passes
  forward (sum, centred sum of squares, output) and two backward (sums, input
  gradient) instead of NumPy's seven and seven.  The element-wise operations are
  the reference's, in its order and dtype; the column sums run row after row
  (the reference's ``ones @ A`` is a BLAS product that may add in another
  order), so results agree with the reference to rounding, and are the same bits
  from run to run and machine to machine (each column is summed in one fixed
  order, whatever the vector width).
- ``norm_rows_forward`` / ``norm_rows_backward``: LayerNorm and GroupNorm over the rows
  of a C-contiguous (R, K) array, the formulas of ``norms._normalized`` in three passes
  over each row forward (sum, centred sum of squares, output) and two backward, with
  x̂ recomputed from x, μ and s instead of kept.  A row's sums are added in float64 in
  order (at least as accurate as the reference's BLAS sums; results agree to rounding).
"""

import numba
import numpy as np

# error_model="numpy": x/0 gives inf or nan as in NumPy, and the loops vectorize (see optim/_numba_kernels.py).
_jit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_jit
def bn_forward(X, G, B, eps, inv_n, out, stats, rm, rv, keep, m, mv, relu):
    """Batch statistics and y = (x − μ)·γs + β with s = 1/√(σ² + ε).

    ``stats`` rows receive μ, σ², s and γs.  Non-empty ``rm``/``rv`` are the running
    mean and variance, updated as the reference does: r·(1 − m) + m·μ and
    r·(1 − m) + (m·n/(n − 1))·σ² (``keep`` = 1 − m, ``mv`` = m·n/(n − 1), in the dtype).
    ``relu``: the output is max(y, 0) as ``np.maximum(y, zeros)`` gives it (+0 for y ≤ 0, NaN kept).
    """
    n, C = X.shape
    mu, var, inv, scale = stats[0], stats[1], stats[2], stats[3]
    mu[:] = 0
    var[:] = 0
    for i in range(n):
        for c in range(C):
            mu[c] += X[i, c]
    for c in range(C):
        mu[c] *= inv_n
    for i in range(n):
        for c in range(C):
            d = X[i, c] - mu[c]
            var[c] += d * d
    for c in range(C):
        var[c] *= inv_n
        inv[c] = 1
        inv[c] /= np.sqrt(var[c] + eps)  # 1/√(σ² + ε) in the dtype: the stored 1 keeps the division in it
        scale[c] = G[c] * inv[c]
    for c in range(rm.size):
        rm[c] = rm[c] * keep + m * mu[c]
    for c in range(rv.size):
        rv[c] = rv[c] * keep + mv * var[c]
    zero = inv_n - inv_n  # +0 in the dtype
    for i in range(n):
        for c in range(C):
            y = (X[i, c] - mu[c]) * scale[c] + B[c]
            if relu and y <= 0:
                y = zero
            out[i, c] = y


@_jit
def bn_sums(g, Y, X, mu, zero, sum_g, dot, relu):
    """Σ g and Σ g·(x − μ) per column; with ``relu``, of g·1[y > 0] (ReLU's backward, its bits) instead of g."""
    n, C = g.shape
    sum_g[:] = 0
    dot[:] = 0
    for i in range(n):
        for c in range(C):
            gi = g[i, c]
            if relu and not Y[i, c] > 0:
                gi = gi * zero
            sum_g[c] += gi
            dot[c] += gi * (X[i, c] - mu[c])


@_jit
def bn_backward(g, Y, X, mu, inv, scale, inv_n, gX, sum_g, dot, relu):
    """The sums of ``bn_sums`` and dx = γs·((x − μ)·(−s²·dot/n) + g − Σg/n), in the reference's operation order."""
    zero = inv_n - inv_n
    bn_sums(g, Y, X, mu, zero, sum_g, dot, relu)
    n, C = g.shape
    coef = np.empty_like(mu)
    shift = np.empty_like(mu)
    for c in range(C):
        coef[c] = (inv[c] * inv[c]) * (dot[c] * -inv_n)
        shift[c] = sum_g[c] * inv_n
    for i in range(n):
        for c in range(C):
            gi = g[i, c]
            if relu and not Y[i, c] > 0:
                gi = gi * zero
            gX[i, c] = ((X[i, c] - mu[c]) * coef[c] + gi - shift[c]) * scale[c]


@_jit
def relu_backward(g, Y, zero, out):
    """out = g·1[Y > 0] over flat arrays, as ``g * (Y > 0)`` computes it (see the module docstring)."""
    for i in range(g.size):
        gi = g[i]
        out[i] = gi if Y[i] > 0 else gi * zero


@_jit
def norm_rows_forward(X, W, B, eps, out, mu, inv):
    """Row statistics μ, s = 1/√(σ² + ε) and y = (x − μ)·s·w + b; row r takes ``W``/``B`` row r mod P."""
    R, K = X.shape
    P = W.shape[0]
    for r in range(R):
        total = 0.0  # float64 accumulators, the row's values in order
        for k in range(K):
            total += X[r, k]
        m = total / K
        squares = 0.0
        for k in range(K):
            d = X[r, k] - m
            squares += d * d
        mu[r] = m
        inv[r] = 1.0 / np.sqrt(squares / K + eps)
        p = r % P
        mr, ir = mu[r], inv[r]
        for k in range(K):
            out[r, k] = (X[r, k] - mr) * ir * W[p, k] + B[p, k]


@_jit
def norm_rows_backward(G, X, mu, inv, W, gX, gW, gB, rx):
    """gW, gB (P, K) += Σ g·x̂, Σ g over the rows of each parameter row; dx = s·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) when ``rx``."""
    R, K = G.shape
    P = W.shape[0]
    for r in range(R):
        p = r % P
        mr, ir = mu[r], inv[r]
        sum_gh = 0.0
        dot = 0.0
        for k in range(K):
            h = (X[r, k] - mr) * ir
            g = G[r, k]
            gh = g * W[p, k]
            sum_gh += gh
            dot += gh * h
            gW[p, k] += g * h
            gB[p, k] += g
        if rx:
            m1 = sum_gh / K
            m2 = dot / K
            for k in range(K):
                h = (X[r, k] - mr) * ir
                gX[r, k] = (G[r, k] * W[p, k] - m1 - h * m2) * ir
