"""The smooth and piecewise-linear activations beyond the notes' set, with PyTorch's definitions.

Each is one node with its derivative beside it; ``nnlab.functional`` exports
them.  Constants are converted to the input's dtype, so float32 stays float32; an integer
input computes in float32 (``tensor.as_floating``), hardtanh (a clamp) keeps its dtype.
"""

import numpy as np

from .. import _jit
from .._checks import check_choice, check_float
from ..tensor import as_floating, as_tensor, make_result

# SELU's constants (Klambauer et al. 2017), as in PyTorch.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ``np.maximum(X, 0)`` runs NumPy's loop for a broadcast scalar, which is not vectorised:
# 10.7 µs at 128×256 float32, where ``np.maximum`` of two arrays of one shape takes 2.3 µs
# with the same results (−0.0 → +0.0, NaN kept, −inf → 0).  ReLU compares against zeros
# of the input's shape: views of one read-only buffer per dtype, grown on demand up to
# _ZEROS_MAX elements (4 MiB of float32); a larger input takes the scalar route.
_ZEROS_MAX = 1 << 20
_zeros_buffers = {}


def _zeros_like_readonly(X):
    """Zeros of X's shape and dtype, a read-only view of a shared buffer, or None above _ZEROS_MAX.

    None too for a non-C-contiguous X (a conv output is a channels-first view of
    channels-last memory): a C-ordered partner would make NumPy write the result
    in C order, and the next conv would then gather its windows across strides.
    """
    size = X.size
    if size > _ZEROS_MAX or not X.flags.c_contiguous:
        return None
    buf = _zeros_buffers.get(X.dtype)
    if buf is None or buf.size < size:
        buf = np.zeros(min(_ZEROS_MAX, max(size, 2 * (0 if buf is None else buf.size))), X.dtype)
        buf.flags.writeable = False
        _zeros_buffers[X.dtype] = buf
    return buf[:size].reshape(X.shape)


def _rectify(X, out=None):
    """max(X, 0) against read-only zeros of X's shape (see above); ``out=X`` rectifies in place.

    The one ReLU forward of ``functional.relu`` and of the fused Linear and BatchNorm nodes.
    """
    zeros = _zeros_like_readonly(X)
    return np.maximum(X, 0 if zeros is None else zeros, out=out)


def _relu_signature(num, types):
    flat = types.Array(num, 1, "C")
    return (flat, flat, num, flat)


def _relu_grad(G, Y):
    """ReLU's backward ``G * (Y > 0)`` (Y its input or output: both are positive at the same places).

    Under nnlab's kernel rule (:mod:`nnlab._jit`), a large C-contiguous pair of one dtype
    takes one numba pass with the same bits instead of a boolean mask and a product
    (512×2048 float32: 479 against 688 µs, ``python -m benchmarks.relu_backward``). Like every numba
    kernel it raises no NumPy floating-point warnings (the reference warns on inf·0).
    """
    if (G.shape == Y.shape and G.dtype == Y.dtype and G.dtype.kind == "f" and G.flags.c_contiguous
            and Y.flags.c_contiguous and _jit.wanted(G.size)):
        kernel = _jit.kernel(_jit.OPS_KERNELS, "relu_backward", G.size, G.dtype, _relu_signature)
        if kernel is not None:
            out = np.empty_like(G)
            kernel(G.reshape(-1), Y.reshape(-1), G.dtype.type(0), out.reshape(-1))
            return out
    return G * (Y > 0)


def _sigmoid(X):
    z = np.exp(-np.abs(X))
    return np.where(X >= 0, 1, z).astype(X.dtype, copy=False) / (1 + z)


def _softplus(X):
    """log(1 + eˣ) without overflow."""
    return np.maximum(X, 0) + np.log1p(np.exp(-np.abs(X)))


def softplus(x, beta=1.0, threshold=20.0):
    """(1/β)·log(1 + e^(βx)), and x itself where βx > ``threshold`` (PyTorch's rule); derivative σ(βx).

    >>> import nnlab
    >>> round(nnlab.functional.softplus(nnlab.tensor(0.0)).item(), 4)
    0.6931
    """
    x = as_floating(x)
    X = x.data
    dt = X.dtype.type
    b = dt(check_float("beta", beta, 0.0, low_open=True, owner="softplus"))
    t = check_float("threshold", threshold, owner="softplus")
    bx = X * b
    linear = bx > t
    out = np.where(linear, X, _softplus(bx) / b)
    return make_result(out, (x,), lambda g: (np.where(linear, g, g * _sigmoid(bx)),))


def softsign(x):
    """x / (1 + |x|); derivative 1 / (1 + |x|)²."""
    x = as_floating(x)
    X = x.data
    d = 1 / (1 + np.abs(X))
    return make_result(X * d, (x,), lambda g: (g * d * d,))


def silu(x):
    """SiLU (swish) x·σ(x); derivative σ(x)·(1 + x·(1 − σ(x)))."""
    x = as_floating(x)
    X = x.data
    s = _sigmoid(X)
    return make_result(X * s, (x,), lambda g: (g * s * (1 + X * (1 - s)),))


def gelu(x, approximate="none"):
    """GELU x·Φ(x) with the normal CDF Φ (``approximate="none"``), or PyTorch's tanh approximation.

    Exact: Φ(x) = ½(1 + erf(x/√2)), derivative Φ(x) + x·φ(x).
    ``"tanh"``: ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³).

    >>> import nnlab
    >>> round(nnlab.functional.gelu(nnlab.tensor(1.0)).item(), 4)
    0.8413
    """
    check_choice("approximate", approximate, ("none", "tanh"), owner="gelu")
    x = as_floating(x)
    X = x.data
    dt = X.dtype.type
    if approximate == "tanh":
        c = dt(np.sqrt(2 / np.pi))
        k = dt(0.044715)
        th = np.tanh(c * (X + k * X * X * X))
        out = dt(0.5) * X * (1 + th)

        def backward(g):
            du = c * (1 + dt(3) * k * X * X)
            return (g * (dt(0.5) * (1 + th) + dt(0.5) * X * (1 - th * th) * du),)

        return make_result(out, (x,), backward)
    from scipy.special import erf  # NumPy has no erf; SciPy comes with scikit-learn

    cdf = (dt(0.5) * (1 + erf(X * dt(1 / np.sqrt(2))))).astype(X.dtype, copy=False)
    pdf = np.exp(X * X * dt(-0.5)) * dt(1 / np.sqrt(2 * np.pi))
    return make_result(X * cdf, (x,), lambda g: (g * (cdf + X * pdf),))


def selu(x):
    """scale·(x for x > 0, α(eˣ − 1) otherwise) with SELU's fixed α ≈ 1.6733 and scale ≈ 1.0507."""
    x = as_floating(x)
    X = x.data
    dt = X.dtype.type
    a, s = dt(SELU_ALPHA), dt(SELU_SCALE)
    positive = X > 0
    e = np.exp(np.minimum(X, 0))
    out = s * np.where(positive, X, a * (e - 1))
    return make_result(out, (x,), lambda g: (g * np.where(positive, s, s * a * e),))


def celu(x, alpha=1.0):
    """max(0, x) + min(0, α(e^(x/α) − 1)); derivative e^(x/α) on the negative side."""
    a = check_float("alpha", alpha, 0.0, low_open=True, owner="celu")
    x = as_floating(x)
    X = x.data
    a = X.dtype.type(a)
    positive = X > 0
    e = np.exp(np.minimum(X, 0) / a)
    out = np.where(positive, X, a * (e - 1))
    return make_result(out, (x,), lambda g: (np.where(positive, g, g * e),))


def hardtanh(x, min_val=-1.0, max_val=1.0):
    """x clipped to [min_val, max_val]; derivative 1 strictly inside, 0 outside (as PyTorch)."""
    low = check_float("min_val", min_val, owner="hardtanh")
    high = check_float("max_val", max_val, low, owner="hardtanh")
    x = as_tensor(x)
    X = x.data
    dt = X.dtype.type
    inside = (X > dt(low)) & (X < dt(high))
    out = np.clip(X, dt(low), dt(high))
    return make_result(out, (x,), lambda g: (g * inside,))


def relu6(x):
    """min(max(0, x), 6)."""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x):
    """relu6(x + 3)/6: 0 below −3, 1 above 3, x/6 + ½ between; derivative 1/6 inside."""
    x = as_floating(x)
    X = x.data
    dt = X.dtype.type
    inside = (X > -3) & (X < 3)
    out = np.clip(X * dt(1 / 6) + dt(0.5), dt(0), dt(1))
    return make_result(out, (x,), lambda g: (g * inside * dt(1 / 6),))


def hardswish(x):
    """x·relu6(x + 3)/6; derivative 0 up to −3, 1 from 3 on, (2x + 3)/6 between (PyTorch's values at the kinks)."""
    x = as_floating(x)
    X = x.data
    dt = X.dtype.type
    gate = np.clip(X * dt(1 / 6) + dt(0.5), dt(0), dt(1))
    d = np.where(X <= -3, dt(0), np.where(X >= 3, dt(1), (2 * X + 3) * dt(1 / 6)))
    return make_result(X * gate, (x,), lambda g: (g * d,))


def mish(x):
    """x·tanh(softplus(x)); derivative tanh(sp) + x·σ(x)·(1 − tanh²(sp))."""
    x = as_floating(x)
    X = x.data
    th = np.tanh(_softplus(X))
    return make_result(X * th, (x,), lambda g: (g * (th + X * _sigmoid(X) * (1 - th * th)),))
