"""sort, argsort, topk, kthvalue, median: values, indices and gradients against torch 2.13, gradchecks, errors."""

import numpy as np
import pytest

import nnlab

SHAPE_DIMS = [((6,), 0), ((6,), -1), ((3, 5), 0), ((3, 5), 1), ((3, 5), -2), ((2, 3, 4), 1), ((2, 3, 4), -1)]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _distinct(shape, seed=0):
    """Values at least 0.25 apart: no ties, so every op's indices are defined (and gradcheck steps stay inside)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.25).reshape(shape)


def _ties(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 3, shape).astype(np.float64)


def _weights(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


def _ours(fn, x, *args, **kwargs):
    """(result, x.grad) of an nnlab op whose values are backpropagated with fixed random weights."""
    t = nnlab.tensor(x, requires_grad=True, dtype=np.float64)
    out = fn(t, *args, **kwargs)
    values = out if isinstance(out, nnlab.Tensor) else out.values
    (values * nnlab.tensor(_weights(values.shape), dtype=np.float64)).sum().backward()
    return out, t.grad


def _theirs(torch, fn, x, *args, **kwargs):
    t = torch.tensor(x, requires_grad=True, dtype=torch.float64)
    out = fn(t, *args, **kwargs)
    values = out if isinstance(out, torch.Tensor) else out.values
    (values * torch.tensor(_weights(tuple(values.shape)))).sum().backward()
    return out, t.grad.numpy()


@pytest.mark.parametrize("shape, dim", SHAPE_DIMS)
@pytest.mark.parametrize("descending", [False, True])
def test_sort_with_ties_is_torchs_stable_sort(torch, shape, dim, descending):
    x = _ties(shape)
    (values, indices), grad = _ours(nnlab.sort, x, dim, descending)
    (tv, ti), tgrad = _theirs(torch, torch.sort, x, dim=dim, descending=descending, stable=True)
    np.testing.assert_array_equal(values.data, tv.detach().numpy())
    np.testing.assert_array_equal(indices.data, ti.numpy())
    np.testing.assert_allclose(grad, tgrad, rtol=1e-12)
    np.testing.assert_array_equal(nnlab.argsort(x, dim, descending).data,
                                  torch.argsort(torch.tensor(x), dim=dim, descending=descending, stable=True).numpy())


def test_sort_puts_nan_where_torch_does(torch):
    x = np.array([[2.0, np.nan, 1.0, np.nan, 2.0], [np.nan, 0.0, 0.0, 3.0, -1.0]])
    for descending in (False, True):
        ours = nnlab.sort(nnlab.tensor(x, dtype=np.float64), descending=descending)
        theirs = torch.sort(torch.tensor(x), descending=descending, stable=True)
        np.testing.assert_array_equal(ours.values.data, theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.data, theirs.indices.numpy())


@pytest.mark.parametrize("shape, dim", SHAPE_DIMS)
@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_torch(torch, shape, dim, largest):
    x = _distinct(shape)
    for k in range(shape[dim] + 1):
        (values, indices), grad = _ours(nnlab.topk, x, k, dim, largest)
        (tv, ti), tgrad = _theirs(torch, torch.topk, x, k, dim=dim, largest=largest)
        np.testing.assert_array_equal(values.data, tv.detach().numpy())
        np.testing.assert_array_equal(indices.data, ti.numpy())
        np.testing.assert_allclose(grad, tgrad, rtol=1e-12)


def test_topk_with_ties_gives_torchs_values_and_points_at_them(torch):
    x = _ties((4, 7))
    values, indices = nnlab.topk(nnlab.tensor(x), 3, dim=1)
    np.testing.assert_array_equal(values.data, torch.topk(torch.tensor(x), 3, dim=1).values.numpy())
    np.testing.assert_array_equal(np.take_along_axis(x, indices.data, 1), values.data)
    assert all(len(set(row)) == 3 for row in indices.data.tolist())  # three different places


@pytest.mark.parametrize("shape, dim", SHAPE_DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_kthvalue_matches_torch(torch, shape, dim, keepdim):
    x = _distinct(shape, seed=2)
    for k in range(1, shape[dim] + 1):
        (values, indices), grad = _ours(nnlab.kthvalue, x, k, dim, keepdim)
        (tv, ti), tgrad = _theirs(torch, torch.kthvalue, x, k, dim=dim, keepdim=keepdim)
        np.testing.assert_array_equal(values.data, tv.detach().numpy())
        np.testing.assert_array_equal(indices.data, ti.numpy())
        np.testing.assert_allclose(grad, tgrad, rtol=1e-12)


@pytest.mark.parametrize("shape, dim", SHAPE_DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_median_along_a_dim_matches_torch(torch, shape, dim, keepdim):
    x = _distinct(shape, seed=3)
    (values, indices), grad = _ours(nnlab.median, x, dim, keepdim)
    (tv, ti), tgrad = _theirs(torch, torch.median, x, dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(values.data, tv.detach().numpy())
    np.testing.assert_array_equal(indices.data, ti.numpy())
    np.testing.assert_allclose(grad, tgrad, rtol=1e-12)
    ties = _ties(shape)
    values, indices = nnlab.median(nnlab.tensor(ties), dim, keepdim)
    np.testing.assert_array_equal(values.data, torch.median(torch.tensor(ties), dim, keepdim).values.numpy())
    picked = np.take_along_axis(ties, indices.data if keepdim else np.expand_dims(indices.data, dim), dim)
    np.testing.assert_array_equal(picked.reshape(values.shape), values.data)


@pytest.mark.parametrize("x", [_ties((3, 5)), _ties((4,), seed=4), _distinct((2, 3, 4)), np.array([1.0, 2.0, 2.0, 2.0])])
def test_median_of_everything_shares_a_tie_evenly_as_torch(torch, x):
    ours, grad = _ours(nnlab.median, x)
    theirs, tgrad = _theirs(torch, torch.median, x)
    assert ours.shape == () and ours.item() == theirs.item()
    np.testing.assert_allclose(grad, tgrad, rtol=1e-12)


def test_median_with_nan_is_nan_as_torch(torch):
    x = np.array([[1.0, np.nan, 3.0], [2.0, 5.0, 4.0]])
    assert np.isnan(nnlab.median(nnlab.tensor(x)).item()) and np.isnan(torch.median(torch.tensor(x)).item())
    values, indices = nnlab.median(nnlab.tensor(x, dtype=np.float64), 1)
    theirs = torch.median(torch.tensor(x), 1)
    np.testing.assert_array_equal(values.data, theirs.values.numpy())
    np.testing.assert_array_equal(indices.data, theirs.indices.numpy())


def _checks():
    return [
        ("sort", lambda t: nnlab.sort(t, 1).values),
        ("sort descending", lambda t: nnlab.sort(t, 0, descending=True).values),
        ("topk", lambda t: nnlab.topk(t, 2, -1).values),
        ("topk smallest", lambda t: nnlab.topk(t, 3, 0, largest=False).values),
        ("kthvalue", lambda t: nnlab.kthvalue(t, 2, 1).values),
        ("median", lambda t: nnlab.median(t)),
        ("median dim", lambda t: nnlab.median(t, 0, keepdim=True).values),
    ]


@pytest.mark.parametrize("name, fn", _checks())
def test_float64_gradcheck(name, fn):
    x = nnlab.tensor(_distinct((4, 5), seed=5), requires_grad=True, dtype=np.float64)
    assert nnlab.gradcheck(fn, [x]), name


@pytest.mark.parametrize("name, fn", _checks())
def test_float32_stays_float32(name, fn):
    x = nnlab.tensor(_distinct((4, 5), seed=6).astype(np.float32), requires_grad=True)
    out = fn(x)
    assert out.dtype == np.float32, name
    out.sum().backward()
    assert x.grad.dtype == np.float32, name


def test_results_are_torchs_named_tuples_and_tensor_methods():
    x = nnlab.tensor([[3.0, 1.0, 2.0]], requires_grad=True)
    for result, name in [(x.sort(), "sort"), (x.topk(2), "topk"), (x.kthvalue(1), "kthvalue"),
                         (x.median(1), "median")]:
        values, indices = result
        assert type(result).__name__ == name and result.values is values and result.indices is indices
        assert indices.dtype == np.int64 and not indices.requires_grad and values.requires_grad
    assert x.sort().values.grad_fn.name() == "SortBackward"
    assert x.argsort(descending=True).tolist() == [[0, 2, 1]]
    assert x.median().item() == 2.0 and nnlab.sort(x, -1).indices.tolist() == [[1, 2, 0]]


def test_a_0d_tensor_sorts_as_one_element(torch):
    x = nnlab.tensor(4.0, requires_grad=True)
    values, indices = x.sort()
    assert values.shape == indices.shape == () and indices.item() == 0
    values.backward()
    assert x.grad.item() == 1.0
    assert tuple(torch.sort(torch.tensor(4.0)).values.shape) == ()
    assert nnlab.kthvalue(x, 1).values.item() == 4.0 and nnlab.topk(x, 1).values.shape == ()


def test_integer_input_sorts_without_gradient():
    values, indices = nnlab.sort(nnlab.tensor([3, 1, 2], dtype=np.int64))
    assert values.dtype == np.int64 and values.tolist() == [1, 2, 3] and indices.tolist() == [1, 2, 0]


@pytest.mark.parametrize("call, error, match", [
    (lambda x: nnlab.sort(x, 2), IndexError, r"sort: dim 2 is out of range for a 2-d tensor \(expected one in \[-2, 1\]\)"),
    (lambda x: nnlab.argsort(x, -3), IndexError, r"argsort: dim -3 is out of range"),
    (lambda x: nnlab.sort(x, 0.5), TypeError, r"sort: dim must be an integer, got 0.5"),
    (lambda x: nnlab.sort(x, descending="yes"), ValueError, r"sort: descending must be true or false"),
    (lambda x: nnlab.topk(x, 5), ValueError, r"topk: k must be an integer >= 0 and <= 4, got 5"),
    (lambda x: nnlab.topk(x, -1, 0), ValueError, r"topk: k must be an integer >= 0 and <= 3, got -1"),
    (lambda x: nnlab.topk(x, 1, dim=7), IndexError, r"topk: dim 7 is out of range"),
    (lambda x: nnlab.kthvalue(x, 0), ValueError, r"kthvalue: k must be an integer >= 1 and <= 4, got 0"),
    (lambda x: nnlab.kthvalue(x, 5), ValueError, r"kthvalue: k must be an integer >= 1 and <= 4, got 5"),
    (lambda x: nnlab.kthvalue(x, 1, 2), IndexError, r"kthvalue: dim 2 is out of range"),
    (lambda x: nnlab.median(x, 3), IndexError, r"median: dim 3 is out of range"),
    (lambda x: nnlab.median(x, keepdim=True), TypeError, r"median: keepdim=True needs a dim"),
    (lambda x: nnlab.median(nnlab.zeros(2, 0), 1), ValueError, r"median: dim 1 .* is empty"),
])
def test_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call(nnlab.zeros(3, 4))
