"""Fused ops: one graph node where composing primitives would cost speed or stability."""

import numpy as np

from .. import _blas, _constants
from .._leafgrad import Product
from . import _bn_fast
from .activations import _rectify, _relu_grad
from ..errors import DataError
from ..tensor import is_grad_enabled, make_result
from .elementwise import astype
from .shape import transpose


def _constant(make, n: int, dtype) -> np.ndarray:
    """``make(n, dtype=dtype)`` (np.ones, np.arange), cached read-only (``nnlab/_constants.py``)."""
    key = (make, n, dtype)
    out = _constants.get(key)
    return out if out is not None else _constants.cached(key, make, n, dtype=dtype)


def _offsets(n: int, K: int) -> np.ndarray:
    return _constant(np.arange, n, np.intp) * K


def _row_offsets(n: int, K: int) -> np.ndarray:
    """``arange(n) * K``, cached read-only: with them, element (i, y_i) of an (n, K) array is
    ``flat[offsets + y]``, one take (0.2 µs at 32 × 10) instead of ``A[rows, y]`` (0.8 µs),
    and subtracting there is 0.8 µs against 2.1."""
    key = (_offsets, n, K)
    out = _constants.get(key)
    return out if out is not None else _constants.cached(key, _offsets, n, K)


def _ones(n: int, dtype) -> np.ndarray:
    """Read-only ones: ``ones @ A`` sums A's columns with one BLAS call,
    about twice as fast as ``A.sum(axis=0)`` on float32 (1.9 against 3.9 µs at 128×256)."""
    return _constant(np.ones, n, dtype)


def _row_max(A2: np.ndarray) -> np.ndarray:
    """The maximum of each row of a 2-D array, as a column (n, 1).

    NumPy reduces a short last axis row by row, about 40 ns a row (128×10 float32:
    5.7 µs).  With few columns, the transposed copy reduced along its first axis is
    K − 1 vectorised passes instead (1.6 µs); a maximum is the same value in any
    order, so both give the same numbers.
    """
    n, K = A2.shape
    if K <= 32 and n >= 16:
        return np.maximum.reduce(A2.T.copy(), axis=0)[:, None]
    return A2.max(axis=1, keepdims=True)


def _row_sums(A2: np.ndarray) -> np.ndarray:
    """The sum of each row of a 2-D array, as a column (n, 1): one BLAS matrix-vector product,
    0.9 against NumPy's 2.6 µs at 128×10 float32 (its reduction of a short last axis goes row by row)."""
    return (A2 @ _ones(A2.shape[1], A2.dtype))[:, None]


def _column_sums(A2: np.ndarray) -> np.ndarray:
    return _ones(A2.shape[0], A2.dtype) @ A2


def _like(x, weight):
    """The input in the layer's dtype: a float64 batch must not turn a float32 model's graph float64."""
    return x if x.data.dtype == weight.data.dtype else astype(x, weight.data.dtype)


def linear(x, W, b=None, relu=False):
    """``x @ W + b`` as one node; ``W`` is (in_features, out_features).

    The backward computes dX only when ``x`` requires grad, so a data batch
    costs no extra matrix product.  ``relu=True``: ``relu(x @ W + b)`` as the same
    one node, rectified in place (what ``Sequential`` runs for a Linear followed by
    a ReLU; the same bits as the two ops).
    """
    x = _like(x, W)
    X, Wd = x.data, W.data
    out = _blas.matmul(X, Wd)
    if b is not None:
        out += b.data
    if relu:
        _rectify(out, out=out)
    rx, rw = x.requires_grad, W.requires_grad
    rb = b is not None and b.requires_grad
    parents = (x, W) if b is None else (x, W, b)

    def backward(g):
        if relu:
            g = _relu_grad(g, out)
        # dW and db as Products: computed straight into the parameters' gradient buffers (_leafgrad.py)
        gX = _blas.matmul(g, Wd.T) if rx else None
        g2 = g if X.ndim == 2 else g.reshape(-1, g.shape[-1])  # leading batch axes: fold them into one
        gW = Product((X if X.ndim == 2 else X.reshape(-1, X.shape[-1])).T, g2) if rw else None
        gb = Product(_ones(g2.shape[0], g2.dtype), g2) if rb else None
        return (gX, gW) if b is None else (gX, gW, gb)

    return make_result(out, parents, backward)


def linear_t(x, W, b=None):
    """``x @ W.T + b``: a layer that reuses another's (in, out) weight transposed (tying).

    The transpose is a view node, so the shared weight's gradient from this use is
    ``(x.T @ g).T`` and adds to the gradient of its other uses like any contribution.
    """
    return linear(x, transpose(W), b)


def maxout(x, W, b, pieces):
    """Maxout: ``max_p (x @ W + b)[..., p*out + j]`` over the ``pieces`` affine maps of each unit j.

    ``W`` is (in, pieces·out) and ``b`` (pieces·out,) or None: column
    ``p·out + j`` is piece p of output unit j.  The gradient of each unit
    goes to its winning piece only (the first one on a tie, as ``argmax``).
    """
    x = _like(x, W)
    X, Wd = x.data, W.data
    X2 = X.reshape(-1, X.shape[-1])
    Z = X2 @ Wd
    if b is not None:
        Z += b.data
    n, units = Z.shape[0], Z.shape[1] // pieces
    Z3 = Z.reshape(n, pieces, units)
    out = Z3.max(axis=1)
    rx, rw = x.requires_grad, W.requires_grad
    rb = b is not None and b.requires_grad
    parents = (x, W) if b is None else (x, W, b)

    def backward(g):
        winner = Z3.argmax(axis=1)  # (n, units)
        onehot = np.arange(pieces)[None, :, None] == winner[:, None, :]
        gZ = (onehot * g.reshape(n, 1, units)).reshape(n, pieces * units)
        gX = (gZ @ Wd.T).reshape(X.shape) if rx else None
        gW = X2.T @ gZ if rw else None
        gb = _column_sums(gZ) if rb else None
        return (gX, gW) if b is None else (gX, gW, gb)

    return make_result(out.reshape(X.shape[:-1] + (units,)), parents, backward)


def batch_norm(x, gamma, beta, running_mean=None, running_var=None, training=True, momentum=0.1, eps=1e-5,
               relu=False):
    """Batch normalization over all axes but the last (features), as one node.

    Training: the seeds' algorithm — mini-batch mean μ and biased variance σ²,
    x̂ = (x − μ)/√(σ² + ε), y = γx̂ + β — and, when running arrays are given,
    they are updated in place with PyTorch's BatchNorm1d rule:
    ``running = (1 − momentum)·running + momentum·batch_stat``, the variance
    entering unbiased (·n/(n − 1)).  Eval (``training=False``): normalizes with
    the running statistics.  Backward (training), with s = 1/√(σ² + ε):
    dγ = s·Σ g·(x − μ), dβ = Σ g and
    dx = γs·(g − Σg/n − (x − μ)·s²·Σ g·(x − μ)/n),
    the usual (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))·s with ĝ = γg, rewritten so that
    only per-feature vectors are scaled and x̂ is never formed.

    Speed (one layer of 128×256 is a few dozen µs, so every pass over the
    batch counts): the column sums are ``ones @ A`` (a BLAS matrix-vector
    product, faster and more accurate than ``A.sum(axis=0)``), each full-size
    temporary is reused as the next result, and only the centered batch is
    kept for the backward.  With numba (``nnlab[fast]``) a C-contiguous batch
    of at least ``_jit.MIN_ELEMENTS`` values (or any size with ``NNLAB_JIT=1``)
    runs the same formulas as three passes forward and two backward
    (``_bn_fast.py``; equal to these NumPy passes to rounding,
    ``tests/test_ops_kernels.py``).  ``relu=True`` applies ReLU to the output in
    the same node (``nn.Sequential`` asks for it where a ReLU follows): the numbers
    of ``relu(batch_norm(...))``, one pass over the batch fewer each way with the kernels.
    """
    x = _like(x, gamma)
    X = x.data
    G, B = gamma.data, beta.data
    C = X.shape[-1]
    X2 = X.reshape(-1, C)
    n = X2.shape[0]
    dt = X.dtype.type
    rx, rg, rb = x.requires_grad, gamma.requires_grad, beta.requires_grad
    recording = is_grad_enabled() and (rx or rg or rb)
    ones = _ones(n, X.dtype)
    kernels = None
    if training:
        if n < 2:
            raise DataError(
                f"BatchNorm in training mode needs more than one value per feature, got input of shape {X.shape}"
            )
        inv_n = dt(1.0 / n)
        kernels = _bn_fast.kernels(X2, G, B)
        if kernels is not None:
            out, mu, var, inv, scale, running_mean, running_var = _bn_fast.forward(
                kernels, X2, G, B, dt(eps), inv_n, running_mean, running_var, momentum, relu)
        else:
            mu = (ones @ X2) * inv_n
            xc = X2 - mu
            buf = np.square(xc)
            var = (ones @ buf) * inv_n
            inv = 1 / np.sqrt(var + dt(eps))
        if running_mean is not None:
            m = running_mean.dtype.type(momentum)
            running_mean *= 1 - m
            running_mean += m * mu
        if running_var is not None:
            m = running_var.dtype.type(momentum)
            running_var *= 1 - m
            running_var += (m * dt(n / (n - 1))) * var
        keep_xc = recording and (rx or rg)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm in eval mode needs running_mean and running_var")
        xc = X2 - running_mean.astype(X.dtype, copy=False)
        inv = 1 / np.sqrt(running_var.astype(X.dtype, copy=False) + dt(eps))
        keep_xc = recording and rg
        buf = None
    if kernels is None:
        scale = G * inv
        # y = (x − μ)·γs + β, written over a temporary when there is one, over x − μ when the backward needs no x − μ.
        out = np.multiply(xc, scale, out=buf if keep_xc else xc)
        out += B
        if relu:
            _rectify(out, out=out)

    def backward(g):
        if kernels is not None:
            return _bn_fast.backward(kernels, g, X2, mu, inv, scale, inv_n, rx, rg, rb, out if relu else None)
        g2 = g.reshape(-1, C)
        if relu:
            g2 = _relu_grad(g2, out)  # ReLU's backward, on its output (out > 0 exactly where its input > 0)
        need_dot = rg or (rx and training)
        g_beta = ones @ g2 if rb or (rx and training) else None
        gx = np.multiply(g2, xc) if need_dot else None
        dot = ones @ gx if need_dot else None  # Σ g·(x − μ)
        g_gamma = dot * inv if rg else None
        gX = None
        if rx:
            if training:
                # γs·((x − μ)·(−s²·dot/n) + g − Σg/n), computed in the buffer of g·(x − μ).
                gX = np.multiply(xc, (inv * inv) * (dot * -inv_n), out=gx)
                gX += g2
                gX -= g_beta * inv_n
                gX *= scale
            else:
                gX = g2 * scale
            gX = gX.reshape(X.shape)
        return gX, g_gamma, g_beta if rb else None

    return make_result(out.reshape(X.shape), (x, gamma, beta), backward)


def softmax_cross_entropy(logits, target, label_smoothing=0.0, reduction="mean"):
    """Softmax and cross-entropy as one node, stable for any logits (shifted by the row maximum).

    ``target`` is an ndarray: integer class indices of shape ``logits.shape[:-1]``,
    or probability rows of ``logits.shape``.  Smoothing (the seeds' rule) turns
    target q into q·(1 − ε) + (1 − q)·ε/(K − 1): a hard label gets 1 − ε and
    every other class ε/(K − 1).  Loss per row −Σ q log softmax(z);
    gradient softmax(z)·Σq − q (softmax(z) − q for rows that sum to 1, as
    hard labels do; PyTorch's rule for any real-valued target rows), divided
    by the number of rows for ``"mean"``.
    Validation of the target is the caller's (``nnlab.losses.cross_entropy``).
    """
    Z = logits.data
    K = Z.shape[-1]
    lead = Z.shape[:-1]
    Z2 = Z.reshape(-1, K)
    n = Z2.shape[0]
    dt = Z.dtype.type
    inv_n = dt(1.0 / n) if n else dt(np.nan)  # the mean over no rows is NaN, as in PyTorch
    shifted = Z2 - _row_max(Z2)
    e = np.exp(shifted)
    s = _row_sums(e)
    log_s = np.log(s)
    hard = target.dtype.kind in "iu"
    eps = float(label_smoothing)
    off = dt(eps / (K - 1)) if eps else dt(0)
    if hard:
        y = target.reshape(-1)
        # the flat index of each row's target (dtype=: intp + uint64 would be float64)
        at = _row_offsets(n, K) + y if y.dtype == np.intp else np.add(_row_offsets(n, K), y, dtype=np.intp)
        if eps:
            picked = shifted.take(at) - log_s[:, 0]
            row_sum = shifted.sum(axis=1) - K * log_s[:, 0]
            per = -(dt(1 - eps) - off) * picked - off * row_sum
        else:
            per = log_s[:, 0] - shifted.take(at)
        q = None
    else:
        q = target.reshape(-1, K).astype(Z.dtype, copy=False)
        if eps:
            q = q * dt(1 - eps * K / (K - 1)) + off
        per = -(q * (shifted - log_s)).sum(axis=1)
        q_sum = q.sum(axis=1, keepdims=True)  # 1 for probability rows; any value for other real rows

    if reduction == "mean":
        out = np.asarray(per.sum() * inv_n, dtype=Z.dtype)
    elif reduction == "sum":
        out = np.asarray(per.sum(), dtype=Z.dtype)
    else:
        out = per.reshape(lead)

    def backward(g):
        grad = e / s
        if hard:
            if eps:
                grad -= off
            grad.reshape(-1)[at] -= dt(1 - eps) - off  # a view: grad is a new C-ordered array
        else:
            grad *= q_sum
            grad -= q
        if reduction == "mean":
            grad *= g * inv_n
        elif reduction == "sum":
            grad *= g
        else:
            grad *= g.reshape(-1, 1)
        return (grad.reshape(Z.shape),)

    return make_result(out, (logits,), backward)
