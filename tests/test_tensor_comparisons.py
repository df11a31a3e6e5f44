"""Comparisons give bool tensors without gradient, and the usual follow-ups read as in torch 2.13."""

import numpy as np
import pytest
import torch

import nnlab

X = np.array([[-1.5, 0.0, 2.0], [3.0, -0.5, 2.0]], dtype=np.float32)
OPS = ["__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"]
NAMES = ["lt", "le", "gt", "ge", "eq", "ne"]


def _pair():
    return nnlab.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("other", [2.0, np.array([0.0, 0.0, 2.0], dtype=np.float32), "tensor"])
def test_operators_give_bool_tensors_as_torch(op, other):
    x, tx = _pair()
    o, to = (X[::-1].copy(),) * 2 if isinstance(other, str) else (other, other)
    o_nn = nnlab.tensor(o) if isinstance(other, str) else o
    o_t = torch.tensor(to) if not isinstance(to, float) else to
    got, want = getattr(x, op)(o_nn), getattr(tx, op)(o_t)
    assert isinstance(got, nnlab.Tensor) and got.dtype == np.bool_ and want.dtype == torch.bool
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert not got.requires_grad and got.is_leaf and got.grad_fn is None


@pytest.mark.parametrize("name", NAMES)
def test_method_and_function_spellings_match_torch(name):
    x, tx = _pair()
    want = getattr(torch, name)(tx, 2.0).numpy()
    for got in (getattr(x, name)(2.0), getattr(nnlab, name)(x, 2.0), getattr(nnlab, name)(X, x)):
        assert isinstance(got, nnlab.Tensor) and got.dtype == np.bool_ and not got.requires_grad
    np.testing.assert_array_equal(getattr(x, name)(2.0).numpy(), want)
    np.testing.assert_array_equal(getattr(nnlab, name)(x, 2.0).numpy(), want)
    np.testing.assert_array_equal(getattr(nnlab, name)(X, x).numpy(), getattr(torch, name)(torch.tensor(X), tx).numpy())


def test_reflected_comparisons_with_numbers_and_arrays():
    x = nnlab.tensor(X)
    for got, want in [(1.0 < x, X > 1.0), (X[0] >= x, X[0] >= X), (0 == x, X == 0)]:
        assert isinstance(got, nnlab.Tensor) and got.dtype == np.bool_
        np.testing.assert_array_equal(got.numpy(), want)


def test_accuracy_idiom():
    rng = np.random.default_rng(0)
    logits, y = rng.standard_normal((50, 4)).astype(np.float32), rng.integers(0, 4, 50)
    out, ty = nnlab.tensor(logits, requires_grad=True), nnlab.tensor(y, dtype=np.int64)
    acc = (out.argmax(1) == ty).float().mean().item()
    want = (torch.tensor(logits).argmax(1) == torch.tensor(y)).float().mean().item()
    assert isinstance(acc, float) and acc == pytest.approx(want, abs=0)
    assert acc == pytest.approx(np.mean(logits.argmax(1) == y))


def test_conversions_and_reductions_match_torch():
    x, tx = _pair()
    m, tm = x > 0, tx > 0
    assert m.float().dtype == np.float32 and tm.float().dtype == torch.float32
    assert m.long().dtype == np.int64 and tm.long().dtype == torch.int64
    np.testing.assert_array_equal(m.float().numpy(), tm.float().numpy())
    np.testing.assert_array_equal(m.long().numpy(), tm.long().numpy())
    assert m.sum().dtype == np.int64 and tm.sum().dtype == torch.int64  # counting: an integer, as torch
    assert m.sum().item() == tm.sum().item() == 3
    assert m.float().mean().dtype == np.float32
    assert m.float().mean().item() == pytest.approx(tm.float().mean().item(), abs=0)
    assert not m.float().requires_grad and not m.sum().requires_grad
    assert m.any().item() is True and m.all().item() is False
    assert (x == x).all().item() is True and (x != x).any().item() is False


def test_logical_operators_match_torch():
    x, tx = _pair()
    a, b, ta, tb = x > 0, x < 2.5, tx > 0, tx < 2.5
    for got, want in [(~a, ~ta), (a & b, ta & tb), (a | b, ta | tb), (a ^ b, ta ^ tb), (a & True, ta & True),
                      (False | a, False | ta), (a & b.numpy(), ta & tb)]:
        assert isinstance(got, nnlab.Tensor) and got.dtype == np.bool_ and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    ints, tints = nnlab.tensor([5, 6], dtype=np.int64), torch.tensor([5, 6])
    np.testing.assert_array_equal((~ints & 3).numpy(), (~tints & 3).numpy())  # bitwise on integers, as torch
    with pytest.raises(TypeError):
        ~x  # torch refuses floats too


def test_python_truth_values():
    t = nnlab.tensor([3.0])
    assert bool(t == 3) is True and bool(t != 3) is False
    assert bool(nnlab.tensor(3.0) == 3.0)
    taken = False
    if (t == t).all():
        taken = True
    assert taken
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(nnlab.tensor(X) > 0)


def test_masked_indexing_and_assignment_match_torch():
    x, tx = _pair()
    np.testing.assert_array_equal(x[x > 0].numpy(), tx[tx > 0].detach().numpy())
    (x[x > 0] * 2.0).sum().backward()
    (tx[tx > 0] * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    y, ty = nnlab.tensor(X), torch.tensor(X)
    y[y < 0] = 7.0
    ty[ty < 0] = 7.0
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(y.masked_fill(y > 5, -1.0).numpy(), ty.masked_fill(ty > 5, -1.0).numpy())


def test_numpy_takes_masks_through_array():
    x = nnlab.tensor(X)
    m = x > 0
    assert isinstance(m.numpy(), np.ndarray) and m.numpy().dtype == np.bool_
    np.testing.assert_array_equal(X[m], X[X > 0])  # an ndarray indexed by a 2-D Tensor mask
    np.testing.assert_array_equal(X[0][m[0]], X[0][X[0] > 0])
    np.testing.assert_array_equal(np.where(m, X, -X), np.abs(X))
    np.testing.assert_array_equal(np.flatnonzero(m), np.flatnonzero(X > 0))


def test_where_with_a_mask_matches_torch():
    x, tx = _pair()
    got, want = nnlab.where(x > 0, x, 0.5 * x), torch.where(tx > 0, tx, 0.5 * tx)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy())
    got.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy())


def test_backward_through_a_graph_that_used_a_mask_matches_torch():
    x, tx = _pair()
    (x * (x > 0).float()).sum().backward()
    (tx * (tx > 0).float()).sum().backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    x64 = nnlab.tensor(X, requires_grad=True, dtype=np.float64)
    assert nnlab.gradcheck(lambda a: (a * a * (a > 0).double()).sum(), (x64,)).ok  # the mask passes no gradient


def test_hash_stays_identity():
    a, b = nnlab.tensor([1.0]), nnlab.tensor([1.0])
    assert hash(a) == object.__hash__(a) and nnlab.Tensor.__hash__ is object.__hash__
    assert len({a, b}) == 2 and {a: 1}[a] == 1


@pytest.mark.parametrize("func", [np.all, np.any, np.sum, np.mean, np.max, np.min, np.prod, np.std, np.argmax])
def test_numpy_functions_read_a_tensors_data(func):
    data = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]], np.float32)
    t = nnlab.tensor(data, requires_grad=True)
    for given, plain in ((t, data), (t > 0, data > 0)):
        got = func(given, axis=0)
        assert isinstance(got, np.ndarray) and not isinstance(got, nnlab.Tensor)
        np.testing.assert_array_equal(got, func(plain, axis=0))
        assert got.dtype == func(plain, axis=0).dtype
    np.testing.assert_array_equal(np.concatenate([t, t]), np.concatenate([data, data]))


def test_a_numpy_function_cannot_write_into_a_tensor():
    t = nnlab.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="cannot write into an nnlab Tensor"):
        np.sum(nnlab.tensor([[1.0, 2.0]]), axis=0, out=t)
    np.testing.assert_array_equal(t.data, [1.0, 2.0])


def test_numpy_functions_take_a_named_tuple_of_tensors():
    t = nnlab.tensor([[1.0, 2.0], [3.0, 0.0]])
    np.testing.assert_array_equal(np.stack(t.max(0)), [[3.0, 2.0], [1.0, 0.0]])  # (values, indices)
