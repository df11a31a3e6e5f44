"""Max pooling's numba kernels (ops/_numba_pool.py) give the NumPy reference's bits.

``NNLAB_JIT=1`` forces the kernels on these small arrays, ``0`` the reference
(ops/pool.py).  The cases cover what decides a winner: ties (the zeros after a
ReLU), a NaN in a window, padding (−∞), rows and columns no window covers, an
infinite upstream gradient (g·0 is NaN), 1-D and 2-D, float32 and float64.
"""

import numpy as np
import pytest

import nnlab
from nnlab import _jit
from nnlab.ops import pool
from nnlab.ops.pool import max_pool

pytestmark = pytest.mark.skipif(not _jit.available(pool._KERNELS), reason="numba is not installed")


def bits(a):
    return np.ascontiguousarray(a).view(np.uint8)


def run(jit, monkeypatch, X, kernel, stride=None, padding=0, g=None):
    monkeypatch.setenv(_jit.JIT_ENV, jit)
    x = nnlab.tensor(X.copy(), requires_grad=True, dtype=X.dtype)
    y = max_pool(x, kernel, stride, padding)
    y.backward(np.ones(y.shape, X.dtype) if g is None else g)
    return y.data, x.grad


def data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = np.maximum(rng.standard_normal(shape), 0).astype(dtype)  # ReLU zeros: tied windows
    X[(0,) * len(shape)] = np.nan
    X.flat[7] = X.flat[8] = 2.5  # a tie between two positive values
    return X


CASES = [
    ((2, 3, 8, 6), 2, None, 0),  # windows that tile the input (no zero fill)
    ((3, 4, 9, 11), 2, None, 0),  # 2-D, an odd row and column no window covers
    ((2, 3, 8, 8), (2, 3), (3, 3), (1, 1)),  # padding, stride larger than the kernel
    ((2, 5, 13), 3, None, 1),  # 1-D with padding
    ((2, 3, 10, 10), 3, 2, 0),  # overlapping windows: the reference runs either way
]


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the reference's inf·0
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, kernel, stride, padding", CASES)
def test_kernels_give_the_reference_bits(shape, kernel, stride, padding, dtype, monkeypatch):
    X = data(shape, dtype)
    reference = run("0", monkeypatch, X, kernel, stride, padding)
    g = np.random.default_rng(1).standard_normal(reference[0].shape).astype(dtype)
    g.flat[3] = np.inf
    reference = run("0", monkeypatch, X, kernel, stride, padding, g)
    by_kernel = run("1", monkeypatch, X, kernel, stride, padding, g)
    for a, b in zip(reference, by_kernel):
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        np.testing.assert_array_equal(bits(b), bits(a))
    assert np.isnan(by_kernel[0]).any() and np.isnan(by_kernel[1]).any()  # the NaN cases were exercised


def test_the_kernels_run_only_for_non_overlapping_1d_and_2d_windows(monkeypatch):
    monkeypatch.setenv(_jit.JIT_ENV, "1")
    Xp = np.zeros((2, 8, 8, 3), np.float32)
    assert pool._pool_kernels(Xp, (2, 2), (2, 2)) is not None
    assert pool._pool_kernels(Xp, (3, 3), (2, 2)) is None  # overlap
    assert pool._pool_kernels(np.zeros((2, 4, 4, 4, 3), np.float32), (2, 2, 2), (2, 2, 2)) is None  # 3-D
    monkeypatch.setenv(_jit.JIT_ENV, "0")
    assert pool._pool_kernels(Xp, (2, 2), (2, 2)) is None


def test_a_large_batch_takes_the_kernels_by_default(monkeypatch):
    monkeypatch.delenv(_jit.JIT_ENV, raising=False)
    X = data((8, 16, 26, 26), np.float32, seed=3)  # 86,528 elements: above _jit.MIN_ELEMENTS
    assert pool._pool_kernels(np.moveaxis(X, 1, -1), (2, 2), (2, 2)) is not None
    reference = run("0", monkeypatch, X, 2)
    monkeypatch.delenv(_jit.JIT_ENV, raising=False)
    x = nnlab.tensor(X.copy(), requires_grad=True)
    y = max_pool(x, 2)
    y.backward(np.ones(y.shape, np.float32))
    np.testing.assert_array_equal(bits(y.data), bits(reference[0]))
    np.testing.assert_array_equal(bits(x.grad), bits(reference[1]))
