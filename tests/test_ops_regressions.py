"""The defects found by porting outside test suites (issue 10) and by outside probes, each pinned by its example."""

import numpy as np
import pytest

import nnlab
from nnlab import functional as F
from nnlab import losses, nn
from nnlab.errors import ConfigError


def _f64(values):
    return nnlab.tensor(values, requires_grad=True, dtype=np.float64)


@pytest.mark.parametrize("reduction, expected_loss, expected_grad", [
    ("mean", 1.3862943611198906, [[-1.0, 1.0]]),
    ("sum", 1.3862943611198906, [[-1.0, 1.0]]),
    ("none", [1.3862943611198906], [[-1.0, 1.0]]),
])
def test_soft_targets_that_do_not_sum_to_one(reduction, expected_loss, expected_grad):
    """logits [[0, 0]], target [[2, 0]]: loss 2·ln 2 and gradient softmax·Σq − q = [[−1, 1]] (PyTorch's)."""
    x = _f64([[0.0, 0.0]])
    loss = losses.cross_entropy(x, np.array([[2.0, 0.0]]), reduction=reduction)
    np.testing.assert_allclose(loss.data, expected_loss, rtol=1e-12)
    loss.backward(np.ones(loss.shape))
    np.testing.assert_allclose(x.grad, expected_grad, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_unnormalized_soft_targets_match_torch(reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    z, q = rng.standard_normal((4, 3)), rng.uniform(-1, 2, (4, 3))  # rows summing to anything, negatives too
    x = _f64(z)
    out = losses.cross_entropy(x, q, reduction=reduction)
    t = torch.tensor(z, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(t, torch.tensor(q), reduction=reduction)
    g = np.linspace(0.5, 1.5, out.size).reshape(out.shape)
    out.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_softmax_temperature_divides_and_beta_multiplies():
    x = nnlab.tensor([[1.0, 2.0, 3.0]], dtype=np.float64)
    usual = F.softmax(x).numpy()
    flat = F.softmax(x, temperature=2.0).numpy()
    expected = np.exp(x.numpy() / 2) / np.exp(x.numpy() / 2).sum()
    np.testing.assert_allclose(flat, expected, rtol=1e-12)
    assert flat.max() < usual.max()  # T > 1 flattens
    np.testing.assert_allclose(F.softmax(x, beta=0.5).numpy(), flat, rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(x, temperature=2.0).numpy(), np.log(flat), rtol=1e-12)
    np.testing.assert_allclose(nn.Softmax(temperature=2.0)(x).numpy(), flat, rtol=1e-12)
    for fn in (F.softmax, F.log_softmax, nn.Softmax):
        with pytest.raises(ConfigError, match="not both"):
            fn(x, temperature=2.0, beta=0.5) if fn is not nn.Softmax else fn(temperature=2.0, beta=0.5)


def test_softmax_module_spec_keeps_the_keyword_given():
    for layer in (nn.Softmax(temperature=2.0), nn.Softmax(beta=3.0), nn.Softmax()):
        again = nn.from_spec(nn.to_spec(layer))
        assert (again.temperature, again.beta) == (layer.temperature, layer.beta)


@pytest.mark.parametrize("op", [
    lambda t: t.sum(0), lambda t: t.sum(-1), lambda t: t.mean(0), lambda t: t.max(0).values, lambda t: t.min(-1)[0],
    lambda t: F.logsumexp(t, 0), lambda t: t.prod(0), lambda t: t.sum((0,), keepdims=True),
])
def test_zero_d_reductions_with_an_axis(op):
    """PyTorch accepts dim 0 and -1 on a 0-d tensor; NumPy raised AxisError, backward a broadcast error."""
    x = _f64(3.0)
    out = op(x)
    out.backward()
    assert out.shape == () and out.item() == pytest.approx(3.0) and x.grad.shape == ()
    assert x.grad.item() == pytest.approx(1.0)
    with pytest.raises(np.exceptions.AxisError):
        x.sum(1)


def test_clip_without_bounds_is_an_error():
    with pytest.raises(ConfigError, match="at least one of min"):
        nnlab.tensor([1.0]).clip(None, None)


def test_integral_float_tensors_and_integer_tensors_index():
    x = _f64([10.0, 20.0, 30.0])
    picked = x[nnlab.tensor([2, 0, 2])]  # float32 by default: whole numbers are accepted
    picked.sum().backward()
    assert picked.data.tolist() == [30.0, 10.0, 30.0] and x.grad.tolist() == [1.0, 0.0, 2.0]
    assert x[nnlab.tensor([1], dtype=np.int64)].data.tolist() == [20.0]
    assert x[nnlab.tensor([True, False, True], dtype=bool)].data.tolist() == [10.0, 30.0]
    m = nnlab.tensor(np.arange(6.0).reshape(2, 3))
    assert m[nnlab.tensor([1, 0]), nnlab.tensor([2, 2])].data.tolist() == [5.0, 2.0]
    with pytest.raises(IndexError, match="whole numbers, got 0.5"):
        x[nnlab.tensor([0.5])]


def test_a_list_of_index_tensors_is_one_index_array_as_numpy():
    """The documented difference from PyTorch: x[[i, j]] is x[np.array([i, j])], not x[i, j]."""
    m = nnlab.tensor(np.arange(6.0).reshape(2, 3))
    i = nnlab.tensor([0, 1])
    assert m[[i, i]].shape == (2, 2, 3) == m.data[[np.array([0, 1])] * 2].shape


def test_dropout_probability_is_keyword_only():
    """nn.Dropout(0.2) meant keep 0.2 while torch.nn.Dropout(0.2) drops 20 %: a positional number is an error."""
    with pytest.raises(ConfigError, match="keep=.*rate="):
        nn.Dropout(0.2)
    assert nn.Dropout(rate=0.2).keep == pytest.approx(0.8) and nn.Dropout(keep=0.2).keep == 0.2
    layer = nn.Dropout(rate=0.25, rng=0)
    kept = (layer(nnlab.tensor(np.ones(20_000))).numpy() > 0).mean()
    assert kept == pytest.approx(0.75, abs=0.02)


@pytest.mark.parametrize("alpha", [2.0, 1.0, -0.1])
def test_leaky_relu_alpha_must_be_in_zero_one(alpha):
    for make in (lambda: nn.LeakyReLU(alpha), lambda: F.leaky_relu(nnlab.tensor([1.0]), alpha)):
        with pytest.raises(ConfigError, match=r"alpha must be a finite number >= 0 and < 1"):
            make()


def test_every_cli_activation_name_builds_a_module_that_round_trips():
    from nnlab.cli.build import activation_module
    from nnlab.cli.config import ACTIVATIONS

    x = nnlab.tensor(np.linspace(-4, 4, 12).reshape(3, 4))
    for name in ACTIVATIONS:
        if name == "maxout":
            continue
        settings = {"activation": name, "activation_alpha": None, "prelu_per_channel": False, "activation_args": {}}
        module = activation_module(type("M", (), settings)(), 4).eval()  # eval: RReLU's fixed slope
        again = nn.from_spec(nn.to_spec(module)).eval()
        np.testing.assert_array_equal(again(x).numpy(), module(x).numpy(), err_msg=name)


# Found by a differential run against PyTorch (stop 24): empty batches, hardswish's kinks, ties of the inf-norm.
def _torch_pair(values):
    torch = pytest.importorskip("torch")
    return _f64(values), torch.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("ours, theirs", [
    (lambda x: x.max(axis=1), lambda t, torch: t.amax(1)),
    (lambda x: x.min(axis=1, keepdims=True), lambda t, torch: t.amin(1, keepdim=True)),
    (lambda x: x.prod(axis=0), lambda t, torch: t.prod(0)),
    (lambda x: x.prod(axis=1), lambda t, torch: t.prod(1)),
    (lambda x: F.logsumexp(x, axis=0), lambda t, torch: torch.logsumexp(t, 0)),
    (lambda x: F.logsumexp(x, axis=1), lambda t, torch: torch.logsumexp(t, 1)),
])
def test_reductions_of_an_empty_batch_match_torch(ours, theirs):
    import torch

    x, t = _torch_pair(np.zeros((0, 3)))
    out, ref = ours(x), theirs(t, torch)
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    assert x.grad.shape == tuple(t.grad.shape) == (0, 3)


def test_cross_entropy_of_an_empty_batch_is_nan_as_torch():
    x = _f64(np.zeros((0, 3)))
    loss = losses.cross_entropy(x, np.zeros(0, dtype=int))
    assert np.isnan(loss.item())
    loss.backward()
    assert x.grad.shape == (0, 3)
    assert losses.cross_entropy(x, np.zeros(0, dtype=int), reduction="sum").item() == 0.0


def test_hardswish_gradient_at_its_kinks_matches_torch():
    torch = pytest.importorskip("torch")
    values = [-3.0, 3.0, -3.0001, 2.9999, 0.0]
    x, t = _torch_pair(values)
    F.hardswish(x).sum().backward()
    torch.nn.functional.hardswish(t).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("values, axis", [([3.0, -3.0, 1.0], None), ([[1.0, -2.0], [2.0, 2.0]], 0),
                                          ([[1.0, -2.0], [2.0, 2.0]], -1), ([0.0, 0.0], None)])
def test_inf_norm_shares_a_tie_as_torch(values, axis):
    torch = pytest.importorskip("torch")
    x, t = _torch_pair(values)
    out = x.norm(ord=np.inf, axis=axis)
    ref = torch.linalg.vector_norm(t, ord=float("inf"), dim=axis)
    weights = np.arange(1.0, 1.0 + out.data.size).reshape(out.data.shape)
    (out * nnlab.tensor(weights, dtype=np.float64)).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(out.data, ref.detach().numpy())
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12)


# Found by an outside probe (P3), each against PyTorch: std's zero-variance slices, NaN in maximum/minimum,
# the exponent's gradient at base 0.
@pytest.mark.parametrize("values, axis, kw", [([[1.0, 2.0], [1.0, 5.0]], 0, {}), ([[1.0, 1.0], [2.0, 3.0]], 1, {}),
                                              ([2.0, 2.0], None, {"correction": 0}), ([[4.0, 4.0]], 1, {"keepdims": True})])
def test_std_of_a_zero_variance_slice_has_gradient_zero_as_torch(values, axis, kw):
    torch = pytest.importorskip("torch")
    x, t = _torch_pair(values)
    out = x.std(axis=axis, **kw)
    ref = t.std(dim=axis, correction=kw.get("correction", 1), keepdim=kw.get("keepdims", False))
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(out.data, ref.detach().numpy())
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@pytest.mark.parametrize("a, b", [([np.nan, 1.0, 2.0, 0.0], [1.0, np.nan, 2.0, 5.0]), ([np.nan], [np.nan])])
def test_maximum_and_minimum_propagate_nan_from_either_side_as_torch(name, a, b):
    torch = pytest.importorskip("torch")
    (x, tx), (y, ty) = _torch_pair(a), _torch_pair(b)
    out, ref = getattr(nnlab, name)(x, y), getattr(torch, name)(tx, ty)
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    out.sum().backward()
    ref.sum().backward()
    tie = np.asarray(a) == np.asarray(b)  # nnlab's documented rule: a tie's gradient goes to a (torch halves it)
    np.testing.assert_array_equal(x.grad, np.where(tie, 1.0, tx.grad.numpy()))
    np.testing.assert_array_equal(y.grad, np.where(tie, 0.0, ty.grad.numpy()))


@pytest.mark.parametrize("tensor_base", [False, True])
@pytest.mark.parametrize("base", [0.0, 2.0])
def test_power_exponent_gradient_at_base_zero_matches_torch(base, tensor_base):
    torch = pytest.importorskip("torch")
    x, t = _torch_pair([-1.0, 0.0, 1.0, 2.0])
    left = nnlab.tensor(np.full(4, base), dtype=np.float64) if tensor_base else base
    with np.errstate(divide="ignore"):
        (left**x).sum().backward()
    (base**t).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12)
