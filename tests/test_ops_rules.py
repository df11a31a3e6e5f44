"""Op rules a table row cannot express: max's tie rule (and where it differs from torch.amax),
maximum/minimum ties, where with a tensor condition, pow at 0, dtype rules, indexing accumulation and
views, and stability at ±1000.  The op table itself: tests/test_table_*.py (machinery in tests/optable.py).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import nnlab
from nnlab import functional as F


# ---------------------------------------------------------------------------------------------
# Rules a table row cannot express.
def _f64(values, requires_grad=True):
    return nnlab.tensor(values, requires_grad=requires_grad, dtype=np.float64)


@pytest.mark.parametrize(
    "values, kwargs, expected",
    [
        ([1.0, 3.0, 3.0, 2.0], {}, [0, 1, 0, 0]),
        ([[3.0, 3.0], [3.0, 1.0]], {}, [[1, 0], [0, 0]]),  # first in C order over the whole array
        ([[1.0, 5.0, 5.0], [4.0, 4.0, 0.0]], {"axis": 1}, [[0, 1, 0], [1, 0, 0]]),
        ([[1.0, 5.0, 5.0], [4.0, 4.0, 0.0]], {"axis": -1, "keepdims": True}, [[0, 1, 0], [1, 0, 0]]),
        ([[2.0, 5.0], [5.0, 5.0]], {"axis": 0}, [[0, 1], [1, 0]]),
        # reduced over (0, 2): the reduced block of column j is x[:, j, :], read in C order
        (np.array([[[7.0, 7.0], [1.0, 2.0]], [[7.0, 0.0], [2.0, 2.0]]]), {"axis": (0, 2)},
         [[[1, 0], [0, 1]], [[0, 0], [0, 0]]]),
        (np.array([[[7.0, 7.0], [1.0, 2.0]], [[7.0, 0.0], [2.0, 2.0]]]), {"axis": (2, 0), "keepdims": True},
         [[[1, 0], [0, 1]], [[0, 0], [0, 0]]]),
    ],
)
def test_max_tie_rule_whole_gradient_to_first_maximum(values, kwargs, expected):
    x = _f64(values)
    out = x.max(**kwargs)
    out.backward(np.arange(1, out.size + 1, dtype=np.float64).reshape(out.shape))
    # Each reduced block's upstream gradient lands, whole, on its first maximum.
    upstream = np.arange(1, out.size + 1, dtype=np.float64).reshape(out.shape)
    axes = kwargs.get("axis")
    if axes is not None and not kwargs.get("keepdims"):
        upstream = np.expand_dims(upstream, axes)
    np.testing.assert_array_equal(x.grad, np.array(expected) * upstream)


def test_max_tie_rule_differs_from_torch_amax_as_documented():
    torch = pytest.importorskip("torch")
    t = torch.tensor([1.0, 3.0, 3.0], dtype=torch.float64, requires_grad=True)
    torch.amax(t, dim=0).backward()
    x = _f64([1.0, 3.0, 3.0])
    x.max().backward()
    assert t.grad.tolist() == [0, 0.5, 0.5] and x.grad.tolist() == [0, 1, 0]


@pytest.mark.parametrize("fn", [nnlab.maximum, nnlab.minimum])
def test_maximum_minimum_ties_go_to_the_first_input(fn):
    a = _f64([[1.0, 2.0, 3.0], [0.0, 2.0, 5.0]])
    b = _f64([2.0, 2.0, 3.0])  # broadcast over rows; ties at (0,1), (0,2), (1,1)
    fn(a, b).backward(np.ones((2, 3)))
    tie = a.data == b.data
    wins = (a.data > b.data) if fn is nnlab.maximum else (a.data < b.data)
    np.testing.assert_array_equal(a.grad, (tie | wins).astype(float))
    np.testing.assert_array_equal(b.grad, (~(tie | wins)).sum(axis=0))
    # The reverse order sends the tied gradient to the other tensor.
    a.grad = b.grad = None
    fn(b, a).backward(np.ones((2, 3)))
    np.testing.assert_array_equal(b.grad, (tie | ~wins).sum(axis=0))


def test_where_accepts_a_boolean_tensor_condition_and_constants():
    a = _f64([1.0, 2.0, 3.0])
    out = nnlab.where(a > 1.5, a, 0.0)
    out.backward(np.ones(3))
    assert out.data.tolist() == [0, 2, 3] and a.grad.tolist() == [0, 1, 1]
    assert nnlab.where(np.array([True, False]), 1.0, 2.0).data.tolist() == [1.0, 2.0]


def test_pow_zero_exponent_has_zero_gradient_at_zero():
    x = _f64([0.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x**0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_pow_with_numpy_float64_exponent_or_base_stays_float32():
    x = nnlab.tensor([1.5, 2.0], requires_grad=True)
    out = x ** np.float64(2.5) + np.float64(2.0) ** x + x ** np.int64(3)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


def test_integer_tensor_meets_float32_without_upcast_or_truncation():
    counts = nnlab.tensor([1, 2], dtype=np.int64)
    w = nnlab.tensor([0.5, 0.25], requires_grad=True)
    out = counts * w
    assert out.dtype == np.float32
    out.sum().backward()
    assert w.grad.dtype == np.float32 and w.grad.tolist() == [1.0, 2.0]
    assert (counts * 2.5).data.tolist() == [2.5, 5.0]
    assert nnlab.concatenate([counts, w]).dtype == np.float32


_FLOAT_OPS = {
    "gelu": F.gelu, "hardsigmoid": F.hardsigmoid, "hardswish": F.hardswish, "leaky_relu": F.leaky_relu,
    "sigmoid": F.sigmoid, "tanh": F.tanh, "softsign": F.softsign, "elu": F.elu, "silu": F.silu,
    "log_softmax": F.log_softmax, "softmax": F.softmax, "logsumexp": F.logsumexp,
    "exp": lambda t: t.exp(), "log": lambda t: t.log(), "sqrt": lambda t: t.sqrt(), "sin": lambda t: t.sin(),
    "true divide": lambda t: t / t,
}


@pytest.mark.parametrize("name", sorted(_FLOAT_OPS))
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_integer_inputs_to_float_ops_compute_in_float32(name, dtype):
    """Neither truncated to the integer dtype nor upcast to float64: float_dtype's rule, PyTorch's promotion."""
    values = [True, True, False] if dtype is np.bool_ else [-2, 1, 3]
    if name in ("log", "sqrt", "true divide"):
        values = [True, True] if dtype is np.bool_ else [1, 4, 3]
    fn = _FLOAT_OPS[name]
    out = fn(nnlab.tensor(values, dtype=dtype))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, fn(nnlab.tensor(values)).data, rtol=1e-6)


def test_float64_inputs_to_float_ops_stay_float64():
    x = nnlab.tensor([-2.0, 1.0, 3.0], dtype=np.float64)
    assert {fn(x).dtype for name, fn in _FLOAT_OPS.items() if name not in ("log", "sqrt")} == {np.dtype(np.float64)}


def test_indexing_repeated_integer_indices_accumulate():
    x = _f64(np.arange(6.0).reshape(3, 2))
    y = x[np.array([0, 2, 0, 0])]  # row 0 three times
    y.backward(np.ones((4, 2)))
    assert x.grad.tolist() == [[3, 3], [0, 0], [1, 1]]
    x.grad = None
    x[[1, 1], [0, 0]].sum().backward()
    assert x.grad.tolist() == [[0, 0], [2, 0], [0, 0]]


def test_basic_index_is_a_view_like_numpy():
    x = _f64(np.arange(6.0).reshape(2, 3))
    row = x[1, ::2]
    assert np.shares_memory(row.data, x.data)
    assert row.data.tolist() == [3.0, 5.0]


# ---------------------------------------------------------------------------------------------
# Numerical stability: logits of ±1000 give finite values and gradients, with no warning.
STABLE = [
    (F.softmax, lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum()),
    (lambda t: F.softmax(t, temperature=3.0), None),
    (F.log_softmax, lambda x: x - x.max() - np.log(np.exp(x - x.max()).sum())),
    (F.logsumexp, lambda x: x.max() + np.log(np.exp(x - x.max()).sum())),
    (F.sigmoid, lambda x: np.array([1.0 if v > 0 else (0.0 if v < 0 else 0.5) for v in x])),
    (F.tanh, np.sign),
    (F.elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
]
EXTREME = [[1000.0, -1000.0, 0.0], [1000.0, 1000.0], [-1000.0, -1000.0, -999.0], [-1000.0], [1000.0]]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("values", EXTREME)
@pytest.mark.parametrize("fn, expected", STABLE)
def test_stable_at_plus_minus_1000(fn, expected, values, dtype):
    x = nnlab.tensor(values, requires_grad=True, dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = fn(x)
        out.backward(np.ones(out.shape))
    assert out.dtype == dtype and x.grad.dtype == dtype
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad))
    if expected is not None:
        np.testing.assert_allclose(out.data, expected(np.array(values)), rtol=1e-6, atol=1e-6)


@pytest.mark.filterwarnings("error")
def test_stable_extremes_match_torch():
    torch = pytest.importorskip("torch")
    values = np.array([[1000.0, -1000.0, 0.0, 999.5], [-1000.0, -1000.0, -999.0, -1000.0]])
    pairs = [
        (F.softmax, lambda t: torch.softmax(t, -1)),
        (F.log_softmax, lambda t: torch.log_softmax(t, -1)),
        (lambda x: F.logsumexp(x, axis=-1), lambda t: torch.logsumexp(t, -1)),
        (F.sigmoid, torch.sigmoid),
    ]
    for fn, ref in pairs:
        x = _f64(values)
        t = torch.tensor(values, requires_grad=True)
        out, expected = fn(x), ref(t)
        w = np.linspace(-1, 1, out.size).reshape(out.shape)
        out.backward(w)
        expected.backward(torch.from_numpy(w))
        np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-300)
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-10, atol=1e-300)


@pytest.mark.filterwarnings("error")
def test_logsumexp_of_only_minus_infinity_is_minus_infinity():
    out = F.logsumexp(nnlab.tensor([[-np.inf, -np.inf], [0.0, -np.inf]]), axis=1)
    assert out.data.tolist() == [-np.inf, 0.0]
